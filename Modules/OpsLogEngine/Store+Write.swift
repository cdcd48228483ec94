import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

extension StoreState {
  /// Throws unless mutations are allowed; reports a background write failure once.
  @inlinable
  mutating func checkMutable(readOnly: Bool) throws {
    if isClosed || isClosing { throw OpsLogError.closed }
    if readOnly { throw OpsLogError.readOnly }
    if let error = pipeline.takeBackgroundError() { throw error }
  }

  /// The background write failure not reported yet, which is reported only once.
  @usableFromInline
  mutating func takeBackgroundError() -> (any Error)? { pipeline.takeBackgroundError() }

  /// Reverses one operation in memory.
  mutating func revert(_ entry: JournalEntry<Record>) {
    guard entry.applied else { return }
    let operation = entry.operation
    switch operation.kind {
    case .set:
      if let before = entry.storedBefore { storedForms[ExactString(operation.id)] = before }
      if let previous = entry.previousRecord {
        table.set(operation.id, previous)
      } else {
        table.remove(operation.id)
      }
    case .delete:
      if let before = entry.storedBefore { storedForms[ExactString(operation.id)] = before }
      guard let previous = entry.previousRecord else { return }
      if entry.slot >= 0 {
        table.restore(operation.id, previous, at: entry.slot)
      } else {
        table.set(operation.id, previous)
      }
    }
  }

  /// Takes the last operation back out of memory: reverts it and drops its journal entry.
  /// (Its WAL line, buffered or written, is the caller's.)
  mutating func takeBackLast() {
    let removed = journal.removeLast()
    revert(removed)
    restoreWinningStamp(after: removed)
    operationsSinceCheckpoint -= 1
  }

  /// Applies a prepared operation and queues its line; returns its sequence number.
  ///
  /// - Parameter unitSize: see ``JournalEntry/unitSize``.
  @inlinable
  mutating func apply(_ prepared: consuming PreparedOperation<Record>, unitSize: Int = 1) -> UInt64 {
    let offset = pipeline.queuedEnd
    let lineLength = prepared.line.count
    var storedBefore: StoredForm?? = nil
    if let storedAfter = prepared.storedAfter {
      let key = ExactString(prepared.operation.id)
      storedBefore = .some(storedForms[key])
      storedForms[key] = storedAfter
    }
    let sequence = pipeline.enqueue(prepared.line)
    // A prepared set always carries its record, so the table applies it.
    var previousRecord: Record? = nil
    let slot = table.apply(prepared.operation, previous: &previousRecord) ?? -1
    if prepared.operation.agent != nil { recordWinningStamp(of: prepared.operation) }
    // Moved out, not copied: a copy retained every reference the operation holds, and the
    // prepared operation's end released them again.
    var operation = LogOperation<Record>(timestamp: "", kind: .delete, id: "", data: nil, previous: .none)
    swap(&operation, &prepared.operation)
    journal.append(
      JournalEntry(
        operation: consume operation, previousRecord: consume previousRecord, slot: slot, lineLength: lineLength,
        offset: offset, unitSize: unitSize, sequence: sequence, storedBefore: storedBefore))
    operationsSinceCheckpoint += 1
    return sequence
  }

  /// Tells the change feed about the last `count` operations applied, as one change.
  @usableFromInline
  mutating func publishLast(_ count: Int) {
    feed.publish(.applied(journal.suffix(count).map(\.operation)))
  }

  /// Tells the merge policy that an agent's operation took effect (multi-writer merges).
  @usableFromInline
  mutating func recordWinningStamp(of operation: LogOperation<Record>) {
    merge.took(operation)
  }

  /// What has to happen after operations were queued, decided under the same lock that queued
  /// them: whether the caller waits for the write (the write mode's promise) and which
  /// background work starts. Arms the flags it reports, so only one caller starts each.
  @inlinable
  mutating func followUp(options: StoreOptions) -> EnqueueFollowUp {
    var followUp = EnqueueFollowUp()
    switch options.writeMode {
    case .immediate:
      followUp.waitsForWrite = true
    case .group:
      if pipeline.pendingCount >= options.groupCommitSize {
        followUp.waitsForWrite = true
      } else if pipeline.pendingCount > 0 && !pipeline.groupTimerArmed {
        pipeline.groupTimerArmed = true
        followUp.startsTimer = true
      }
    case .async:
      if !pipeline.backgroundWriterScheduled && pipeline.pendingCount > 0 {
        pipeline.backgroundWriterScheduled = true
        followUp.startsWriter = true
      }
    }
    followUp.startsCheckpoint = claimThresholdCheckpoint(options: options)
    return followUp
  }

