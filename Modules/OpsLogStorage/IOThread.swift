import Dispatch
import OpsLogTypes
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A thread of its own that runs blocking jobs one at a time, in submission order: the I/O
/// thread of an ``FsBackend``.
///
/// It exists for latency. A WAL append is a system call of about a microsecond, but handing it
/// to a sleeping thread and back costs two wake-ups of tens of microseconds each on a virtual
/// machine. So the thread stays awake a little after its last job (``idleSpin(afterIdle:)``),
/// and a caller that expects quick work
/// (``run(expectingQuickWork:_:)``) watches for the result a little before it suspends. Both
/// waits are bounded, so an idle backend costs nothing and a slow job costs a suspension as
/// before; the blocking call itself never runs on the caller's thread.
///
/// The thread starts on the first job and ends after a second with nothing to do, so a
/// backend nobody uses holds no thread.
package final class IOThread: Sendable {
  struct State: ~Copyable {
    /// Submitted and not yet taken, oldest first.
    var jobs: [@Sendable () -> Void] = []
    /// Whether a thread is running (or about to).
    var running = false
    /// Whether the thread sleeps on ``wake``, so that a submission must signal it.
    var sleeping = false
  }

  let state = Mutex(State())
  let wake = DispatchSemaphore(value: 0)
  /// Bumped (under the lock) on every submission; the idle thread watches it without the lock.
  let submissions = Atomic<Int>(0)
  /// The running thread's identity (see ``currentThreadIdentity``), 0 while none runs.
  let threadIdentity = Atomic<UInt>(0)

  /// How long the thread stays awake after its last job, waiting for the next one, when it
  /// last waited `idle` between the end of a job and the arrival of the next: twice that (at
  /// least 50 µs) for a caller that waits on every job (an immediate write, a job every
  /// 5-10 µs), so the next one finds it awake, and not at all when the caller came back later
  /// than 50 µs. The wait is measured from the end of a job, not its start, so that a long job
  /// (an fsync of a millisecond) followed at once by the next still keeps the thread awake.
  ///
  /// A group commit's leader, 50 buffered writes after the last group (~100-250 µs), finds
  /// the thread asleep and wakes it. Spinning for it until 250 µs was the faster way on a quiet
  /// host (`write-group` 0.87× the time), but where the host slows this guest (after another
  /// process's run, as in a side-by-side measurement) the spins ran out, the leaders waited
  /// out their watch and suspended, and each late group made the next one later:
  /// `write-group` ran at 141,000-213,000 sets a second against 190,000-375,000 without the
  /// spin (10 alternating runs, each after a run of the reference), with nothing lost for
  /// `write-immediate` or `write-async` (Benchmarks/PROFILE-NOTES.md, thirteenth session).
  static func idleSpin(afterIdle idle: Duration) -> Duration {
    guard idle < .microseconds(50) else { return .zero }
    return max(idle * 2, .microseconds(50))
  }
  /// How long a caller of quick work watches for its result before suspending: about what a
  /// suspension and a resumption cost here, so watching never costs more than it may save.
  static let callerSpin: Duration = .microseconds(30)
  /// How long the thread sleeps with nothing to do before it ends.
  static let idleExit: DispatchTimeInterval = .seconds(1)

  package init() {}

  /// Whether the calling code runs on this thread.
  var isCurrent: Bool {
    threadIdentity.load(ordering: .acquiring) == Self.currentThreadIdentity()
  }

  /// Queues `job` to run on the thread after every job submitted before it.
  func submit(_ job: @escaping @Sendable () -> Void) {
    let (starts, wakes) = state.withLock { state -> (Bool, Bool) in
      state.jobs.append(job)
      submissions.add(1, ordering: .releasing)
      if !state.running {
        state.running = true
        return (true, false)
      }
      if state.sleeping {
        state.sleeping = false
        return (false, true)
      }
      return (false, false)
    }
    if starts { startThread() }
    if wakes { wake.signal() }
  }

  /// Runs `body` on the thread and returns its result, in order with every other job.
  ///
  /// With `expectingQuickWork` (a WAL append without fsync), the caller watches for the result
  /// for up to ``callerSpin`` before it suspends: the job is usually done by then, and a
  /// suspension would cost more than the job. Otherwise it suspends at once.
  func run<Result: Sendable>(
    expectingQuickWork: Bool, _ body: @escaping @Sendable () throws -> Result
  ) async throws -> Result {
    precondition(!isCurrent, "a job on the I/O thread cannot wait for a later one")
    let completion = Completion<Result>()
    submit { completion.complete(Swift.Result { try body() }) }
    if expectingQuickWork, let result = completion.watch(for: Self.callerSpin) {
      return try result.get()
    }
    return try await completion.wait()
  }

  private func startThread() {
    let context = Unmanaged.passRetained(self).toOpaque()
    var thread = pthread_t()
    let status = pthread_create(&thread, nil, ioThreadMain, context)
    precondition(status == 0, "cannot start the I/O thread: \(String(cString: strerror(status)))")
    pthread_detach(thread)
  }

  /// The thread's life: run what is queued; with nothing queued, stay awake a while
  /// (``idleSpin(afterIdle:)``), then sleep; after ``idleExit`` asleep with nothing to do, end.
  fileprivate func runLoop() {
    threadIdentity.store(Self.currentThreadIdentity(), ordering: .releasing)
    var jobs: [@Sendable () -> Void] = []
    let clock = ContinuousClock()
    var lastFinish = clock.now
    var idle = Duration.seconds(1)
    while true {
      let seen = submissions.load(ordering: .acquiring)
      state.withLock { state in swap(&jobs, &state.jobs) }
      if !jobs.isEmpty {
        idle = clock.now - lastFinish
        for job in jobs { job() }
        jobs.removeAll(keepingCapacity: true)
        lastFinish = clock.now
        continue
      }
      let spin = Self.idleSpin(afterIdle: idle)
      if SpinWait.until({ submissions.load(ordering: .acquiring) != seen }, atMost: spin) { continue }
      let sleeps = state.withLock { state -> Bool in
        guard state.jobs.isEmpty else { return false }
        state.sleeping = true
        return true
      }
      guard sleeps, wake.wait(timeout: .now() + Self.idleExit) == .timedOut else { continue }
      let ends = state.withLock { state -> Bool in
        // A submission that found the thread asleep has signalled (or is about to): stay, and
        // let the next wait take that signal.
        guard state.sleeping, state.jobs.isEmpty else { return false }
        state.sleeping = false
        state.running = false
        // Cleared under the lock: a submission after it starts a new thread, which sets its
        // own identity only after this one is done with it.
        threadIdentity.store(0, ordering: .releasing)
        return true
      }
      if ends { return }
    }
  }

  /// The calling thread's identity as a number, never 0.
  static func currentThreadIdentity() -> UInt {
    #if canImport(Darwin)
      UInt(bitPattern: pthread_self())
    #else
      UInt(pthread_self())
    #endif
  }
}

