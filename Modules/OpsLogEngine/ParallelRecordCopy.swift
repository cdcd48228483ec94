import Dispatch
import OpsLogTypes
import Synchronization

/// Copies a table's matching records out on a second thread while the caller is still
/// finding them.
///
/// A filter has two costs of about the same size: running the predicate over every slot, and
/// copying each match out (a retain for every reference a record holds). The predicate need
/// not be `Sendable`, so it stays on the caller's thread, which hands the matching slots over
/// chunk by chunk (``submit(_:)``); a worker copies the chunks, oldest first, into the result
/// as they arrive. Once the scan is done the caller copies chunks too, newest first, until
/// the two meet (``finish()``). A large filter so costs about half the two together instead of
/// their sum.
///
/// Nothing mutable is shared outside the mutex: the slots are an immutable copy, the slot
/// numbers travel through the mutex, and each chunk is copied by one thread into an array
/// of its own side. The worker's array becomes the result; the caller's few chunks are moved
/// (not copied again) onto its end. The worker lets go of the slots before it reports done, so
/// that once ``finish()`` returns the table's storage is uniquely referenced again and the
/// next write does not copy it.
@usableFromInline
final class ParallelRecordCopy<Record: Sendable>: Sendable {
  @usableFromInline
  struct State: ~Copyable {
    /// Matching slots handed over, one array per chunk, oldest first. The worker takes from
    /// `nextPending` on; after the scan the caller takes from the end.
    @usableFromInline var pending: [[Int32]] = []
    @usableFromInline var nextPending = 0
    @usableFromInline var matchCount = 0
    @usableFromInline var scanDone = false
    @usableFromInline var worker = WorkerState.notStarted
    /// Whether the worker sleeps on ``chunkReady``, so that a hand-over must wake it. Set
    /// and read under the lock together with `pending` and `scanDone`, so no wake-up is lost.
    @usableFromInline var workerSleeps = false
    /// The worker's copies, all of them, once it has finished.
    @usableFromInline var result: [Record] = []
    /// The table's slots, until ``finish()`` or ``cancel()``.
    @usableFromInline var slots: [RecordTable<Record>.Entry?]

    @inlinable
    init(slots: [RecordTable<Record>.Entry?]) {
      self.slots = slots
    }

    @inlinable
    mutating func takeNext() -> [Int32]? {
      guard nextPending < pending.count else { return nil }
      defer {
        pending[nextPending] = []
        nextPending += 1
      }
      return pending[nextPending]
    }

    @inlinable
    mutating func takeLast() -> [Int32]? {
      guard nextPending < pending.count else { return nil }
      return pending.removeLast()
    }
  }

  @usableFromInline
  enum WorkerState: Sendable {
    /// Not needed yet; the caller copies everything when it never is.
    case notStarted
    /// Handed to Dispatch, not running yet.
    case dispatched
    case running
    /// Dispatched, but the caller finished before it ran: it returns at once.
    case cancelled
    case finished
  }

  @usableFromInline
  enum WorkerStep {
    case copy([Int32])
    case wait
    case stop
  }

  @usableFromInline let state: Mutex<State>
  /// Signalled when a hand-over finds the worker asleep.
  @usableFromInline let chunkReady = DispatchSemaphore(value: 0)
  @usableFromInline let workerDone = DispatchSemaphore(value: 0)
  /// Bumped (under the lock) on every hand-over and at the end of the scan: the worker
  /// watches it, without the lock, while it spins, which is much cheaper than a sleep and a
  /// wake-up for each chunk.
  @usableFromInline let handOvers = Atomic<Int>(0)
  /// Slots the table has, for the worker's first guess at the result's size.
  @usableFromInline let slotCount: Int
  /// Tests set it so that ``finish()`` waits for a worker Dispatch has not started yet rather
  /// than calling it off, which makes the caller and the worker share the copying every time.
  @usableFromInline let waitsForWorker: Bool

  /// Below this many matches the caller copies everything itself: waking a worker costs tens
  /// of microseconds, about what copying this many small records on a second thread saves.
  @inlinable
  static var minimumParallelMatches: Int { 1_024 }

  /// Slots scanned between hand-overs: small enough that the worker starts early and ends
  /// soon after the scan, large enough that hand-overs cost nothing next to the scan.
  @inlinable
  static var chunkSize: Int { 8_192 }

  /// How long the worker watches for the next chunk before it sleeps: a few chunks' worth of
  /// scanning.
  @usableFromInline
  static var handOverSpin: Duration { .microseconds(100) }

  @inlinable
  init(slots: [RecordTable<Record>.Entry?], waitsForWorker: Bool = false) {
    state = Mutex(State(slots: slots))
    slotCount = slots.count
    self.waitsForWorker = waitsForWorker
  }

  /// Hands over the next chunk's matching slots (ascending). Starts the worker once enough
  /// matches are waiting to be worth a second thread.
  @inlinable
  func submit(_ matches: [Int32]) {
    let (startsWorker, wakesWorker) = state.withLock { state -> (Bool, Bool) in
      state.pending.append(matches)
      state.matchCount += matches.count
      handOvers.add(1, ordering: .releasing)
      if state.workerSleeps {
        state.workerSleeps = false
        return (false, true)
      }
      guard state.worker == .notStarted, state.matchCount >= Self.minimumParallelMatches else { return (false, false) }
      state.worker = .dispatched
      return (true, false)
    }
    if startsWorker { DispatchQueue.global().async { self.runWorker() } }
    if wakesWorker { chunkReady.signal() }
  }

