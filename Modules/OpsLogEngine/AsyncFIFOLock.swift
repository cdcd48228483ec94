import Synchronization

/// An asynchronous lock that admits waiters strictly in arrival order.
///
/// Mutations of a store hold it while they update the in-memory state and queue their WAL
/// bytes, so they take effect in call order; unlike an actor, holding it across an `await`
/// does not let another mutation interleave.
@usableFromInline
final class AsyncFIFOLock: Sendable {
  private struct State {
    var isLocked = false
    var waiters: [CheckedContinuation<Void, Never>] = []
    var head = 0
  }
  private let state = Mutex(State())

  @usableFromInline
  init() {}

  @usableFromInline
  nonisolated(nonsending) func lock() async {
    let acquired = state.withLock { state -> Bool in
      if !state.isLocked {
        state.isLocked = true
        return true
      }
      return false
    }
    if acquired { return }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let acquiredNow = state.withLock { state -> Bool in
        if !state.isLocked {
          state.isLocked = true
          return true
        }
        state.waiters.append(continuation)
        return false
      }
      if acquiredNow { continuation.resume() }
    }
  }

  @usableFromInline
  func unlock() {
    let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
      guard state.head < state.waiters.count else {
        state.isLocked = false
        state.waiters.removeAll(keepingCapacity: true)
        state.head = 0
        return nil
      }
      let next = state.waiters[state.head]
      state.head += 1
      if state.head > 64 && state.head * 2 > state.waiters.count {
        state.waiters.removeFirst(state.head)
        state.head = 0
      }
      return next  // the lock passes to it still held
    }
    next?.resume()
  }
}
