import Dispatch
import Logging
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

/// Why a checkpoint runs; the threshold one is skipped when another got there first.
enum CheckpointReason: Sendable {
  case threshold, explicit, close, migration
  case archive(path: String, count: Int)
}

extension Store {
  /// Writes a new snapshot of the whole state and starts a new, empty WAL, then points the
  /// manifest at both. Waits for a checkpoint already running. Operations before it can no
  /// longer be undone.
  ///
  /// - Throws: ``OpsLogError/unsupported(_:)`` with `skipLoad` (the snapshot would hold only
  ///   what this process wrote), ``OpsLogError/readOnly``, ``OpsLogError/closed``, or the
  ///   write's error, in which case the previous snapshot and WAL stay current.
  public func compact() async throws {
    if options.skipLoad {
      throw OpsLogError.unsupported("compact() needs the whole state, and a skipLoad store loaded none of it")
    }
    try state.withLock { try $0.checkMutable(readOnly: options.readOnly) }
    try await checkpoint(reason: .explicit)
  }

  /// The background checkpoint a write started when the threshold was reached.
  func checkpointInBackground() async {
    do {
      try await checkpoint(reason: .threshold)
    } catch {
      // The WAL still holds everything: nothing is lost, the next checkpoint tries again.
      logger.warning("a background checkpoint failed", metadata: ["error": "\(error)"])
    }
    state.withLock { $0.checkpointRunning = false }
  }

  /// A checkpoint that does not hold writers up while the snapshot is written:
  /// 1. the cut: under the mutation lock, a copy of the state (copy-on-write, O(1)) and the
  ///    WAL length it corresponds to;
  /// 2. the snapshot is written from that copy while writes go on into the current WAL;
  /// 3. under the mutation lock again, the WAL lines written after the cut are carried into
  ///    a new WAL, and the manifest is replaced to name the new snapshot and WAL.
  /// A crash at any point leaves the old manifest, whose snapshot and WAL hold everything, or
  /// the new one.
  func checkpoint(reason: CheckpointReason) async throws {
    await checkpointLock.lock()
    defer { checkpointLock.unlock() }
    try await checkpointHoldingLock(reason: reason)
  }

  /// ``checkpoint(reason:)`` for a caller that holds `checkpointLock` already.
  func checkpointHoldingLock(reason: CheckpointReason) async throws {
    // Another writer compacting at the same time makes this one unnecessary.
    guard let session = try await strategy.beginCheckpoint(backend: backend, logger: logger) else { return }
    do {
      try await checkpointAsSoleCompactor(reason: reason, session: session)
    } catch {
      await session.finish(backend: backend)
      throw error
    }
    await session.finish(backend: backend)
  }

  func checkpointAsSoleCompactor(reason: CheckpointReason, session: any CheckpointSession) async throws {
    // 1. The cut.
    await mutationLock.lock()
    let cut: Cut?
    do {
      defer { mutationLock.unlock() }
      // Every queued line must be counted in the cut's WAL length: write them first.
      try await writeQueued()
      // Other writers' operations not seen yet belong in the snapshot too.
      _ = try await followOtherWriters()
      session.cut()
      cut = try state.withLock { state -> Cut? in
        if state.isClosed { throw OpsLogError.closed }
        if case .threshold = reason, state.operationsSinceCheckpoint < options.checkpointThreshold { return nil }
        if case .close = reason, state.operationsSinceCheckpoint == 0, state.manifest.version == options.version {
          return nil
        }
        if case .archive(_, let count) = reason {
          state.manifest.stats.archivedRecords += count
        }
        if state.table.holeCount > state.table.count { state.table.compact() }
        state.journal.removeAll(keepingCapacity: true)
        state.winningStamps = [:]
        state.operationsSinceCheckpoint = 0
        return Cut(table: state.table, walPath: state.walPath, walLength: state.walLength, manifest: state.manifest)
      }
    }
    guard let cut else { return }

    // 2. The snapshot, from the copy.
    let milliseconds = nextFileMilliseconds(after: cut.manifest)
    let timestamp = ISOTime.string(millisecondsSince1970: ISOTime.nowMilliseconds())
    let snapshotPath =
      "snapshots/"
      + SnapshotFormat.fileName(timestampMilliseconds: milliseconds, compression: options.snapshotCompression)
    let walPath = strategy.newWALPath(milliseconds: milliseconds)
    do {
      try await writeSnapshot(cut.table, to: snapshotPath, timestamp: timestamp)
    } catch {
      try? await backend.remove(snapshotPath)
      throw error
    }

    // 3. Carry the lines written since the cut into the new WAL and switch the manifest.
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    do {
      try await writeQueued()
      let (currentLength, carriedCount, archived) = state.withLock {
        ($0.walLength, $0.operationsSinceCheckpoint, $0.manifest.stats.archivedRecords)
      }
      var carried: [UInt8] = []
      if currentLength > cut.walLength {
        carried = try await backend.read(cut.walPath, offset: cut.walLength, length: currentLength - cut.walLength)
      }
      try await backend.create(walPath, durability: options.durability)
      if !carried.isEmpty { try await backend.append(walPath, carried, durability: options.durability) }
      var manifest = cut.manifest
      manifest.version = options.version
      manifest.currentSnapshot = snapshotPath
      manifest.activeOps = walPath
      if case .archive(let path, _) = reason, !manifest.archiveSegments.contains(path) {
        manifest.archiveSegments.append(path)
      }
      manifest.stats.activeRecords = cut.table.count
      manifest.stats.archivedRecords = archived
      manifest.stats.opsCount = carriedCount
      manifest.stats.lastCheckpoint = timestamp
      manifest = try await session.writeManifest(manifest, newWALPath: walPath, backend: backend)
      let retired = state.withLock { state -> [String] in
        state.manifest = manifest
        state.walPath = walPath
        state.walLength = carried.count
        state.retiredGenerations.append([cut.manifest.currentSnapshot, cut.walPath])
        guard let keep = options.retainedGenerations, state.retiredGenerations.count > keep else { return [] }
        let expired = state.retiredGenerations.prefix(state.retiredGenerations.count - keep)
        state.retiredGenerations.removeFirst(expired.count)
        return expired.flatMap { $0 }
      }
      for path in retired { try? await backend.remove(path) }
    } catch {
      try? await backend.remove(walPath)
      try? await backend.remove(snapshotPath)
      throw error
    }
  }

