import Logging
import OpsLogCodec
@_spi(LogStrategy) import OpsLogEngine
import OpsLogStorage
import OpsLogTypes
import Synchronization

/// One compaction by an agent, from its `.compact-lock` to its release (see
/// ``CheckpointSession`` for the order of the steps).
///
/// - The cut records how far every other WAL was read: the snapshot includes those lines.
/// - Before the switch, each WAL the manifest still names gets its `.through` marker (an
///   agent that finds its WAL retired must find it); the new manifest names only this
///   agent's new WAL.
/// - After the switch, this agent follows every WAL it retired from where it read it (their
///   agents may append before they notice), and the markers of WALs retired before, whose
///   stranded lines the snapshot folded in, move past them: after and not before, since a
///   marker moved before a switch that never happened (a crash) would hide lines no current
///   snapshot holds.
/// - The end releases `.compact-lock`.
final class AgentCheckpoint: CheckpointSession {
  struct State: Sendable {
    /// The other WALs' offsets at the cut.
    var cutOffsets: [String: Int] = [:]
    /// Of those, the retired ones, with their marker at the cut.
    var cutMarkers: [String: Int] = [:]
    /// Retired WALs whose stranded lines the snapshot holds: their new marker.
    var folds: [String: Int] = [:]
  }

  let log: AgentLog
  let logger: Logger
  let state = Mutex(State())

  init(log: AgentLog, logger: Logger) {
    self.log = log
    self.logger = logger
  }

  func cut() {
    let (offsets, markers) = log.state.withLock { state in
      ((state.cursor?.positions ?? [:]).mapValues(\.offset), state.markers)
    }
    state.withLock { state in
      state.cutOffsets = offsets
      state.cutMarkers = markers
    }
  }

  func writeManifest(_ manifest: ManifestInfo, newWALPath: String, backend: any StorageBackend) async throws
    -> ManifestInfo
  {
    let (cut, retired) = state.withLock { ($0.cutOffsets, $0.cutMarkers) }
    for (path, through) in cut.sorted(by: { $0.key < $1.key }) where retired[path] == nil {
      try await log.writeThroughMarker(path, through: through, backend: backend)
    }
    var manifest = manifest
    manifest.activeOps = newWALPath
    manifest.activeAgentOps = [(agent: log.agentId, path: newWALPath)]
    try await backend.writeManifest(manifest)
    let token = try? await backend.manifestChangeToken()
    let newest = AgentWALName(path: newWALPath)?.milliseconds
    let agentId = log.agentId
    let generation = LogGeneration(manifest)
    let folds = log.state.withLock { state -> [String: Int] in
      state.ownPath = newWALPath
      // Every WAL followed so far is retired now, its marker at what the snapshot includes;
      // lines after the marker count as stranded.
      var markers: [String: Int] = [:]
      var folds: [String: Int] = [:]
      for path in (state.cursor?.positions ?? [:]).keys {
        let through = cut[path] ?? retired[path] ?? 0
        markers[path] = through
        if let marker = retired[path], through > marker { folds[path] = through }
      }
      state.markers = markers
      state.registeredNewest = newest.map { [agentId: $0] } ?? [:]
      state.token = token
      // The follower's cursor moves to the new generation, every WAL it followed with it.
      state.cursor?.generation = generation
      return folds
    }
    state.withLock { $0.folds = folds }
    return manifest
  }

  func finish(backend: any StorageBackend) async {
    let folds = state.withLock { state -> [String: Int] in
      defer { state.folds = [:] }
      return state.folds
    }
    if !folds.isEmpty { await log.writeFoldMarkers(folds, backend: backend, logger: logger) }
    await log.compactLock.release(backend)
  }
}
