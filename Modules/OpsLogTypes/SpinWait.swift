/// Waiting for another thread by watching, for waits expected to be shorter than a thread's
/// sleep and wake-up (tens of microseconds on a virtual machine). In the lowest layer so that
/// every layer above may use it; the storage layer's I/O thread does (its callers and the
/// thread itself), each falling back to sleeping on a semaphore.
package enum SpinWait {
  /// Watches `condition` until it holds or `duration` has passed; whether it holds.
  ///
  /// It never yields the processor: under contention a yield returns only when the scheduler
  /// comes back to this thread, a whole time slice later, where a thread that sleeps is let in
  /// as soon as it is woken. For the same reason it gives up early when the thread was
  /// preempted (the clock jumped by more than ``preemptionGap``): then sleeping is the better
  /// way to wait.
  package static func until(_ condition: () -> Bool, atMost duration: Duration) -> Bool {
    let clock = ContinuousClock()
    var last = clock.now
    let deadline = last.advanced(by: duration)
    while true {
      // A few looks per clock reading: reading the clock costs more than a look.
      for _ in 0..<16 where condition() { return true }
      let now = clock.now
      if now >= deadline || now - last > preemptionGap { return condition() }
      last = now
    }
  }

  /// A gap between two clock readings longer than this means the thread was preempted.
  ///
  /// A preemption by another thread lasts a scheduler time slice, milliseconds. Gaps of 10 to
  /// 100 µs are the virtual machine's own (interrupts, exits to the hypervisor): at the
  /// earlier 10 µs, 200-350 of the I/O thread's idle waits a second ended on one in
  /// `write-group` and the thread went to sleep, so the next group's leader found it asleep,
  /// waited past its own watch and suspended, which made the next gap longer still (runs
  /// bimodal between 220,000 and 340,000 sets a second). At 100 µs: `write-group` 0.88-0.95×
  /// the time, its slowest runs 0.84×, `write-immediate` and `write-async` unchanged
  /// (alternating runs, Benchmarks/PROFILE-NOTES.md, eleventh session). The I/O thread has
  /// since stopped waiting for a group's leader at all (`IOThread.idleSpin(afterIdle:)`); the
  /// gap still ends its waits for immediate writes and a quick job's caller's watch.
  package static var preemptionGap: Duration { .microseconds(100) }
}