/// The C entry point of an ``IOThread``: takes over the retain ``IOThread/startThread()`` made.
#if canImport(Darwin)
  private func ioThreadMain(_ context: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
    Unmanaged<IOThread>.fromOpaque(context).takeRetainedValue().runLoop()
    return nil
  }
#else
  private func ioThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<IOThread>.fromOpaque(context!).takeRetainedValue().runLoop()
    return nil
  }
#endif

/// The result of one job, handed from the I/O thread to the task that waits for it, whether
/// the task watches for it or suspends.
final class Completion<Value: Sendable>: Sendable {
  struct State: ~Copyable {
    var result: Result<Value, any Error>?
    var continuation: UnsafeContinuation<Value, any Error>?
  }

  let state = Mutex(State())
  /// Set once the result is in; watched without the lock.
  let isComplete = Atomic<Bool>(false)

  func complete(_ result: Result<Value, any Error>) {
    let continuation = state.withLock { state in
      guard let continuation = state.continuation else {
        state.result = result
        return UnsafeContinuation<Value, any Error>?.none
      }
      state.continuation = nil
      return continuation
    }
    isComplete.store(true, ordering: .releasing)
    continuation?.resume(with: result)
  }

  /// The result if it comes within `duration`, watching for it on the calling thread.
  func watch(for duration: Duration) -> Result<Value, any Error>? {
    guard SpinWait.until({ isComplete.load(ordering: .acquiring) }, atMost: duration) else { return nil }
    return state.withLock { $0.result.take() }
  }

  /// The result, suspending until it comes. The unsafe continuation skips the checked one's
  /// bookkeeping; it is resumed exactly once, here or by ``complete(_:)``.
  func wait() async throws -> Value {
    try await withUnsafeThrowingContinuation { continuation in
      let result = state.withLock { state in
        guard let result = state.result.take() else {
          state.continuation = continuation
          return Result<Value, any Error>?.none
        }
        return result
      }
      if let result { continuation.resume(with: result) }
    }
  }
}