  /// A background write's failure as the next call reports it: the same error, its reason
  /// saying that the buffered operations it carried were rolled back.
  static func deferred(_ error: any Error, lostOperations count: Int) -> any Error {
    let loss =
      "a background WAL write failed, and the \(count) buffered operation\(count == 1 ? "" : "s") it carried (acknowledged in group or async mode) were rolled back: neither memory nor the WAL holds them"
    switch error {
    case OpsLogError.io(let path, let errno, let reason):
      return OpsLogError.io(path: path, errno: errno, reason: "\(reason); \(loss)")
    default:
      return error
    }
  }

  /// Whether the operations since the last checkpoint reached the threshold with no
  /// checkpoint running; if so, marks one as running, for the caller to start.
  @inlinable
  mutating func claimThresholdCheckpoint(options: StoreOptions) -> Bool {
    guard
      operationsSinceCheckpoint >= options.checkpointThreshold && !checkpointRunning && !options.skipLoad
        && !options.readOnly && !isClosing && !isClosed
    else { return false }
    checkpointRunning = true
    return true
  }

  /// Takes out a journal entry that later operations (merged from other writers) followed,
  /// and recomputes only its key: the value before the key's first journal entry, with the
  /// key's remaining entries replayed over it in merge order.
  mutating func removeAndRederive(at index: Int) {
    let removed = journal.remove(at: index)
    operationsSinceCheckpoint -= 1
    let id = removed.operation.id
    let firstIndex = journal.firstIndex { ExactString.areIdentical($0.operation.id, id) }
    var value: Record? =
      if let firstIndex, firstIndex < index { journal[firstIndex].previousRecord } else { removed.previousRecord }
    var remaining = journal.indices.filter { ExactString.areIdentical(journal[$0].operation.id, id) }
    remaining.sort { left, right in
      let (a, b) = (journal[left].operation, journal[right].operation)
      if merge.replays(a, before: b) { return true }
      if merge.replays(b, before: a) { return false }
      return left < right
    }
    for position in remaining {
      let operation = journal[position].operation
      value = operation.kind == .set ? operation.data : nil
      journal[position].applied = position == remaining.last
    }
    merge.restore(id: id, among: remaining.map { journal[$0].operation })
    if let value { table.set(id, value) } else { table.remove(id) }
  }

  /// A write failed: the operations it carried, and every one queued after them, are taken
  /// back out of memory, newest first, so that memory equals the WAL again. Returns the
  /// waiters to tell, and whether acknowledged operations were lost (group and async modes).
  mutating func rollBack(from firstSequence: UInt64, error: any Error, writeMode: WriteMode) -> [CommitWaiter] {
    var lost = 0
    var undone: [LogOperation<Record>] = []
    while let last = journal.last, last.sequence >= firstSequence {
      if !feed.isEmpty && last.applied { undone.append(last.undoneOperation) }
      takeBackLast()
      lost += 1
    }
    if !undone.isEmpty { feed.publish(.undone(undone)) }
    let waiters = pipeline.fail(from: firstSequence, error: error)
    generation += 1
    if lost > 0 && writeMode != .immediate {
      // Their callers were told they succeeded: the deferred error says what was lost.
      pipeline.backgroundError = Self.deferred(error, lostOperations: lost)
    }
    return waiters
  }
}

/// An operation ready to apply: its typed form for memory and history, its WAL line.
@usableFromInline
struct PreparedOperation<Record: Sendable>: Sendable {
  @usableFromInline var operation: LogOperation<Record>
  @usableFromInline var line: [UInt8]
  /// The record's ``StoredForm`` after the operation, when it changes it (`nil`: untouched).
  @usableFromInline var storedAfter: StoredForm??

  @inlinable
  init(operation: LogOperation<Record>, line: [UInt8], storedAfter: StoredForm?? = nil) {
    self.operation = operation
    self.line = line
    self.storedAfter = storedAfter
  }
}

/// See ``StoreState/followUp(options:)``.
@usableFromInline
struct EnqueueFollowUp: Sendable {
  @usableFromInline var waitsForWrite = false
  @usableFromInline var startsTimer = false
  @usableFromInline var startsWriter = false
  @usableFromInline var startsCheckpoint = false

