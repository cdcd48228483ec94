import Logging
import OpsLogCodec
@_spi(LogStrategy) import OpsLogEngine
import OpsLogStorage
import OpsLogTypes

/// The name of an agent's WAL file, `ops/agent-<agentId>-<ms>.jsonl`.
struct AgentWALName: Sendable, Hashable {
  var path: String
  var agent: String
  var milliseconds: Int64

  /// `nil` for any other file (a single writer's WAL, a temporary file, a marker).
  init?(path: String) {
    let prefix = "ops/agent-"
    let suffix = ".jsonl"
    guard path.hasPrefix(prefix), path.hasSuffix(suffix) else { return nil }
    let middle = path.dropFirst(prefix.count).dropLast(suffix.count)
    // The milliseconds follow the last dash: an agent id may hold dashes and digits itself.
    guard let dash = middle.lastIndex(of: "-"), dash != middle.startIndex else { return nil }
    let digits = middle[middle.index(after: dash)...]
    guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
      let milliseconds = Int64(digits)
    else { return nil }
    self.path = path
    self.agent = String(middle[..<dash])
    self.milliseconds = milliseconds
  }
}

/// A WAL that the manifest no longer names but that still belongs to the state (Docs/FORMAT.md,
/// `.through`): the lines after its marker were acknowledged to their agent and no snapshot
/// holds them.
struct RetiredWAL: Sendable {
  var path: String
  /// The marker's offset: the snapshot includes the WAL through here.
  var through: Int
  /// The complete lines after `through`.
  var read: WALReadResult
  /// Whether to keep reading it: it has stranded lines, or it is its agent's newest WAL, so
  /// that agent may still append to it before it notices the compaction that retired it.
  var follow: Bool
}

extension AgentLog {
  /// The offset a `.through` marker holds, or `nil` when it holds no number.
  static func throughOffset(_ marker: [UInt8]) -> Int? {
    let digits = marker.filter { $0 >= 0x30 && $0 <= 0x39 }
    guard !digits.isEmpty else { return nil }
    return Int(String(decoding: digits, as: UTF8.self))
  }

  /// Every retired agent WAL with a `.through` marker that has lines after its marker, or that
  /// its agent may still append to; `registered` are the WALs the manifest names.
  ///
  /// Such lines are part of the store until they are carried into a registered WAL or a
  /// compaction folds them in: every load applies them after the snapshot, merged with the
  /// registered WALs' lines by (clock, agent id), and follows their WAL from there. A WAL
  /// without a marker was retired by a compactor that writes none (opslog for Node) and counts
  /// as wholly included, as it always has.
  ///
  /// - Parameter includingOwn: whether this agent's own retired WALs count; a writable agent
  ///   carries its own stranded lines into its WAL instead, so that undo cuts the right file.
  /// - Complexity: one listing of `ops/`, and one marker read for each retired WAL that has
  ///   a marker.
  func retiredWALs(registered: Set<String>, includingOwn: Bool, backend: any StorageBackend, logger: Logger)
    async throws -> [RetiredWAL]
  {
    let names = try await backend.list("ops")
    let markerSuffix = ".through"
    let marked = Set(
      names.filter { $0.hasSuffix(".jsonl" + markerSuffix) }.map { "ops/" + $0.dropLast(markerSuffix.count) })
    let files = names.compactMap { AgentWALName(path: "ops/" + $0) }
    var newest: [String: Int64] = [:]
    for file in files { newest[file.agent] = max(newest[file.agent] ?? .min, file.milliseconds) }
    var retired: [RetiredWAL] = []
    for file in files where !registered.contains(file.path) && marked.contains(file.path) {
      if !includingOwn && file.agent == agentId { continue }
      guard let marker = try await backend.read(file.path + markerSuffix), let through = Self.throughOffset(marker),
        let size = try await backend.size(of: file.path)
      else { continue }
      let isNewest = newest[file.agent] == file.milliseconds
      if size > through {
        let read = try await backend.readWAL(file.path, from: through, logger: logger)
        if !read.lines.isEmpty {
          logger.info(
            "applying writes that a compaction missed and no agent has carried yet",
            metadata: ["path": "\(file.path)", "lines": "\(read.lines.count)"])
        }
        retired.append(RetiredWAL(path: file.path, through: through, read: read, follow: true))
      } else if isNewest && size == through {
        let empty = try await backend.readWAL(file.path, from: through, logger: logger)
        retired.append(RetiredWAL(path: file.path, through: through, read: empty, follow: true))
      }
    }
    return retired
  }

  /// Writes, after a compaction's manifest switch, the markers of the retired WALs whose
  /// stranded lines its snapshot folded in. After the switch and not before: a marker moved
  /// before a switch that never happened (a crash) would hide lines no current snapshot
  /// holds. A marker never moves back.
  func writeFoldMarkers(_ folds: [String: Int], backend: any StorageBackend, logger: Logger) async {
    for (path, through) in folds.sorted(by: { $0.key < $1.key }) {
      do {
        let current = try await backend.read(path + ".through").flatMap(Self.throughOffset) ?? 0
        if through > current { try await writeThroughMarker(path, through: through, backend: backend) }
      } catch {
        // The lines stay stranded: still applied by every load, folded by the next compaction.
        logger.warning(
          "could not record that a compaction folded in stranded writes",
          metadata: ["path": "\(path)", "error": "\(error)"])
      }
    }
  }
}
