import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension Store {
  // MARK: - Following a writer in another process

  /// Reads the operations another process appended since the last call and applies them,
  /// returning them oldest first.
  ///
  /// Only new bytes are read. A line the writer has only half written is read again once
  /// it is complete, never skipped for good. When the writer checkpoints to a new WAL, the
  /// rest of the old WAL is read first and the operations the checkpoint carried over into
  /// the new one are recognised, so nothing is lost or returned twice. A checkpoint that
  /// archived records reloads the snapshot, and so does one that replaced a WAL with lines
  /// that could not be read (malformed, or cut short for good, as another implementation's
  /// faulty undo leaves them): its snapshot, not that WAL's replay, is what a fresh open reads.
  ///
  /// A writable single-writer store holds the lock, so nobody else appends: it returns `[]`.
  /// - Complexity: O(bytes the other writers appended since the last call); a reload is
  ///   O(records + WAL operations), as an open.
  /// - Throws: `OpsLogError.closed`; the reads' `OpsLogError.io(path:errno:reason:)`;
  ///   `OpsLogError.corrupted(path:reason:)` for a record that does not decode or a
  ///   damaged snapshot or manifest met while reloading. Malformed lines are skipped with a
  ///   warning, as on open.
  @discardableResult
  public func tail() async throws -> [LogOperation<Record>] {
    try state.withLock { state in if state.isClosed || state.isClosing { throw OpsLogError.closed } }
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    if let merged = try await followOtherWriters() { return merged }
    guard options.readOnly else { return [] }
    return try await followSingleWriter()
  }

  /// One poll of a single writer in another process, from the follower's ``FollowCursor``:
  /// the generation it belongs to (the manifest's snapshot and WAL), the offset of the next
  /// line, and the last line applied. Whatever the cursor cannot account for is never guessed
  /// at:
  /// - a WAL shorter than the offset, or whose last applied line changed, was undone: the
  ///   lines that differ from what was applied are taken back (`.undone`) and the WAL's
  ///   current lines applied;
  /// - a new generation is followed line by line only when it is the direct successor of the
  ///   cursor's (no WAL between the two); the rest of the old WAL is read first, and the
  ///   lines the checkpoint carried over are recognised;
  /// - another generation, a changed archive or version, files no longer there, or a
  ///   replaced WAL that had lines the follower could not read reload the state from the
  ///   current snapshot (`.reloaded`).
  func followSingleWriter() async throws -> [LogOperation<Record>] {
    var collected: [LogOperation<Record>] = []
    let (cursor, token, current) = state.withLock { ($0.followCursor, $0.manifestToken, $0.manifest) }
    guard let cursor else { return [] }
    let currentToken = try await backend.manifestChangeToken()
    var manifest = current
    if currentToken != token {
      guard let read = try await backend.readManifest() else {
        throw OpsLogError.corrupted(path: ManifestCodec.fileName, reason: "the manifest disappeared")
      }
      manifest = read
    }
    if manifest.version > options.version {
      throw OpsLogError.versionTooNew(stored: manifest.version, supported: options.version)
    }
    var successor: ManifestInfo? = nil
    switch cursor.generation.change(to: manifest) {
    case .same:
      break
    case .rebased:
      // Archived records left the state without WAL operations: only the snapshot knows.
      try await reload(manifest, token: currentToken)
      return collected
    case .checkpointed:
      guard try await isDirectSuccessor(of: cursor.generation.activeWAL, next: manifest.activeOps) else {
        try await reload(manifest, token: currentToken)
        return collected
      }
      successor = manifest
    }
    // The rest of the cursor's WAL: final once a checkpoint replaced it.
    guard try await followWAL(from: cursor, into: &collected) else {
      try await reload(manifest, token: currentToken)
      return collected
    }
    if let successor {
      if state.withLock({ $0.followedWALMayDifferFromSnapshot }) {
        logger.warning(
          "the WAL a checkpoint replaced had lines that could not be read; reloading from the new snapshot",
          metadata: ["path": "\(cursor.generation.activeWAL)"])
        try await reload(successor, token: currentToken)
        return collected
      }
      let seen = state.withLock { $0.tailLineHashes }
      let wal = try await backend.readWAL(successor.activeOps, logger: logger)
      let newHashes = wal.lines.map(\.hash)
      var carried = min(seen.count, newHashes.count)
      while carried > 0 && Array(seen.suffix(carried)) != Array(newHashes.prefix(carried)) { carried -= 1 }
      // The history since the checkpoint is the new WAL: the entries of the lines it carried
      // over (the last ones read from the old WAL, now at their new offsets), then those of
      // its fresh lines.
      state.withLock { state in
        var kept = Array(state.journal.suffix(min(carried, state.journal.count)))
        for index in kept.indices { kept[index].offset = wal.lines[index].offset }
        state.journal = ChunkedArray(kept)
        state.operationsSinceCheckpoint = kept.count
        state.walPath = successor.activeOps
      }
      collected += try applyMerged(Array(wal.lines.dropFirst(carried)), path: successor.activeOps)
      state.withLock { state in
        state.follow(to: FollowCursor(generation: successor, after: wal))
        state.tailLineHashes = newHashes
        state.noteFollowedRead(wal, startsGeneration: true)
      }
    }
    state.withLock { state in
      state.manifest = manifest
      state.manifestToken = currentToken
    }
    return collected
  }

  /// Whether `next` is the WAL of the generation right after `previous`'s: single-writer WAL
  /// names carry increasing milliseconds, and a checkpoint never removes the WAL it has just
  /// replaced, so a WAL named between the two means a generation this follower never saw.
  func isDirectSuccessor(of previous: String, next: String) async throws -> Bool {
    func milliseconds(_ path: String) -> Int64? {
      guard path.hasPrefix("ops/ops-"), path.hasSuffix(".jsonl") else { return nil }
      return Int64(path.dropFirst("ops/ops-".count).dropLast(".jsonl".count))
    }
    guard let from = milliseconds(previous), let to = milliseconds(next), from < to else { return false }
    let names = try await backend.listWALFiles()
    let between = names.compactMap(milliseconds).filter { $0 > from && $0 < to }
    return between.isEmpty && names.contains(previous) && names.contains(next)
  }

  /// Reads the cursor's WAL on from the cursor and applies its new complete units, once
  /// ``FollowCursor/check(backend:)`` found the lines applied still there. When the writer
  /// undid some, the ones that differ are taken back (`.undone`) and the file's current lines
  /// applied. Returns `false` when the cursor cannot be reconciled with the file (it is gone,
  /// or the history does not match it): the caller reloads.
  func followWAL(from cursor: FollowCursor, into collected: inout [LogOperation<Record>]) async throws -> Bool {
    let path = cursor.generation.activeWAL
    switch try await cursor.check(path, backend: backend) {
    case .missing:
      return false
    case .intact:
      try await follow(cursor, into: &collected)
      return true
    case .undone:
      break
    }
    // The writer undid lines this follower applied: match the file's lines against the ones
    // applied, take back those after the common prefix, apply the file's from there.
    let wal = try await backend.readWAL(path, logger: logger)
    let matched = state.withLock { state -> Int? in
      guard state.journal.count == state.tailLineHashes.count else { return nil }
      var common = 0
      while common < state.journal.count, common < wal.lines.count,
        state.tailLineHashes[common] == wal.lines[common].hash, state.journal[common].offset == wal.lines[common].offset
      {
        common += 1
      }
      var undone: [LogOperation<Record>] = []
      while state.journal.count > common {
        let entry = state.journal.last!
        if entry.applied { undone.append(entry.undoneOperation) }
        state.takeBackLast()
      }
      state.tailLineHashes.removeLast(state.tailLineHashes.count - common)
      if !undone.isEmpty { state.feed.publish(.undone(undone)) }
      return common
    }
    guard let matched else { return false }
    collected += try applyMerged(Array(wal.lines.dropFirst(matched)), path: path)
    var next = cursor
    next.follow(path, at: WALPosition(after: wal))
    state.withLock { state in
      state.follow(to: next)
      state.tailLineHashes.append(contentsOf: wal.lines.dropFirst(matched).map(\.hash))
      state.noteFollowedRead(wal)
    }
    return true
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
    let decodedOperations = try lines.map { line in
      try Self.decodeOperationNotingUnknownKeys(line.encoded, path: path, decoder: decoder)
    }
    let operations = decodedOperations.map(\.operation)
    state.withLock { state in
      var applied: [LogOperation<Record>] = []
      defer { if !applied.isEmpty { state.feed.publish(.applied(applied)) } }
      for (decoded, line) in zip(decodedOperations, lines) {
        let operation = decoded.operation
        let current = state.table.get(operation.id)
        if !state.merge.admits(operation) {
          state.journal.append(
            JournalEntry(
              operation: operation, previousRecord: current, slot: -1, lineLength: line.length, offset: line.offset,
              unitSize: line.unitSize, sequence: 0, applied: false))
          state.operationsSinceCheckpoint += 1
          continue
        }
        var previous: Record? = nil
        guard let slot = state.table.apply(operation, previous: &previous) else {
          state.merge.took(operation)
          state.journal.append(
            JournalEntry(
              operation: operation, previousRecord: nil, slot: -1, lineLength: line.length, offset: line.offset,
              unitSize: line.unitSize, sequence: 0, applied: false))
          state.operationsSinceCheckpoint += 1
          continue
        }
        state.merge.took(operation)
        let storedBefore = StoredForm.note(operation, dataForm: decoded.dataForm, in: &state.storedForms)
        state.journal.append(
          JournalEntry(
            operation: operation, previousRecord: consume previous, slot: slot, lineLength: line.length,
            offset: line.offset, unitSize: line.unitSize, sequence: 0, storedBefore: storedBefore))
        state.operationsSinceCheckpoint += 1
        if !state.feed.isEmpty { applied.append(operation) }
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
    let cursor = followsSingleWriter ? FollowCursor(loadedFrom: load) : nil
    let loader = try await StateLoader<Record>.load(&load, options: options, backend: backend)
    try state.withLock { state in
      try loader.finish(into: &state)
      state.manifest = load.manifest
      state.manifestToken = token
      state.walPath = load.appendPath
      state.walLength = load.appendLength
      state.tailLineHashes = lineHashes
      if let cursor { state.follow(to: cursor) }
      state.noteFollowedLoad(load)
      state.journalFloor = 0
      state.feed.publish(.reloaded)
      // Anything that read the state before an `await` must not act on the one replaced.
      state.generation += 1
    }
  }

  /// Applies what another process wrote since the last call; see ``tail()``, whose errors it
  /// throws.
  ///
  /// - Complexity: as ``tail()``.
  public func refresh() async throws {
    try await tail()
  }

  /// The operations applied to the state, in batches as they were applied: this store's own
  /// writes as they happen, and what ``tail()`` finds every `interval` when the store follows
  /// other writers (a read-only store, or an agent). Built on ``changes(pollInterval:)``;
  /// undos and reloads are not reported here (`changes()` reports them).
  ///
  /// The stream finishes (without an error) when its task is cancelled or the store is
  /// closed, and with an error when a read fails.
  ///
  /// - Complexity: O(1) to start; each poll as ``tail()``.
  public func watch(interval: Duration = .seconds(1)) -> AsyncThrowingStream<[LogOperation<Record>], any Error> {
    let changes = changes(pollInterval: interval)
    return AsyncThrowingStream {
      var iterator = changes.makeAsyncIterator()
      while let change = try await iterator.next() {
        if case .applied(let operations) = change, !operations.isEmpty { return operations }
      }
      return nil
    }
  }

  /// Every change to the state, once each and in the order it was applied: this store's own
  /// acknowledged writes, undos and rollbacks as they happen, with no polling; another
  /// writer's (the writer a read-only store follows, other agents) found by polling every
  /// `pollInterval`. A batch arrives as one ``StoreChange/applied(_:)``; an undo as
  /// ``StoreChange/undone(_:)``; a rebuilt state (archive, another agent's compaction, a
  /// follower that cannot account for the files) as ``StoreChange/reloaded``.
  ///
  /// Each call is a new subscription that starts with the next change. A consumer that falls
  /// more than 10,000 changes behind gets one `.reloaded` in their place instead of growing
  /// memory without bound. In `.group` and `.async` modes a change is delivered when it is
  /// applied (as reads see it), before its write: a write that then fails is delivered as
  /// `.undone`.
  ///
  /// The stream finishes without an error when its task is cancelled or the store is closed,
  /// and with the error when a poll fails.
  ///
  /// - Complexity: O(1) to start; each change is delivered in O(its operations); a poll
  ///   costs as ``tail()``.
  public func changes(pollInterval: Duration = .milliseconds(250)) -> AsyncThrowingStream<
    StoreChange<Record>, any Error
  > {
    let subscription = ChangeSubscription<Record>()
    let id: Int? = state.withLock { state in
      if state.isClosed || state.isClosing { return nil }
      return state.feed.subscribe(subscription)
    }
    guard let id else {
      subscription.finish(throwing: nil)
      return AsyncThrowingStream { try await subscription.next() }
    }
    // Polling is needed only for writes this store does not make itself.
    let polls = options.readOnly || followsOtherWriters
    let poller: Task<Void, Never>? =
      polls
      ? Task(executorPreference: globalConcurrentExecutor) { [weak self] in
        while !Task.isCancelled {
          do { try await Task.sleep(for: pollInterval) } catch { break }
          guard let store = self else { break }
          do {
            _ = try await store.tail()
          } catch OpsLogError.closed {
            break
          } catch {
            subscription.finish(throwing: error)
            break
          }
        }
      } : nil
    let stream = AsyncThrowingStream<StoreChange<Record>, any Error> {
      let change = try await subscription.next()
      if change == nil {
        poller?.cancel()
        _ = self.state.withLock { $0.feed.subscribers.removeValue(forKey: id) }
      }
      return change
    }
    return stream
  }

  /// A subscription to the change feed with no stream and no polling, for tests (and their
  /// child processes) that step the store and look at what was published
  /// (``ChangeSubscription/takeQueued()``): every change a call makes is queued by the time
  /// it returns. Testing SPI, not part of the API.
  @_spi(Testing)
  public func subscribeToChanges() -> ChangeSubscription<Record> {
    let subscription = ChangeSubscription<Record>()
    _ = state.withLock { $0.feed.subscribe(subscription) }
    return subscription
  }

  /// Reads the complete lines of the cursor's WAL from its offset, applies them, and moves
  /// the cursor past them.
  func follow(_ cursor: FollowCursor, into collected: inout [LogOperation<Record>]) async throws {
    let path = cursor.generation.activeWAL
    let wal = try await backend.readWAL(path, from: cursor.activePosition?.offset ?? 0, logger: logger)
    collected += try applyMerged(wal.lines, path: path)
    var next = cursor
    next.advance(path, over: wal)
    state.withLock { state in
      state.follow(to: next)
      state.tailLineHashes.append(contentsOf: wal.lines.map(\.hash))
      state.noteFollowedRead(wal)
    }
  }

  /// Loads the state afresh from `manifest`'s snapshot and WAL.
  ///
  /// A writer that checkpoints under ``StoreOptions/retainedGenerations`` may remove those
  /// files between the follower's reading of the manifest and of the files: when a file is
  /// gone and the manifest has changed meanwhile, the reload starts again from the new one.
  func reload(_ manifest: ManifestInfo, token: FileChangeToken?) async throws {
    var manifest = manifest
    var token = token
    var attempts = 0
    while true {
      do {
        let wal = try await backend.readWAL(manifest.activeOps, logger: logger)
        let load = LogLoad(
          manifest: manifest, lines: wal.lines, appendPath: manifest.activeOps,
          appendLength: wal.consumedThrough, malformedLines: wal.malformedLines)
        try await reloadState(load, token: token)
        return
      } catch let error as OpsLogError {
        attempts += 1
        guard followsSingleWriter, attempts < 10, error.isMissingFile else { throw error }
        let newToken = try await backend.manifestChangeToken()
        guard newToken != token, let newer = try await backend.readManifest(),
          newer.currentSnapshot != manifest.currentSnapshot
        else { throw error }
        logger.debug("the files of the manifest read were removed meanwhile; reloading from the newer one")
        manifest = newer
        token = newToken
      }
    }
  }

  // MARK: - Streaming reads

  /// The records of the current snapshot file, streamed from disk in order without loading
  /// the file (operations in the WAL are not applied). Pull-driven: a slow consumer holds the
  /// reading back instead of letting records pile up in memory.
  ///
  /// The file is the one the manifest names at the first `next()`, not at this call. When a
  /// checkpoint (this store's, or a follower's writer's) has replaced it and removed it
  /// (``StoreOptions/retainedGenerations``) before the stream delivered a record, the stream
  /// reads the snapshot that replaced it. The stream throws `OpsLogError.closed` when it has
  /// to read after the store is closed, `OpsLogError.corrupted(path:reason:)` for damage or a
  /// record that does not decode, and `OpsLogError.io(path:errno:reason:)` when the file
  /// cannot be read (`ENOENT` when such a checkpoint removed it after records were delivered:
  /// stream again).
  ///
  /// - Complexity: O(n) over the whole stream, in memory O(one read window), whatever
  ///   the snapshot's size.
  public func streamSnapshot() -> AsyncThrowingStream<(id: String, record: Record), any Error> {
    let cursor = SnapshotCursor<Record>(store: self)
    return AsyncThrowingStream { try await cursor.next() }
  }

  /// The operations of the active WAL, streamed from disk in replay order; with `timestamp`,
  /// only those later than it (compared as text, as opslog does). Malformed lines are
  /// skipped, as on open. A multi-writer store's log is every agent's WAL the manifest names:
  /// their operations come merged in replay order (Lamport clock, then agent ID), whichever
  /// agent streams them, as opslog's `getWalOps` gives them.
  ///
  /// The file is the store's WAL at the first `next()`; lines appended while streaming may
  /// or may not be included. A checkpoint that replaces the WAL and removes it
  /// (``StoreOptions/retainedGenerations``; the store's own, or a follower's writer's) is no
  /// damage: before the stream delivered an operation it reads the WAL that replaced it;
  /// after a read reached the file's end the stream ends; in the middle of the file it throws
  /// `OpsLogError.io(path:errno:reason:)` with `ENOENT`, since what it had not read yet is in
  /// the newer snapshot (stream the snapshot and the WAL again). Other errors as for
  /// ``streamSnapshot()``; a WAL the manifest still names that is missing is
  /// `OpsLogError.corrupted(path:reason:)`.
  ///
  /// - Complexity: O(WAL size) over the whole stream, in memory O(one read window) for a
  ///   single writer's WAL; a multi-writer store's WALs are read whole, O(their size), since
  ///   their lines interleave.
  public func walOperations(since timestamp: String? = nil) -> AsyncThrowingStream<LogOperation<Record>, any Error> {
    let cursor = WALCursor<Record>(store: self, since: timestamp)
    return AsyncThrowingStream { try await cursor.next() }
  }
}

extension OpsLogError {
  /// Whether the error says a file is not there (removed by a checkpoint, or never written):
  /// the store's own wording for a named file that is missing, or `ENOENT` from a read.
  var isMissingFile: Bool {
    switch self {
    case .corrupted(_, let reason): return reason.hasSuffix("does not exist")
    case .io(_, let code, _): return code == ENOENT
    default: return false
    }
  }
}
