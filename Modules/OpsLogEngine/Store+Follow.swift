import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

extension Store {
  // MARK: - Following a writer in another process

  /// Reads the operations another process appended since the last call and applies them,
  /// returning them oldest first.
  ///
  /// Only new bytes are read. A line the writer has only half written is read again once
  /// it is complete, never skipped for good. When the writer checkpoints to a new WAL, the
  /// rest of the old WAL is read first and the operations the checkpoint carried over into
  /// the new one are recognised, so nothing is lost or returned twice. A checkpoint that
  /// archived records reloads the snapshot.
  ///
  /// A writable single-writer store holds the lock, so nobody else appends: it returns `[]`.
  /// - Throws: ``OpsLogError/closed``; the reads' ``OpsLogError/io(path:errno:reason:)``;
  ///   ``OpsLogError/corrupted(path:reason:)`` for a record that does not decode or a
  ///   damaged snapshot or manifest met while reloading. Malformed lines are skipped with a
  ///   warning, as on open.
  @discardableResult
  public func tail() async throws -> [LogOperation<Record>] {
    try state.withLock { state in if state.isClosed || state.isClosing { throw OpsLogError.closed } }
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    if let merged = try await followOtherWriters() { return merged }
    guard options.readOnly else { return [] }
    var collected: [LogOperation<Record>] = []
    let (walPath, offset, token, archiveSegments) = state.withLock {
      ($0.walPath, $0.walLength, $0.manifestToken, $0.manifest.archiveSegments)
    }
    try await follow(walPath, from: offset, into: &collected)
    let currentToken = try await backend.manifestChangeToken()
    guard currentToken != token, let manifest = try await backend.readManifest() else { return collected }
    if manifest.activeOps == walPath && manifest.currentSnapshot == state.withLock({ $0.manifest.currentSnapshot }) {
      state.withLock { $0.manifestToken = currentToken }
      return collected
    }
    let (version, archivedRecords) = state.withLock { ($0.manifest.version, $0.manifest.stats.archivedRecords) }
    if manifest.archiveSegments != archiveSegments || manifest.stats.archivedRecords != archivedRecords
      || manifest.version != version
    {
      // Archived records left the state without WAL operations: only the snapshot knows.
      try await reload(manifest, token: currentToken)
      return collected
    }
    // The writer checkpointed: finish the old WAL, then continue in the new one, skipping
    // the lines the checkpoint carried over.
    if manifest.activeOps != walPath {
      let rest = state.withLock { $0.walLength }
      if (try? await backend.size(of: walPath)) != nil {
        try await follow(walPath, from: rest, into: &collected)
      }
      let seen = state.withLock { $0.tailLineHashes }
      let wal = try await backend.readWAL(manifest.activeOps)
      let newHashes = wal.lines.map(\.hash)
      var carried = min(seen.count, newHashes.count)
      while carried > 0 && Array(seen.suffix(carried)) != Array(newHashes.prefix(carried)) { carried -= 1 }
      // The history since the checkpoint is the new WAL: the entries of the lines it carried
      // over (the last ones read from the old WAL), then those of its fresh lines.
      state.withLock { state in
        state.journal = ChunkedArray(state.journal.suffix(min(carried, state.journal.count)))
      }
      collected += try applyMerged(Array(wal.lines.dropFirst(carried)), path: manifest.activeOps)
      state.withLock { state in
        state.walPath = manifest.activeOps
        state.walLength = wal.consumedThrough
        state.tailLineHashes = newHashes
        state.operationsSinceCheckpoint = wal.lines.count
      }
    }
    state.withLock { state in
      state.manifest = manifest
      state.manifestToken = currentToken
    }
    return collected
  }

  // MARK: - Following through the log strategy (other agents)