  /// Every submitted match's record, in submission order.
  ///
  /// With the worker running, the caller copies the newest chunks it has not reached, waits
  /// for it, and moves its own copies onto the end of the worker's. A worker Dispatch has not
  /// started yet is called off rather than waited for (the caller then copies everything), so
  /// the caller never blocks on a thread that may be slow to come.
  @inlinable
  func finish() -> [Record] {
    let (slots, workerRuns, wakesWorker) = state.withLock { state in
      state.scanDone = true
      handOvers.add(1, ordering: .releasing)
      if state.worker == .notStarted || (state.worker == .dispatched && !waitsForWorker) {
        state.worker = .cancelled
      }
      defer {
        state.workerSleeps = false
        // A worker dispatched but not started yet takes the slots when it starts: emptying
        // them now would leave it indexing an empty array. They go with this object then.
        if state.worker != .dispatched { state.slots = [] }
      }
      return (state.slots, state.worker != .cancelled, state.workerSleeps)
    }
    if wakesWorker { chunkReady.signal() }
    guard workerRuns else {
      var records: [Record] = []
      records.reserveCapacity(state.withLock { $0.matchCount })
      while let matches = state.withLock({ $0.takeNext() }) { copy(matches, from: slots, into: &records) }
      return records
    }
    // Newest first; optional so that the records can be moved out below, leaving nil.
    var taken: [[Record?]] = []
    while let matches = state.withLock({ $0.takeLast() }) {
      taken.append(matches.map { slots[Int($0)].unsafelyUnwrapped.record })
    }
    workerDone.wait()
    var result = state.withLock { state in
      defer { state.result = [] }
      return state.result
    }
    result.reserveCapacity(result.count + taken.reduce(0) { $0 + $1.count })
    for chunk in taken.indices.reversed() {
      taken[chunk].withUnsafeMutableBufferPointer { records in
        for index in records.indices {
          result.append(records.moveElement(from: index).unsafelyUnwrapped)
          records.initializeElement(at: index, to: nil)
        }
      }
    }
    return result
  }

  /// Stops the worker after the chunk it is copying, when the scan ends early (the predicate
  /// threw). The worker may outlive the call; it touches nothing but this object.
  @inlinable
  func cancel() {
    let wakesWorker = state.withLock { state -> Bool in
      state.scanDone = true
      state.nextPending = state.pending.count
      state.slots = []
      handOvers.add(1, ordering: .releasing)
      if state.worker == .dispatched { state.worker = .cancelled }
      defer { state.workerSleeps = false }
      return state.workerSleeps
    }
    if wakesWorker { chunkReady.signal() }
  }

  @inlinable
  func runWorker() {
    var records: [Record] = []
    do {
      // Taken with the switch to running, so that finish() cannot empty them in between;
      // scoped, so that the worker's reference to them ends before it reports done.
      let slots = state.withLock { state -> [RecordTable<Record>.Entry?]? in
        guard state.worker == .dispatched else { return nil }
        state.worker = .running
        return state.slots
      }
      guard let slots else { return }
      work: while true {
        let seen = handOvers.load(ordering: .acquiring)
        let step = state.withLock { state -> WorkerStep in
          if let next = state.takeNext() { return .copy(next) }
          return state.scanDone ? .stop : .wait
        }
        switch step {
        case .copy(let matches):
          if records.capacity == 0 { records.reserveCapacity(expectedCount(after: matches.count)) }
          copy(matches, from: slots, into: &records)
        case .wait: waitForHandOver(after: seen)
        case .stop: break work
        }
      }
    }
    state.withLock { state in
      // Moved, not copied: were the worker's own reference still alive once the caller takes
      // the result, the caller's append would find the buffer shared and copy every record.
      state.result = records
      records = []
      state.worker = .finished
    }
    workerDone.signal()
  }

  /// The result's size extrapolated from the matches so far, so that the worker's array is
  /// not regrown (a move of every record so far) a dozen times.
  @inlinable
  func expectedCount(after firstChunk: Int) -> Int {
    let (matches, chunks) = state.withLock { ($0.matchCount, $0.pending.count) }
    let scanned = max(1, chunks * Self.chunkSize)
    return max(firstChunk, Int((Double(matches) * Double(slotCount) / Double(scanned)) * 1.05))
  }

  /// Waits until the caller hands over more than `seen`: spinning first, since the next chunk
  /// is usually tens of microseconds away, then asleep on ``chunkReady``.
  @usableFromInline
  func waitForHandOver(after seen: Int) {
    if SpinWait.until({ handOvers.load(ordering: .acquiring) != seen }, atMost: Self.handOverSpin) { return }
    let sleeps = state.withLock { state -> Bool in
      guard !state.scanDone, state.nextPending == state.pending.count else { return false }
      state.workerSleeps = true
      return true
    }
    if sleeps { chunkReady.wait() }
  }

  @inlinable
  func copy(_ matches: [Int32], from slots: [RecordTable<Record>.Entry?], into records: inout [Record]) {
    for slot in matches { records.append(slots[Int(slot)].unsafelyUnwrapped.record) }
  }
}
