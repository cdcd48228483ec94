import Foundation
import Synchronization
import Testing

@testable import OpsLogTypes

@Suite("SpinWait")
struct SpinWaitTests {
  /// A condition another thread makes true within the wait is seen, and the wait ends then,
  /// not at its deadline.
  ///
  /// The condition is set from a thread of its own, not from a Dispatch queue: with the whole
  /// suite running, Dispatch's threads can all be busy for many seconds (a run in CI never
  /// got to set it). The waiting side is bounded by time, not by a number of tries: a spin
  /// that finds its thread preempted gives up early and reports what it sees then, and on a
  /// busy machine it may take many.
  @Test func seesAConditionAnotherThreadSets() {
    let flag = Flag()
    let clock = ContinuousClock()
    let setter = Thread {
      Thread.sleep(forTimeInterval: 0.002)
      flag.setAt.withLock { $0 = clock.now }
      flag.value.store(true, ordering: .releasing)
    }
    setter.start()
    var held = false
    let deadline = clock.now + .seconds(60)
    while !held && clock.now < deadline {
      held = SpinWait.until({ flag.value.load(ordering: .acquiring) }, atMost: .seconds(60))
    }
    let seen = clock.now
    #expect(held)
    // Seen soon after it was set (a preempted spin starts again at once), far from the
    // wait's 60 s.
    if let setAt = flag.setAt.withLock({ $0 }) { #expect(seen - setAt < .seconds(5)) }
  }

  /// A condition that never holds is reported as not holding, after at most the wait's
  /// duration (plus one clock reading's gap).
  @Test func givesUpAtTheDeadline() {
    let clock = ContinuousClock()
    let start = clock.now
    #expect(!SpinWait.until({ false }, atMost: .milliseconds(5)))
    #expect(clock.now - start < .seconds(1))
  }

  /// A gap of a virtual machine's own (tens of microseconds) is not taken for a preemption;
  /// a scheduler's time slice is.
  @Test func preemptionGapLiesBetweenHypervisorNoiseAndATimeSlice() {
    #expect(SpinWait.preemptionGap >= .microseconds(50))
    #expect(SpinWait.preemptionGap <= .milliseconds(1))
  }
}

private final class Flag: Sendable {
  let value = Atomic<Bool>(false)
  let setAt = Mutex<ContinuousClock.Instant?>(nil)
}