  /// Polls the strategy for other writers' operations and applies them last-writer-wins;
  /// `nil` when the strategy leaves following to ``tail()``'s single-writer path. The caller
  /// holds the mutation lock.
  func followOtherWriters() async throws -> [LogOperation<Record>]? {
    guard let poll = try await strategy.poll(backend: backend, options: options, logger: logger) else { return nil }
    // Own queued lines go first, so that merged entries never precede them in the journal
    // (a failed write rolls back the journal from its end).
    try await writeQueued()
    switch poll {
    case .lines(let lines):
      return try applyMerged(lines, path: "ops")
    case .reload(let load):
      try await reloadState(load)
      return []
    }
  }

  /// Called under the mutation lock before a mutation: the strategy may have found this
  /// store's WAL retired, and then the state is loaded afresh before anything is appended.
  @usableFromInline
  func checkLogBeforeMutation() async throws {
    try state.withLock { state in if state.isClosed || state.isClosing { throw OpsLogError.closed } }
    guard let load = try await strategy.checkBeforeMutation(backend: backend, options: options, logger: logger) else {
      return
    }
    try await writeQueued()
    try await reloadState(load)
  }

  /// Applies other writers' operations, read from `path`, in order, and returns them. One
  /// whose stamp is lower than the key's current winner (merged agent WALs) loses and
  /// changes nothing, so the state equals the deterministic merge; unstamped operations (a
  /// single writer's WAL) all apply.
  func applyMerged(_ lines: [WALLine], path: String) throws -> [LogOperation<Record>] {
    guard !lines.isEmpty else { return [] }
    let operations = try lines.map { line in try Self.decodeOperation(line.encoded, path: path, decoder: decoder) }
    state.withLock { state in
      for (operation, line) in zip(operations, lines) {
        let stamp = OperationStamp(of: operation)
        let current = state.table.get(operation.id)
        if let stamp, let winner = state.winningStamps[ExactKey(operation.id)], stamp < winner {
          state.journal.append(
            JournalEntry(
              operation: operation, previousRecord: current, slot: -1, lineLength: line.length, offset: line.offset,
              unitSize: line.unitSize, sequence: 0, applied: false))
          state.operationsSinceCheckpoint += 1
          continue
        }
        guard let (previous, slot) = state.table.apply(operation) else {
          state.journal.append(
            JournalEntry(
              operation: operation, previousRecord: nil, slot: -1, lineLength: line.length, offset: line.offset,
              unitSize: line.unitSize, sequence: 0, applied: false))
          state.operationsSinceCheckpoint += 1
          continue
        }
        if let stamp { state.winningStamps[ExactKey(operation.id)] = stamp }
        state.journal.append(
          JournalEntry(
            operation: operation, previousRecord: previous, slot: slot, lineLength: line.length, offset: line.offset,
            unitSize: line.unitSize, sequence: 0))
        state.operationsSinceCheckpoint += 1
      }
    }
    return operations
  }

  /// Replaces the whole state with a strategy's fresh load (a new base after another
  /// writer's compaction).
  ///
  /// `token` is the manifest's change token the load is based on; only a store that follows
  /// a single writer (``tail()``) uses it.
  func reloadState(_ load: LogLoad, token: FileChangeToken? = nil) async throws {
    var load = load
    let lineHashes = followsSingleWriter ? load.lines.map(\.hash) : []
    let loader = try await StateLoader<Record>.load(&load, options: options, backend: backend)
    try state.withLock { state in
      try loader.finish(into: &state)
      state.manifest = load.manifest
      state.manifestToken = token
      state.walPath = load.appendPath
      state.walLength = load.appendLength
      state.tailLineHashes = lineHashes
      state.journalFloor = 0
      // Anything that read the state before an `await` must not act on the one replaced.
      state.generation += 1
    }
  }

  /// Applies what another process wrote since the last call; see ``tail()``, whose errors it
  /// throws.
  public func refresh() async throws {
    try await tail()
  }

