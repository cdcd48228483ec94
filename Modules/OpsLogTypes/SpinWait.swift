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
  /// preempted (the clock jumped): then sleeping is the better way to wait.
  package static func until(_ condition: () -> Bool, atMost duration: Duration) -> Bool {
    let clock = ContinuousClock()
    var last = clock.now
    let deadline = last.advanced(by: duration)
    while true {
      // A few looks per clock reading: reading the clock costs more than a look.
      for _ in 0..<16 where condition() { return true }
      let now = clock.now
      if now >= deadline || now - last > .microseconds(10) { return condition() }
      last = now
    }
  }
}