  @inlinable
  init() {}

  @inlinable
  var startsWork: Bool { startsTimer || startsWriter || startsCheckpoint }
}

extension Store {
  // MARK: - Mutations

  /// Creates or replaces the record `id`.
  ///
  /// An update keeps the record's place in ``all()``; its WAL line holds the previous record
  /// (or, when smaller, a delta patch of it) so that ``undo()`` can restore it.
  ///
  /// Returns when the write mode's promise holds (see ``WriteMode``). Writes take effect in
  /// call order.
  /// - Complexity: O(size of the record), independent of the number of records stored. (The
  ///   first write after a checkpoint starts, or while `all()` or `filter` holds a copy of the
  ///   state, copies the record table's references once, O(n); a checkpoint every
  ///   ``StoreOptions/checkpointThreshold`` writes makes that O(n / threshold) per write.)
  /// - Throws: `OpsLogError.readOnly`, `OpsLogError.closed`, `OpsLogError.invalidArgument(_:)`
  ///   for an empty ID, an `EncodingError` when the record cannot be encoded, or the write's
  ///   `OpsLogError.io(path:errno:reason:)`; a failed write leaves the store as it was.
  // Inlinable, like the rest of the single-operation write path, so that it is specialized for
  // the caller's record type: unspecialized, a third of a write went to generic metadata
  // lookups and value-witness copies.
  @inlinable
  public func set(_ id: String, _ value: Record) async throws {
    try Self.validate(id: id)
    // The ID's bucket is fetched from memory while the record is encoded: for a new ID it was
    // a cache miss under the lock, 4 % of a set.
    let idHash = RecordTable<Record>.hash(id)
    RecordTable<Record>.prefetchBucket(
      for: idHash, base: bucketBaseHint.load(ordering: .relaxed), mask: bucketMaskHint.load(ordering: .relaxed))
    let data = try encoder.encodeBytes(value)
    let (sequence, waitsForWrite) = try await mutate { state in
      try prepareSet(
        id, value, data: data, previous: state.table.get(id, hash: idHash), timestamp: ISOTime.now(),
        stored: state.storedForms.isEmpty ? nil : state.storedForms[ExactString(id)])
    }
    if waitsForWrite { try await waitForWrite(upTo: sequence) }
  }

  /// Deletes the record `id`.
  ///
  /// - Complexity: O(size of the record).
  /// - Throws: `OpsLogError.notFound(id:)` when no record has this ID, and the errors of
  ///   ``set(_:_:)``.
  @inlinable
  public func delete(_ id: String) async throws {
    let (sequence, waitsForWrite) = try await mutate { state in
      guard let previous = state.table.get(id) else { throw OpsLogError.notFound(id: id) }
      return try prepareDelete(
        id, previous: previous, timestamp: ISOTime.now(),
        stored: state.storedForms.isEmpty ? nil : state.storedForms[ExactString(id)])
    }
    if waitsForWrite { try await waitForWrite(upTo: sequence) }
  }

  /// Runs one mutation: `prepare` reads the state (under the store's lock) and returns the
  /// operation, which is then applied and queued for the WAL in call order. Returns its
  /// sequence and whether the write mode makes the caller wait for its write.
  ///
  /// `nonisolated(nonsending)`, as ``waitForWrite(upTo:reportLoss:)`` and the mutation lock:
  /// these run where their caller (a nonisolated write call) already runs, so calling them
  /// does not ask the run time for an executor to switch to (2 % of a `write-async` run).
  @inlinable
  nonisolated(nonsending) func mutate(
    _ prepare: (borrowing StoreState<Record>) throws -> PreparedOperation<Record>
  ) async throws -> (sequence: UInt64, waitsForWrite: Bool) {
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    if followsOtherWriters { try await checkLogBeforeMutation() }
    let (sequence, followUp) = try state.withLock { state in
      try state.checkMutable(readOnly: options.readOnly)
      let sequence = state.apply(try prepare(state))
      if !state.feed.isEmpty { state.publishLast(1) }
      let buckets = state.table.bucketLocation
      if bucketBaseHint.load(ordering: .relaxed) != buckets.base {
        bucketBaseHint.store(buckets.base, ordering: .relaxed)
        bucketMaskHint.store(buckets.mask, ordering: .relaxed)
      }
      return (sequence, state.followUp(options: options))
    }
    if followUp.startsWork { startBackgroundWork(followUp) }
    return (sequence, followUp.waitsForWrite)
  }