  /// Calls ``tail()`` every `interval` and yields each non-empty result.
  ///
  /// The stream finishes (without an error) when its task is cancelled or the store is
  /// closed, and with an error when a read fails.
  public func watch(interval: Duration = .seconds(1)) -> AsyncThrowingStream<[LogOperation<Record>], any Error> {
    let (stream, continuation) = AsyncThrowingStream.makeStream(of: [LogOperation<Record>].self)
    let watcherID: Int? = state.withLock { state in
      if state.isClosed || state.isClosing { return nil }
      let id = state.nextWatcherID
      state.nextWatcherID += 1
      state.watchers[id] = continuation
      return id
    }
    guard let watcherID else {
      continuation.finish()
      return stream
    }
    let task = Task(executorPreference: globalConcurrentExecutor) { [weak self] in
      while !Task.isCancelled {
        guard let store = self else { break }
        do {
          let operations = try await store.tail()
          if !operations.isEmpty { continuation.yield(operations) }
        } catch OpsLogError.closed {
          break
        } catch {
          continuation.finish(throwing: error)
          return
        }
        do { try await Task.sleep(for: interval) } catch { break }
      }
      continuation.finish()
    }
    continuation.onTermination = { [weak self] _ in
      task.cancel()
      _ = self?.state.withLock { $0.watchers.removeValue(forKey: watcherID) }
    }
    return stream
  }

  /// Reads complete lines of `path` from `offset`, applies them, and advances the tail.
  func follow(_ path: String, from offset: Int, into collected: inout [LogOperation<Record>]) async throws {
    let wal = try await backend.readWAL(path, from: offset, logger: logger)
    collected += try applyMerged(wal.lines, path: path)
    state.withLock { state in
      state.walLength = wal.consumedThrough
      state.tailLineHashes.append(contentsOf: wal.lines.map(\.hash))
    }
  }

  /// Loads the state afresh from `manifest`'s snapshot and WAL.
  func reload(_ manifest: ManifestInfo, token: FileChangeToken?) async throws {
    let wal = try await backend.readWAL(manifest.activeOps, logger: logger)
    let load = LogLoad(
      manifest: manifest, lines: wal.lines, appendPath: manifest.activeOps, appendLength: wal.consumedThrough,
      malformedLines: wal.malformedLines)
    try await reloadState(load, token: token)
  }

  // MARK: - Streaming reads

  /// The records of the current snapshot file, streamed from disk in order without loading
  /// the file (operations in the WAL are not applied). Pull-driven: a slow consumer holds the
  /// reading back instead of letting records pile up in memory.
  ///
  /// The file is the one the manifest names at the first `next()`, not at this call. The
  /// stream throws ``OpsLogError/closed`` when it has to read after the store is closed,
  /// ``OpsLogError/corrupted(path:reason:)`` for damage or a record that does not decode, and
  /// ``OpsLogError/io(path:errno:reason:)`` when the file cannot be read (for example, removed
  /// by a checkpoint under ``StoreOptions/retainedGenerations``).
  public func streamSnapshot() -> AsyncThrowingStream<(id: String, record: Record), any Error> {
    let cursor = SnapshotCursor<Record>(store: self)
    return AsyncThrowingStream { try await cursor.next() }
  }

  /// The operations of the active WAL file, streamed from disk oldest first; with
  /// `timestamp`, only those later than it. Malformed lines are skipped, as on open.
  ///
  /// The file is the store's WAL at the first `next()`; lines appended while streaming may
  /// or may not be included. Errors as for ``streamSnapshot()``.
  public func walOperations(since timestamp: String? = nil) -> AsyncThrowingStream<LogOperation<Record>, any Error> {
    let cursor = WALCursor<Record>(store: self, since: timestamp)
    return AsyncThrowingStream { try await cursor.next() }
  }
}

