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
    if let error = takeBackgroundError() { throw error }
  }

  /// The background write failure not reported yet, which is reported only once.
  @usableFromInline
  mutating func takeBackgroundError() -> (any Error)? {
    defer { backgroundError = nil }
    return backgroundError
  }

  /// Reverses one operation in memory.
  mutating func revert(_ entry: JournalEntry<Record>) {
    guard entry.applied else { return }
    let operation = entry.operation
    switch operation.kind {
    case .set:
      if let previous = entry.previousRecord {
        table.set(operation.id, previous)
      } else {
        table.remove(operation.id)
      }
    case .delete:
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
  @inlinable
  mutating func apply(_ prepared: consuming PreparedOperation<Record>) -> UInt64 {
    let sequence = nextSequence
    nextSequence += 1
    // A prepared set always carries its record, so the table applies it.
    let (previousRecord, slot) = table.apply(prepared.operation) ?? (nil, -1)
    journal.append(
      JournalEntry(
        operation: prepared.operation, previousRecord: previousRecord, slot: slot, lineLength: prepared.line.count,
        sequence: sequence))
    if prepared.operation.agent != nil { recordWinningStamp(of: prepared.operation) }
    pending.append(contentsOf: prepared.line)
    pendingCount += 1
    operationsSinceCheckpoint += 1
    return sequence
  }

  /// Remembers an agent operation's stamp as its key's winner (multi-writer merges).
  @usableFromInline
  mutating func recordWinningStamp(of operation: LogOperation<Record>) {
    if let stamp = OperationStamp(of: operation) { winningStamps[operation.id] = stamp }
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
      if pendingCount >= options.groupCommitSize {
        followUp.waitsForWrite = true
      } else if pendingCount > 0 && !groupTimerArmed {
        groupTimerArmed = true
        followUp.startsTimer = true
      }
    case .async:
      if !backgroundWriterScheduled && pendingCount > 0 {
        backgroundWriterScheduled = true
        followUp.startsWriter = true
      }
    }
    if operationsSinceCheckpoint >= options.checkpointThreshold && !checkpointRunning && !options.skipLoad
      && !options.readOnly && !isClosing
    {
      checkpointRunning = true
      followUp.startsCheckpoint = true
    }
    return followUp
  }

  /// The writer steps down with nothing buffered: every operation that still exists is
  /// written (undo may have dropped the last buffered ones, whose sequences will never be
  /// written), so the marks catch up and every waiter is ready.
  mutating func becomeIdle() -> [CommitWaiter] {
    writerActive = false
    takenSequence = nextSequence - 1
    writtenSequence = nextSequence - 1
    return collectWritten()
  }

  /// Takes out a journal entry that later operations (merged from other writers) followed,
  /// and recomputes only its key: the value before the key's first journal entry, with the
  /// key's remaining entries replayed over it in merge order.
  mutating func removeAndRederive(at index: Int) {
    let removed = journal.remove(at: index)
    let id = removed.operation.id
    let firstIndex = journal.firstIndex { $0.operation.id == id }
    var value: Record? =
      if let firstIndex, firstIndex < index { journal[firstIndex].previousRecord } else { removed.previousRecord }
    var remaining = journal.indices.filter { journal[$0].operation.id == id }
    remaining.sort { left, right in
      let a = OperationStamp(of: journal[left].operation)
      let b = OperationStamp(of: journal[right].operation)
      if let a, let b, a != b { return a < b }
      return left < right
    }
    winningStamps[id] = nil
    for position in remaining {
      let operation = journal[position].operation
      value = operation.kind == .set ? operation.data : nil
      journal[position].applied = position == remaining.last
      winningStamps[id] = OperationStamp(of: operation)
    }
    if let value { table.set(id, value) } else { table.remove(id) }
  }

  /// Whether `sequence` was lost to a failed write, and the failure.
  func failure(of sequence: UInt64) -> (any Error)? {
    failedRanges.last(where: { $0.range.contains(sequence) })?.error
  }
}

/// An operation ready to apply: its typed form for memory and history, its WAL line.
@usableFromInline
struct PreparedOperation<Record: Sendable>: Sendable {
  @usableFromInline var operation: LogOperation<Record>
  @usableFromInline var line: [UInt8]