  /// - Parameter batch: the operation count of the batch this line starts (Docs/FORMAT.md,
  ///   "Batches"), written on a batch's first line only.
  @inlinable
  ///
  /// - Parameter stored: the record's ``StoredForm`` when its stored JSON has fields `Record`
  ///   does not decode: the new line keeps its unknown top-level keys, and `prev` is the JSON
  ///   as stored.
  func prepareSet(
    _ id: String, _ value: Record, data encoded: [UInt8], previous: Record?, timestamp: String,
    batch: Int? = nil, stored: StoredForm? = nil
  ) throws -> PreparedOperation<Record> {
    var data = encoded
    var storedAfter: StoredForm?? = nil
    if let stored {
      let merged = stored.merged(into: encoded)
      data = merged.bytes
      storedAfter = .some(merged.unknownKeys.isEmpty ? nil : merged)
    }
    let (agent, clock) = followsOtherWriters ? currentStamp() : (nil, nil)
    let previousValue: PreviousValue<Record>
    let encodedPrevious: EncodedPrevious
    if let previous {
      // The previous record is encoded once: its bytes are both the size the patch must beat
      // and, when it does not, the `prev` written (the encoder's bytes are what the tree
      // parsed from them would serialize to).
      let oldBytes = try stored?.bytes ?? encoder.encodeBytes(previous)
      let oldJSON = try JSONValue(parsing: oldBytes)
      let newJSON = try JSONValue(parsing: data)
      if let patch = DeltaPatch.make(from: oldJSON, to: newJSON), patch.isSmaller(thanEncodedLength: oldBytes.count) {
        previousValue = .delta(patch)
        encodedPrevious = .delta(patch)
      } else {
        previousValue = .record(previous)
        encodedPrevious = .record(oldBytes)
      }
    } else {
      previousValue = .none
      encodedPrevious = .none
    }
    let line = OperationLine.encodedLine(
      timestamp: timestamp, kind: .set, id: id, previous: encodedPrevious, data: data, agent: agent, clock: clock,
      batch: batch)
    return PreparedOperation(
      operation: LogOperation(
        timestamp: timestamp, kind: .set, id: id, data: value, previous: previousValue, agent: agent, clock: clock),
      line: line, storedAfter: storedAfter)
  }

  @inlinable
  func prepareDelete(
    _ id: String, previous: Record, timestamp: String, batch: Int? = nil, stored: StoredForm? = nil
  ) throws -> PreparedOperation<Record> {
    let previousBytes = try stored?.bytes ?? encoder.encodeBytes(previous)
    let (agent, clock) = followsOtherWriters ? currentStamp() : (nil, nil)
    let line = OperationLine.encodedLine(
      timestamp: timestamp, kind: .delete, id: id, previous: .record(previousBytes), data: nil, agent: agent,
      clock: clock, batch: batch)
    return PreparedOperation(
      operation: LogOperation(
        timestamp: timestamp, kind: .delete, id: id, data: nil, previous: .record(previous), agent: agent,
        clock: clock),
      line: line, storedAfter: stored == nil ? nil : .some(nil))
  }

  /// The agent and Lamport clock to stamp a new operation with (multi-writer stores).
  @usableFromInline
  func currentStamp() -> (agent: String?, clock: Int?) {
    let stamp = strategy.stamp()
    return (stamp?.agent, stamp?.clock)
  }