/// Pulls snapshot records chunk by chunk for ``Store/streamSnapshot()``.
final class SnapshotCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var path: String? = nil
    var reader: SnapshotReader? = nil
    var offset = 0
    var buffered: [(id: String, record: Record)] = []
    var position = 0
    var finished = false
  }
  let store: Store<Record>
  let state = Mutex(State())
  static var chunkSize: Int { 1 << 20 }

  init(store: Store<Record>) { self.store = store }

  func next() async throws -> (id: String, record: Record)? {
    while true {
      let (element, done, start) = try state.withLock {
        state -> ((id: String, record: Record)?, Bool, (String, Int)?) in
        if state.position < state.buffered.count {
          defer { state.position += 1 }
          return (state.buffered[state.position], false, nil)
        }
        if state.finished { return (nil, true, nil) }
        if state.path == nil {
          let path = try store.read { $0.manifest.currentSnapshot }
          state.path = path
          var reader = SnapshotReader(path: path)
          reader.validatesRecordData = false  // the strict decoder below validates each record
          state.reader = reader
        }
        return (nil, false, (state.path!, state.offset))
      }
      if let element { return element }
      if done { return nil }
      guard let (path, offset) = start else { return nil }
      let chunk = try await store.backend.read(path, offset: offset, length: Self.chunkSize)
      let decoder = store.decoder
      try state.withLock { state in
        var records: [(id: String, record: Record)] = []
        var reader = state.reader!
        // Damage and type mismatches are reported as on open: `corrupted`, naming the record.
        let onRecord: (SnapshotRecord) throws -> Void = { record in
          let decoded = try Store<Record>.decodeStored(Record.self, id: record.id, path: path) {
            try decoder.decode(Record.self, from: record.data)
          }
          records.append((record.id, decoded))
        }
        if chunk.isEmpty {
          _ = try reader.finish(onRecord)
          state.finished = true
        } else {
          try reader.consume(chunk, onRecord)
          state.offset += chunk.count
        }
        state.reader = reader
        state.buffered = records
        state.position = 0
      }
    }
  }
}

/// Pulls WAL operations for ``Store/walOperations(since:)``.
final class WALCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var path: String? = nil
    var offset = 0
    var buffered: [LogOperation<Record>] = []
    var position = 0
    var finished = false
  }
  let store: Store<Record>
  let since: String?
  let state = Mutex(State())
  static var windowSize: Int { 1 << 20 }

  init(store: Store<Record>, since: String?) {
    self.store = store
    self.since = since
  }

  func next() async throws -> LogOperation<Record>? {
    while true {
      let (element, done, start) = try state.withLock { state -> (LogOperation<Record>?, Bool, (String, Int)?) in
        if state.position < state.buffered.count {
          defer { state.position += 1 }
          return (state.buffered[state.position], false, nil)
        }
        if state.finished { return (nil, true, nil) }
        if state.path == nil { state.path = try store.read { $0.walPath } }
        return (nil, false, (state.path!, state.offset))
      }
      if let element { return element }
      if done { return nil }
      guard let (path, offset) = start else { return nil }
      // A bounded window at a time: readWAL stops at the last complete line in it, and a
      // window that holds no complete line is widened until it does (or the file ends).
      var window = Self.windowSize
      var wal = try await store.backend.readWAL(path, from: offset, maximumBytes: window, logger: store.logger)
      while wal.consumedThrough == offset && wal.partialTailLength == window {
        window *= 2
        wal = try await store.backend.readWAL(path, from: offset, maximumBytes: window, logger: store.logger)
      }
      let operations = try wal.lines.compactMap { line -> LogOperation<Record>? in
        if let since, line.encoded.timestamp <= since { return nil }
        return try Store<Record>.decodeOperation(line.encoded, path: path, decoder: store.decoder)
      }
      let reachedEnd = wal.consumedThrough == offset
      state.withLock { state in
        state.buffered = operations
        state.position = 0
        state.offset = wal.consumedThrough
        state.finished = reachedEnd
      }
    }
  }
}