  struct Cut: Sendable {
    var table: RecordTable<Record>
    var walPath: String
    var walLength: Int
    var manifest: ManifestInfo
  }

  /// File names carry milliseconds; two checkpoints in one millisecond must not collide.
  func nextFileMilliseconds(after manifest: ManifestInfo) -> Int64 {
    var milliseconds = ISOTime.nowMilliseconds()
    for path in [manifest.currentSnapshot, manifest.activeOps] {
      let digits = path.split(separator: "/").last.map { name in
        name.drop { !$0.isNumber }.prefix { $0.isNumber }
      }
      if let digits, let previous = Int64(digits), previous >= milliseconds { milliseconds = previous + 1 }
    }
    return milliseconds
  }

  /// Streams the snapshot: one header line, then one line per record in order, encoded in
  /// chunks on the backend's I/O thread so the whole file is never one buffer. Each chunk's
  /// records are encoded in two halves at once (the machines this runs on have two cores and
  /// encoding is the cost of a checkpoint), then joined in order.
  func writeSnapshot(_ table: RecordTable<Record>, to path: String, timestamp: String) async throws {
    let header = SnapshotFormat.headerLine(SnapshotHeader(version: options.version, timestamp: timestamp))
    let encoder = self.encoder
    var slotIndex = 0
    var headerWritten = false
    let slotsPerChunk = 8_192
    try await backend.writeSnapshot(path, compression: options.snapshotCompression) {
      let slots = table.slots
      var chunk: [UInt8] = []
      if !headerWritten {
        chunk = header
        headerWritten = true
      }
      guard slotIndex < slots.count else { return chunk.isEmpty ? nil : chunk }
      let end = min(slots.count, slotIndex + slotsPerChunk)
      let middle = slotIndex + (end - slotIndex) / 2
      let ranges = [slotIndex..<middle, middle..<end]
      slotIndex = end
      let halves = Mutex<[Result<[UInt8], any Error>]>(Array(repeating: .success([]), count: 2))
      DispatchQueue.concurrentPerform(iterations: ranges.count) { part in
        let result = Result { () throws -> [UInt8] in
          var writer = JSONWriter(reservingCapacity: ranges[part].count * 256)
          for index in ranges[part] {
            guard let entry = slots[index] else { continue }
            try SnapshotFormat.writeRecordLine(into: &writer, id: entry.id) {
              try encoder.encode(entry.record, into: &$0)
            }
          }
          return writer.bytes
        }
        halves.withLock { $0[part] = result }
      }
      for half in halves.withLock({ $0 }) { chunk.append(contentsOf: try half.get()) }
      return chunk
    }
  }

  /// Flushes what is buffered, checkpoints when ``StoreOptions/checkpointOnClose`` is set and
  /// operations were written since the last checkpoint, releases the lock and closes the
  /// files. After it, every call throws ``OpsLogError/closed``; closing twice is harmless.
  ///
  /// - Throws: a background write failure not reported yet, or the final write's error; the
  ///   store is closed all the same.
  public func close() async throws {
    let alreadyClosing = state.withLock { state -> Bool in
      if state.isClosing || state.isClosed { return true }
      state.isClosing = true
      return false
    }
    if alreadyClosing { return }
    var firstError: (any Error)? = state.withLock { $0.takeBackgroundError() }
    do {
      try await writeQueued()
      if let error = state.withLock({ $0.takeBackgroundError() }) {
        firstError = firstError ?? error
      }
      if isWritable && !options.skipLoad {
        await mutationLock.lock()
        defer { mutationLock.unlock() }
        try await strategy.willClose(backend: backend, options: options, logger: logger)
      }
      if isWritable && !options.skipLoad && options.checkpointOnClose {
        try await checkpoint(reason: .close)
      }
    } catch {
      firstError = firstError ?? error
    }
    await checkpointLock.lock()
    let watchers = state.withLock { state in
      state.isClosed = true
      let watchers = Array(state.watchers.values)
      state.watchers = [:]
      return watchers
    }
    checkpointLock.unlock()
    for watcher in watchers { watcher.finish() }
    if isWritable && strategy.capabilities.contains(.exclusiveWriter) {
      do { try await backend.releaseLock(".lock") } catch { firstError = firstError ?? error }
    }
    do { try await backend.shutdown() } catch { firstError = firstError ?? error }
    if let firstError { throw firstError }
  }
}