  @inlinable
  init(operation: LogOperation<Record>, line: [UInt8]) {
    self.operation = operation
    self.line = line
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
  /// Returns when the write mode's promise holds (see ``WriteMode``).
  /// - Throws: ``OpsLogError/readOnly``, ``OpsLogError/closed``, ``OpsLogError/invalidArgument(_:)``
  ///   for an empty ID, an `EncodingError` when the record cannot be encoded, or the write's
  ///   ``OpsLogError/io(path:errno:reason:)``; a failed write leaves the store as it was.
  // Inlinable, like the rest of the single-operation write path, so that it is specialized for
  // the caller's record type: unspecialized, a third of a write went to generic metadata
  // lookups and value-witness copies.
  @inlinable
  public func set(_ id: String, _ value: Record) async throws {
    try Self.validate(id: id)
    let data = try encoder.encodeBytes(value)
    let (sequence, waitsForWrite) = try await mutate { state in
      try prepareSet(id, value, data: data, previous: state.table.get(id), timestamp: ISOTime.now())
    }
    if waitsForWrite { try await waitForWrite(upTo: sequence) }
  }

  /// Deletes the record `id`.
  ///
  /// - Throws: ``OpsLogError/notFound(id:)`` when no record has this ID, and the errors of
  ///   ``set(_:_:)``.
  @inlinable
  public func delete(_ id: String) async throws {
    let (sequence, waitsForWrite) = try await mutate { state in
      guard let previous = state.table.get(id) else { throw OpsLogError.notFound(id: id) }
      return try prepareDelete(id, previous: previous, timestamp: ISOTime.now())
    }
    if waitsForWrite { try await waitForWrite(upTo: sequence) }
  }

  /// Applies several changes as one: all of them or, when `body` throws, none.
  ///
  /// The operations are written in one WAL write and each is one WAL line, so undo takes
  /// them back one at a time, last first. An empty batch does no I/O. `body` runs while other
  /// mutations wait; keep it short and do not call the store's writes from it.
  ///
  /// Returns when the write mode's promise holds for the batch's last operation (see
  /// ``WriteMode``), in call order with the store's other writes.
  /// - Throws: whatever `body` throws (nothing is written); ``OpsLogError/notFound(id:)`` from
  ///   ``Batch/delete(_:)``; ``OpsLogError/invalidArgument(_:)`` for an empty ID;
  ///   ``OpsLogError/readOnly``, ``OpsLogError/closed``, an `EncodingError`, or the write's
  ///   ``OpsLogError/io(path:errno:reason:)``, after which the store is as it was.
  public func batch(_ body: (inout Batch<Record>) throws -> Void) async throws {
    await mutationLock.lock()
    let sequence: UInt64
    let followUp: EnqueueFollowUp
    do {
      defer { mutationLock.unlock() }
      try await checkLogBeforeMutation()
      // The batch sees a copy-on-write copy of the table; it is dropped before the table is
      // changed, or the first change would copy the whole table.
      let prepared: [PreparedOperation<Record>] = try {
        let base = try state.withLock { state in
          try state.checkMutable(readOnly: options.readOnly)
          return state.table
        }
        var batch = Batch<Record>(base: base)
        try body(&batch)
        return try prepareBatch(batch.changes)
      }()
      if prepared.isEmpty { return }
      (sequence, followUp) = try state.withLock { state in
        try state.checkMutable(readOnly: options.readOnly)
        var last: UInt64 = 0
        for operation in prepared { last = state.apply(operation) }
        return (last, state.followUp(options: options))
      }
      if followUp.startsWork { startBackgroundWork(followUp) }
    }
    if followUp.waitsForWrite { try await waitForWrite(upTo: sequence) }
  }

  /// The operations of a batch, each against the state as the batch's earlier changes left it.
  func prepareBatch(_ changes: [Batch<Record>.Change]) throws -> [PreparedOperation<Record>] {
    let timestamp = ISOTime.now()
    var prepared: [PreparedOperation<Record>] = []
    prepared.reserveCapacity(changes.count)
    for change in changes {
      try Self.validate(id: change.id)
      if let value = change.record {
        let data = try encoder.encodeBytes(value)
        prepared.append(try prepareSet(change.id, value, data: data, previous: change.previous, timestamp: timestamp))
      } else {
        // Batch.delete records only a record the batch saw.
        prepared.append(try prepareDelete(change.id, previous: change.previous!, timestamp: timestamp))
      }
    }
    return prepared
  }

  /// Runs one mutation: `prepare` reads the state (under the store's lock) and returns the
  /// operation, which is then applied and queued for the WAL in call order. Returns its
  /// sequence and whether the write mode makes the caller wait for its write.
  @inlinable
  func mutate(_ prepare: (borrowing StoreState<Record>) throws -> PreparedOperation<Record>) async throws -> (
    sequence: UInt64, waitsForWrite: Bool
  ) {
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    if followsOtherWriters { try await checkLogBeforeMutation() }
    let (sequence, followUp) = try state.withLock { state in
      try state.checkMutable(readOnly: options.readOnly)
      let sequence = state.apply(try prepare(state))
      return (sequence, state.followUp(options: options))
    }
    if followUp.startsWork { startBackgroundWork(followUp) }
    return (sequence, followUp.waitsForWrite)
  }

  @inlinable
  func prepareSet(_ id: String, _ value: Record, data: [UInt8], previous: Record?, timestamp: String) throws
    -> PreparedOperation<Record>
  {
    var writer = JSONWriter(reservingCapacity: data.count * 2 + 96)
    let (agent, clock) = followsOtherWriters ? currentStamp() : (nil, nil)
    let previousValue: PreviousValue<Record>
    if let previous {
      // The previous record is encoded once: its bytes are both the size the patch must beat
      // and, when it does not, the `prev` written (the encoder's bytes are what the tree
      // parsed from them would serialize to).
      let oldBytes = try encoder.encodeBytes(previous)
      let oldJSON = try JSONValue(parsing: oldBytes)
      let newJSON = try JSONValue(parsing: data)
      if let patch = DeltaPatch.make(from: oldJSON, to: newJSON), patch.isSmaller(thanEncodedLength: oldBytes.count) {
        previousValue = .delta(patch)
        OperationLine.write(
          into: &writer, timestamp: timestamp, kind: .set, id: id, previous: .delta(patch), data: data, agent: agent,
          clock: clock)
      } else {
        previousValue = .record(previous)
        OperationLine.write(
          into: &writer, timestamp: timestamp, kind: .set, id: id, previous: .record(oldBytes), data: data,
          agent: agent, clock: clock)
      }
    } else {
      previousValue = .none
      OperationLine.write(
        into: &writer, timestamp: timestamp, kind: .set, id: id, previous: .none, data: data, agent: agent, clock: clock
      )
    }
    return PreparedOperation(
      operation: LogOperation(
        timestamp: timestamp, kind: .set, id: id, data: value, previous: previousValue, agent: agent, clock: clock),
      line: writer.bytes)
  }

  @inlinable
  func prepareDelete(_ id: String, previous: Record, timestamp: String) throws -> PreparedOperation<Record> {
    var writer = JSONWriter(reservingCapacity: 256)
    let previousBytes = try encoder.encodeBytes(previous)
    let (agent, clock) = followsOtherWriters ? currentStamp() : (nil, nil)
    OperationLine.write(
      into: &writer, timestamp: timestamp, kind: .delete, id: id, previous: .record(previousBytes), data: nil,
      agent: agent, clock: clock)
    return PreparedOperation(
      operation: LogOperation(
        timestamp: timestamp, kind: .delete, id: id, data: nil, previous: .record(previous), agent: agent,
        clock: clock),
      line: writer.bytes)
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
        self.state.withLock { $0.groupTimerArmed = false }
        await self.writeInBackground()
      }
    }
    if followUp.startsWriter {
      Task(executorPreference: backend.taskExecutor ?? globalConcurrentExecutor) {
        while true {
          await self.writeInBackground()
          // Linger a moment before stepping down: a producer writing in a loop refills the
          // buffer at once, and starting a task per write costs a thread wake-up each time.
          try? await Task.sleep(for: .milliseconds(1))
          let more = self.state.withLock { state -> Bool in
            if state.pending.isEmpty {
              state.backgroundWriterScheduled = false
              return false
            }
            return true
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

  /// Writes whatever is buffered, for timers and background writers. A failure is kept as the
  /// store's background error by the rollback.
  func writeInBackground() async {
    try? await writeQueued()
  }

  /// Waits until every operation queued so far is in the WAL. A loss is not thrown here: it
  /// reaches the user as the background error.
  func writeQueued() async throws {
    let last = state.withLock { $0.nextSequence - 1 }
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
  func waitForWrite(upTo sequence: UInt64, reportLoss: Bool = true) async throws {
    while true {
      // Most calls find the write done or nobody writing: decide without suspending, since
      // a continuation costs a trip through the executor even when resumed at once.
      let decided = try state.withLock { state -> CommitSignal? in
        if reportLoss, let error = state.failure(of: sequence) { throw error }
        if state.writtenSequence >= sequence { return .written }
        if !state.writerActive {
          state.writerActive = true
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
          if reportLoss, let error = state.failure(of: sequence) { return .failure(error) }
          if state.writtenSequence >= sequence { return .success(.written) }
          if !state.writerActive {
            state.writerActive = true
            return .success(.lead)
          }
          state.waiters.append(CommitWaiter(sequence: sequence, continuation: continuation))
          return nil
        }
        if let outcome { continuation.resume(with: outcome) }
      }
      switch signal {
      case .written:
        if reportLoss, let error = state.withLock({ $0.failure(of: sequence) }) { throw error }
        return
      case .lead:
        await writePending()
      }
    }
  }

  /// The writer's loop: append the buffer until it is empty, then step down, or hand the job to
  /// a waiting caller so that no caller writes for others forever.
  func writePending() async {
    while true {
      var idleWaiters: [CommitWaiter] = []
      let batch = state.withLock { state -> (bytes: [UInt8], first: UInt64, last: UInt64, path: String)? in
        guard !state.pending.isEmpty else {
          idleWaiters = state.becomeIdle()
          return nil
        }
        // The buffer a writer handed back keeps its capacity: a fresh one would regrow (and
        // copy itself) by doubling from empty for every batch.
        var bytes: [UInt8] = []
        swap(&bytes, &state.pending)
        swap(&state.pending, &state.spareBuffer)
        let count = UInt64(state.pendingCount)
        state.pendingCount = 0
        let last = state.nextSequence - 1
        state.takenSequence = last
        return (bytes, last - count + 1, last, state.walPath)
      }
      guard var batch else {
        for waiter in idleWaiters { waiter.continuation.resume(returning: .written) }
        return
      }
      do {
        try await backend.append(batch.path, batch.bytes, durability: options.durability)
      } catch {
        rollBack(from: batch.first, error: error)
        return
      }
      let writtenCount = batch.bytes.count
      batch.bytes.removeAll(keepingCapacity: true)
      let (ready, next) = state.withLock { state -> ([CommitWaiter], WriterNext) in
        state.writtenSequence = batch.last
        state.walLength += writtenCount
        if batch.bytes.capacity > state.spareBuffer.capacity && batch.bytes.capacity <= Self.largestSpareBuffer {
          swap(&batch.bytes, &state.spareBuffer)
        }
        if state.pending.isEmpty { return (state.becomeIdle(), .stop) }
        let ready = state.collectWritten()
        if !state.waiters.isEmpty { return (ready, .handOff(state.waiters.removeFirst())) }
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

  /// The largest buffer kept for reuse; a rare huge batch should not pin its memory.
  static var largestSpareBuffer: Int { 4 << 20 }

  /// A write failed: the operations it carried, and every one queued after them, are taken
  /// back out of memory so that memory equals the WAL again, and their callers get the error.
  func rollBack(from firstSequence: UInt64, error: any Error) {
    let waiters = state.withLock { state -> [CommitWaiter] in
      var lostAcknowledged = false
      while let last = state.journal.last, last.sequence >= firstSequence {
        state.takeBackLast()
        lostAcknowledged = lostAcknowledged || options.writeMode != .immediate
      }
      state.pending = []
      state.pendingCount = 0
      let last = state.nextSequence - 1
      if last >= firstSequence { state.failedRanges.append((firstSequence...last, error)) }
      state.takenSequence = last
      state.writtenSequence = last
      state.writerActive = false
      state.generation += 1
      if lostAcknowledged { state.backgroundError = error }
      let waiters = state.waiters
      state.waiters = []
      return waiters
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

  // MARK: - Flush and undo

  /// Writes every buffered operation (group and async modes) and returns once they are in
  /// the WAL; with ``Durability/disk`` they are fsynced too.
  ///
  /// - Throws: a background write failure not reported yet.
  public func flush() async throws {
    let last = try state.withLock { state -> UInt64 in
      if state.isClosed { throw OpsLogError.closed }
      if let error = state.takeBackgroundError() { throw error }
      return state.nextSequence - 1
    }
    try await waitForWrite(upTo: last, reportLoss: false)
    if let error = state.withLock({ $0.takeBackgroundError() }) { throw error }
  }

  /// ``flush()``, and with ``Durability/disk`` every written operation is on disk. (Each
  /// append under `.disk` is fsynced before it counts as written, so this is `flush()`.)
  public func sync() async throws {
    try await flush()
  }

  /// Takes back the last operation since the last checkpoint: a create is removed, an update
  /// restored, a deleted record put back in its place. Its WAL line is cut off the end of the
  /// file (O(1)), or dropped from the buffer if it was not written yet.
  ///
  /// A batch of N operations takes N undos. Returns `false` when there is nothing to undo.
  /// The cut is made with the store's ``StoreOptions/durability``: under `.disk` it is on disk
  /// when `undo` returns. In a multi-writer store it takes back this agent's last operation.
  /// - Throws: ``OpsLogError/readOnly``, ``OpsLogError/closed``, a background write failure not
  ///   reported yet, or the truncation's ``OpsLogError/io(path:errno:reason:)`` (then nothing
  ///   is undone).
  @discardableResult
  public func undo() async throws -> Bool {
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    // The strategy keeps other writers from taking the lines in a snapshot while they are
    // cut off (an agent holds `.compact-lock`).
    return try await strategy.guardingUndo(backend: backend) { try await undoHoldingMutationLock() }
  }

  /// ``undo()`` for a caller that holds the mutation lock and the strategy's undo guard.
  func undoHoldingMutationLock() async throws -> Bool {
    try await checkLogBeforeMutation()
    while true {
      let step = try state.withLock { state -> UndoStep<Record> in
        try state.checkMutable(readOnly: options.readOnly)
        // The last operation this store may undo: with other writers' operations merged in,
        // not necessarily the last one applied.
        guard let index = state.journal.lastIndex(where: { strategy.owns(agent: $0.operation.agent) }) else {
          return .nothing
        }
        let last = state.journal[index]
        if index != state.journal.count - 1 {
          if last.sequence > state.writtenSequence { return .waitFor(last.sequence) }
          return .truncate(last, path: state.walPath, length: state.walLength, generation: state.generation)
        }
        if last.sequence > state.takenSequence {
          // Still in the buffer: drop its line, no I/O.
          state.pending.removeLast(last.lineLength)
          state.pendingCount -= 1
          state.takeBackLast()
          // Callers waiting for it now wait for the operation before it.
          for index in state.waiters.indices where state.waiters[index].sequence == last.sequence {
            state.waiters[index].sequence = last.sequence - 1
          }
          if state.pending.isEmpty && !state.writerActive {
            for waiter in state.becomeIdle() { waiter.continuation.resume(returning: .written) }
          }
          return .done
        }
        if last.sequence > state.writtenSequence { return .waitFor(last.sequence) }
        return .truncate(last, path: state.walPath, length: state.walLength, generation: state.generation)
      }
      switch step {
      case .nothing: return false
      case .done: return true
      case .waitFor(let sequence):
        try await waitForWrite(upTo: sequence)
      case .truncate(let entry, let path, let length, let generation):
        try await backend.truncate(path, toLength: length - entry.lineLength, durability: options.durability)
        let applied = state.withLock { state -> Bool in
          guard state.generation == generation,
            let index = state.journal.lastIndex(where: { strategy.owns(agent: $0.operation.agent) }),
            state.journal[index].sequence == entry.sequence
          else { return false }
          state.walLength -= entry.lineLength
          if index == state.journal.count - 1 {
            state.takeBackLast()
          } else {
            state.removeAndRederive(at: index)
            state.operationsSinceCheckpoint -= 1
          }
          return true
        }
        if applied { return true }
      }
    }
  }
}

/// The changes of a ``Store/batch(_:)`` body, seen by the body as if already applied.
public struct Batch<Record: Sendable> {
  /// One change, with the record it replaces as the batch saw it (its delta and undo base).
  struct Change {
    var id: String
    /// The new record; `nil` for a delete.
    var record: Record?
    var previous: Record?
  }

  let base: RecordTable<Record>
  var overlay: [String: Record?] = [:]
  var changes: [Change] = []

  init(base: RecordTable<Record>) { self.base = base }

  /// Sets `id` to `value` (creates or replaces it). An empty `id` makes ``Store/batch(_:)``
  /// throw ``OpsLogError/invalidArgument(_:)`` and write nothing.
  public mutating func set(_ id: String, _ value: Record) {
    changes.append(Change(id: id, record: value, previous: get(id)))
    overlay[id] = .some(value)
  }

  /// Deletes `id`.
  /// - Throws: ``OpsLogError/notFound(id:)`` when, as the batch sees the store, no record has it.
  public mutating func delete(_ id: String) throws {
    guard let previous = get(id) else { throw OpsLogError.notFound(id: id) }
    changes.append(Change(id: id, record: nil, previous: previous))
    overlay[id] = .some(nil)
  }

  /// The record `id` as the batch sees it: the store with the batch's own changes applied.
  public func get(_ id: String) -> Record? {
    if let changed = overlay[id] { return changed }
    return base.get(id)
  }

  /// The number of operations the batch holds.
  public var count: Int { changes.count }
}

/// What the writer does after an append.
enum WriterNext {
  case stop, carryOn
  case handOff(CommitWaiter)
}

/// What undo has to do for the last operation.
enum UndoStep<Record: Sendable> {
  case nothing, done
  case waitFor(UInt64)
  case truncate(JournalEntry<Record>, path: String, length: Int, generation: Int)
}