  /// Starts what the new operations call for (``StoreState/followUp(options:)``): a group
  /// timer, a background writer, a checkpoint.
  @usableFromInline
  func startBackgroundWork(_ followUp: EnqueueFollowUp) {
    if followUp.startsTimer {
      let interval = options.groupCommitInterval
      // Background writers run on the backend's I/O executor when it has one: their appends
      // then happen in place instead of hopping to the I/O thread and back. Otherwise on the
      // global pool, not on whatever executor the writing task prefers (a task inherits it).
      Task(executorPreference: backend.taskExecutor ?? globalConcurrentExecutor) {
        try? await Task.sleep(for: interval)
        self.state.withLock { $0.pipeline.groupTimerArmed = false }
        await self.writeInBackground()
      }
    }
    if followUp.startsWriter {
      Task(executorPreference: backend.taskExecutor ?? globalConcurrentExecutor) {
        var emptyRounds = 0
        while true {
          await self.writeBufferedOnce()
          try? await Task.sleep(for: Self.asyncWriteInterval)
          // Step down only after the buffer stayed empty for a few rounds: a producer that
          // pauses briefly would otherwise start a task, and a thread wake-up, per write.
          let more = self.state.withLock { state -> Bool in
            guard state.pipeline.pending.isEmpty else {
              emptyRounds = 0
              return true
            }
            emptyRounds += 1
            guard emptyRounds >= Self.asyncWriterIdleRounds else { return true }
            state.pipeline.backgroundWriterScheduled = false
            return false
          }
          if !more { break }
        }
      }
    }
    if followUp.startsCheckpoint {
      // Never on the I/O executor a writing task may prefer (a plain Task would inherit it):
      // a checkpoint's work there would hold up the appends it is meant not to stall.
      Task(executorPreference: globalConcurrentExecutor) { await self.checkpointInBackground() }
    }
  }

  /// How long the async-mode writer waits after each append before it takes the buffer again.
  ///
  /// Writing as soon as the last append returned meant appends of two or three operations
  /// each: the I/O thread spent all its time in `write(2)` and in the state lock the writing
  /// task needs for every operation, and each of its turns there pulled the buffer's cache
  /// lines away from that task (83,000 appends for 200,000 sets). Waiting this long lets the
  /// buffer fill (a hundred operations an append at full speed) and costs nothing a crash in
  /// async mode would not lose anyway: `write-async` 0.91× the time and 0.74× the processor
  /// time (10 alternating runs; in a first sweep of 8, 100 µs saved no more time for more
  /// processor, 1 ms no more of either). `flush()`, `close()` and checkpoints do not wait
  /// for it: they write at once.
  static var asyncWriteInterval: Duration { .microseconds(300) }

  /// Rounds with an empty buffer after which the async-mode writer stops (about a
  /// millisecond), to be started again by the next write.
  static var asyncWriterIdleRounds: Int { 3 }

  /// The async-mode writer's round: one append of whatever is buffered, unless the buffer is
  /// empty or another writer (a flush, a checkpoint) is at work, which writes it anyway.
  func writeBufferedOnce() async {
    let leads = state.withLock { state -> Bool in
      guard !state.pipeline.writerActive, !state.pipeline.pending.isEmpty else { return false }
      state.pipeline.writerActive = true
      return true
    }
    if leads { await writePending(once: true) }
  }

  /// Writes whatever is buffered, for the group-commit timer (the async-mode writer appends a
  /// round at a time, ``writeBufferedOnce()``). A failure is kept as the store's background
  /// error by the rollback.
  func writeInBackground() async {
    try? await writeQueued()
  }

  /// Waits until every operation queued so far is in the WAL. A loss is not thrown here: it
  /// reaches the user as the background error.
  func writeQueued() async throws {
    let last = state.withLock { $0.pipeline.nextSequence - 1 }
    try await waitForWrite(upTo: last, reportLoss: false)
  }

  // MARK: - The commit pipeline

  /// Waits until every operation up to `sequence` is in the WAL.
  ///
  /// Whoever finds no writer at work becomes the writer: it takes everything buffered and
  /// writes it in one append. Operations queued meanwhile go in the next append, so concurrent
  /// writers share writes (and fsyncs under `.disk`).
  ///
  /// - Parameter reportLoss: whether to throw when `sequence` was lost to a failed write. The
  ///   operation's own caller wants that; a flush or a checkpoint only waits for the WAL to
  ///   settle (a loss there reaches the user as the background error).
  /// - Throws: the write's error when the operation was lost to a failed write.
  @usableFromInline
  nonisolated(nonsending) func waitForWrite(upTo sequence: UInt64, reportLoss: Bool = true) async throws {
    while true {
      // Most calls find the write done or nobody writing: decide without suspending, since
      // a continuation costs a trip through the executor even when resumed at once.
      let decided = try state.withLock { state -> CommitSignal? in
        if reportLoss, let error = state.pipeline.failure(of: sequence) { throw error }
        if state.pipeline.writtenSequence >= sequence { return .written }
        if !state.pipeline.writerActive {
          state.pipeline.writerActive = true
          return .lead
        }
        return nil
      }
      switch decided {
      case .written?: return
      case .lead?:
        await writePending()
        continue
      case nil: break
      }
      let signal: CommitSignal = try await withCheckedThrowingContinuation { continuation in
        let outcome: Result<CommitSignal, any Error>? = state.withLock { state in
          if reportLoss, let error = state.pipeline.failure(of: sequence) { return .failure(error) }
          if state.pipeline.writtenSequence >= sequence { return .success(.written) }
          if !state.pipeline.writerActive {
            state.pipeline.writerActive = true
            return .success(.lead)
          }
          state.pipeline.waiters.append(CommitWaiter(sequence: sequence, continuation: continuation))
          return nil
        }
        if let outcome { continuation.resume(with: outcome) }
      }
      switch signal {
      case .written:
        if reportLoss, let error = state.withLock({ $0.pipeline.failure(of: sequence) }) { throw error }
        return
      case .lead:
        await writePending()
      }
    }
  }

