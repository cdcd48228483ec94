/// The path from an applied operation to the WAL: the pending buffer, the sequence marks, the
/// callers waiting for their writes, and what a failed write leaves to roll back.
///
/// Invariants (each holds whenever the store's state mutex is not held):
/// 1. Sequences are handed out in apply order, one per operation, starting at 1; operations
///    loaded from disk carry sequence 0 (already written).
/// 2. `writtenSequence <= takenSequence < nextSequence`: every operation up to
///    `writtenSequence` is in the WAL, every one up to `takenSequence` is written or in the
///    single append in flight, and the lines of the others are in `pending`, in sequence
///    order, `pendingCount` of them.
/// 3. `committedLength` is the WAL's length once everything written so far is there;
///    `inFlightLength` the bytes of the append in flight. The next queued line starts at
///    `queuedEnd` (`committedLength + inFlightLength + pending.count`): that offset is recorded
///    with the operation and is where undo cuts the file (Docs/FORMAT.md, "Undo").
/// 4. A unit (one operation, or a batch) is queued whole under one hold of the mutex, and a
///    writer takes the whole buffer, so a unit's lines always go out in one append.
/// 5. At most one writer (`writerActive`) appends at a time. A failed append rolls back, in
///    memory, every operation from the failed one on, newest first (``StoreState``'s
///    `rollBack(from:error:)`), so memory equals the WAL again; nothing is written until then.
@usableFromInline
struct CommitPipeline: Sendable {
  @usableFromInline var pending: [UInt8] = []
  /// An empty buffer with capacity, from the last write, that becomes `pending` next.
  var spareBuffer: [UInt8] = []
  @usableFromInline var pendingCount = 0
  @usableFromInline var nextSequence: UInt64 = 1
  /// Every sequence up to this one has been taken by a writer (in flight or written).
  var takenSequence: UInt64 = 0
  /// Every sequence up to this one is in the WAL.
  var writtenSequence: UInt64 = 0
  /// The WAL's length with every completed append in it.
  @usableFromInline var committedLength: Int
  /// Bytes of the append in flight, 0 when none is.
  @usableFromInline var inFlightLength = 0
  var writerActive = false
  var waiters: [CommitWaiter] = []
  /// A failure that cost operations whose callers were already told they succeeded (group
  /// and async modes): the next write call, `flush()`, `sync()` or `close()` throws it.
  @usableFromInline var backgroundError: (any Error)? = nil
  /// Sequences lost to failed writes, so a caller still on its way to wait learns of it.
  var failedRanges: [(range: ClosedRange<UInt64>, error: any Error)] = []
  @usableFromInline var backgroundWriterScheduled = false
  @usableFromInline var groupTimerArmed = false

  init(committedLength: Int) {
    self.committedLength = committedLength
  }

  /// Where the next queued line will start in the WAL.
  @inlinable
  var queuedEnd: Int { committedLength + inFlightLength + pending.count }

  /// Queues a line; returns its sequence.
  @inlinable
  mutating func enqueue(_ line: [UInt8]) -> UInt64 {
    let sequence = nextSequence
    nextSequence += 1
    pending.append(contentsOf: line)
    pendingCount += 1
    return sequence
  }

  /// What a writer takes: the whole buffer, in one append.
  struct Append: Sendable {
    var bytes: [UInt8]
    var first: UInt64
    var last: UInt64
  }

  /// Takes the whole buffer for one append, or returns `nil` when it is empty.
  mutating func take() -> Append? {
    guard !pending.isEmpty else { return nil }
    // The buffer a writer handed back keeps its capacity: a fresh one would regrow (and copy
    // itself) by doubling from empty for every append.
    var bytes: [UInt8] = []
    swap(&bytes, &pending)
    swap(&pending, &spareBuffer)
    pendingCount = 0
    // Every sequence after the last append's belongs to this one: an undo of a buffered
    // operation leaves a gap, so counting back from the newest would miss the oldest.
    let first = takenSequence + 1
    let last = nextSequence - 1
    takenSequence = last
    inFlightLength = bytes.count
    return Append(bytes: bytes, first: first, last: last)
  }

  /// The append of `append` succeeded; keeps its buffer for reuse when worth it.
  mutating func didWrite(_ append: inout Append) {
    writtenSequence = append.last
    committedLength += inFlightLength
    inFlightLength = 0
    append.bytes.removeAll(keepingCapacity: true)
    if append.bytes.capacity > spareBuffer.capacity && append.bytes.capacity <= Self.largestSpareBuffer {
      swap(&append.bytes, &spareBuffer)
    }
  }

  /// The largest buffer kept for reuse; a rare huge batch should not pin its memory.
  static var largestSpareBuffer: Int { 4 << 20 }

  /// Drops the last `count` queued lines, `byteCount` bytes in all (undo of operations not
  /// taken yet). Callers waiting for them now wait for the operation before them.
  mutating func dropLast(_ count: Int, byteCount: Int, firstSequence: UInt64) {
    pending.removeLast(byteCount)
    pendingCount -= count
    for index in waiters.indices where waiters[index].sequence >= firstSequence {
      waiters[index].sequence = firstSequence - 1
    }
  }

  /// The writer steps down with nothing buffered: every operation that still exists is
  /// written (undo may have dropped the last buffered ones, whose sequences will never be
  /// written), so the marks catch up; returns the waiters that are now ready.
  mutating func becomeIdle() -> [CommitWaiter] {
    writerActive = false
    takenSequence = nextSequence - 1
    writtenSequence = nextSequence - 1
    return collectWritten()
  }

  /// Removes and returns the waiters whose operations are now written.
  mutating func collectWritten() -> [CommitWaiter] {
    var ready: [CommitWaiter] = []
    waiters.removeAll { waiter in
      if waiter.sequence <= writtenSequence {
        ready.append(waiter)
        return true
      }
      return false
    }
    return ready
  }

  /// The failed append starting at `firstSequence` is void: nothing queued survives it.
  /// Returns every waiter, to be told its outcome.
  mutating func fail(from firstSequence: UInt64, error: any Error) -> [CommitWaiter] {
    pending = []
    pendingCount = 0
    inFlightLength = 0
    let last = nextSequence - 1
    if last >= firstSequence { failedRanges.append((firstSequence...last, error)) }
    takenSequence = last
    writtenSequence = last
    writerActive = false
    let all = waiters
    waiters = []
    return all
  }

  /// Whether `sequence` was lost to a failed write, and the failure.
  func failure(of sequence: UInt64) -> (any Error)? {
    failedRanges.last(where: { $0.range.contains(sequence) })?.error
  }

  /// The background write failure not reported yet, which is reported only once.
  @usableFromInline
  mutating func takeBackgroundError() -> (any Error)? {
    defer { backgroundError = nil }
    return backgroundError
  }

  /// A new WAL (a checkpoint's switch or a reload) whose length is `length`, with nothing in
  /// flight or queued: appends go there from now on.
  mutating func switchWAL(length: Int) {
    committedLength = length
    inFlightLength = 0
  }
}

/// Someone waiting for the WAL write of every operation up to `sequence`.
struct CommitWaiter: Sendable {
  var sequence: UInt64
  var continuation: CheckedContinuation<CommitSignal, any Error>
}

/// What a waiter is told when it wakes.
enum CommitSignal: Sendable {
  /// Its operations are in the WAL.
  case written
  /// Nobody is writing: it must write the pending buffer itself.
  case lead
}
