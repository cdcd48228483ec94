import Dispatch
import Synchronization
import Testing

@testable import OpsLogTypes

@Suite("SpinWait")
struct SpinWaitTests {
  /// A condition another thread makes true within the wait is seen, and the wait ends then,
  /// not at its deadline.
  @Test func seesAConditionAnotherThreadSets() {
    let flag = Flag()
    let clock = ContinuousClock()
    let start = clock.now
    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(2)) {
      flag.value.store(true, ordering: .releasing)
    }
    // A spin that finds its thread preempted gives up early and reports what it sees then, so
    // a busy machine may take a few.
    var held = false
    for _ in 0..<1_000 where !held {
      held = SpinWait.until({ flag.value.load(ordering: .acquiring) }, atMost: .seconds(5))
    }
    #expect(held)
    #expect(clock.now - start < .seconds(5))
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
}