  /// The writer's loop: append the buffer until it is empty, then step down, or hand the job to
  /// a waiting caller so that no caller writes for others forever.
  ///
  /// - Parameter once: stop after one append when nobody waits for a later one, leaving the
  ///   rest buffered for the next round (the async-mode writer).
  func writePending(once: Bool = false) async {
    while true {
      var idleWaiters: [CommitWaiter] = []
      let taken = state.withLock { state -> (append: CommitPipeline.Append, path: String)? in
        guard let append = state.pipeline.take() else {
          idleWaiters = state.pipeline.becomeIdle()
          return nil
        }
        return (append, state.walPath)
      }
      guard let (taken, path) = taken else {
        for waiter in idleWaiters { waiter.continuation.resume(returning: .written) }
        return
      }
      var append = taken
      do {
        try await backend.append(path, append.bytes, durability: options.durability)
      } catch {
        rollBack(from: append.first, error: error)
        return
      }
      let (ready, next) = state.withLock { state -> ([CommitWaiter], WriterNext) in
        state.pipeline.didWrite(&append)
        if state.pipeline.pending.isEmpty { return (state.pipeline.becomeIdle(), .stop) }
        let ready = state.pipeline.collectWritten()
        if !state.pipeline.waiters.isEmpty { return (ready, .handOff(state.pipeline.waiters.removeFirst())) }
        if once {
          state.pipeline.writerActive = false
          return (ready, .stop)
        }
        return (ready, .carryOn)
      }
      for waiter in ready { waiter.continuation.resume(returning: .written) }
      switch next {
      case .stop: return
      case .carryOn: continue
      case .handOff(let waiter):
        waiter.continuation.resume(returning: .lead)
        return
      }
    }
  }

  /// A write failed: the operations it carried, and every one queued after them, are taken
  /// back out of memory so that memory equals the WAL again, and their callers get the error.
  func rollBack(from firstSequence: UInt64, error: any Error) {
    let waiters = state.withLock { state in
      state.rollBack(from: firstSequence, error: error, writeMode: options.writeMode)
    }
    logger.error("a WAL write failed; its operations were rolled back", metadata: ["error": "\(error)"])
    for waiter in waiters {
      if waiter.sequence >= firstSequence {
        waiter.continuation.resume(throwing: error)
      } else {
        waiter.continuation.resume(returning: .written)
      }
    }
  }

  // MARK: - Flush

  /// Writes every buffered operation (group and async modes) and returns once they are in
  /// the WAL; with `Durability.disk` they are fsynced too.
  ///
  /// - Complexity: O(buffered operations).
  /// - Throws: a background write failure not reported yet.
  public func flush() async throws {
    let last = try state.withLock { state -> UInt64 in
      if state.isClosed { throw OpsLogError.closed }
      if let error = state.takeBackgroundError() { throw error }
      return state.pipeline.nextSequence - 1
    }
    try await waitForWrite(upTo: last, reportLoss: false)
    if let error = state.withLock({ $0.takeBackgroundError() }) { throw error }
  }

  /// ``flush()``, and with `Durability.disk` every written operation is on disk. (Each
  /// append under `.disk` is fsynced before it counts as written, so this is `flush()`.)
  ///
  /// - Complexity: O(buffered operations).
  public func sync() async throws {
    try await flush()
  }
}

/// What the writer does after an append.
enum WriterNext {
  case stop, carryOn
  case handOff(CommitWaiter)
}
