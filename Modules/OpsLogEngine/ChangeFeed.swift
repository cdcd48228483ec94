import Synchronization

/// A change to a store's state, as ``Store/changes(pollInterval:)`` delivers it.
///
/// Applying each change, in order, to a copy of the state taken before the first one gives
/// the store's state after the last one.
public enum StoreChange<Record: Sendable>: Sendable {
  /// Operations now in the state, in the order they were applied (a batch arrives whole).
  case applied([LogOperation<Record>])
  /// Operations taken back (an undo, this store's or the followed writer's, or a write that
  /// failed and was rolled back), newest first: the order in which to revert them. Each
  /// carries its full previous record (`PreviousValue.record(_:)`, or `PreviousValue.none`
  /// for a create), never a delta patch, so that reverting needs no JSON.
  case undone([LogOperation<Record>])
  /// The state was rebuilt (an archive, another agent's compaction, a follower that could not
  /// prove what happened between two polls, or a consumer that fell too far behind): read
  /// what you need afresh.
  case reloaded
}

/// The subscribers of one store's change feed. Changes are published under the store's state
/// lock, in apply order, so every subscriber sees them in that order exactly once.
@usableFromInline
struct ChangeFeed<Record: Sendable>: Sendable {
  var subscribers: [Int: ChangeSubscription<Record>] = [:] {
    didSet { isEmpty = subscribers.isEmpty }
  }
  var nextID = 0

  /// Whether nobody subscribes: stored, so that every write can check it inline (a getter in
  /// this module cost each `set` a generic metadata lookup, 2 % of `write-group`).
  @usableFromInline private(set) var isEmpty = true

  mutating func subscribe(_ subscription: ChangeSubscription<Record>) -> Int {
    let id = nextID
    nextID += 1
    subscribers[id] = subscription
    return id
  }

  func publish(_ change: StoreChange<Record>) {
    for subscription in subscribers.values { subscription.deliver(change) }
  }

  /// Ends every subscription (the store closed); their streams finish without an error.
  mutating func finishAll() {
    for subscription in subscribers.values { subscription.finish(throwing: nil) }
    subscribers = [:]
  }
}

/// One consumer's queue of changes: filled by the store, drained by the consumer's stream.
///
/// Memory stays bounded: a consumer that lets more than ``ChangeSubscription/limit`` changes
/// pile up gets one ``StoreChange/reloaded`` in their place, and changes published while that
/// marker waits are part of what it will read afresh, so they are not queued.
///
/// Outside the engine it is testing SPI (``Store/subscribeToChanges()``): a test's child
/// process that steps a store drains it after each step, knowing that every change of the
/// step is queued by the time the step returns.
@_spi(Testing)
public final class ChangeSubscription<Record: Sendable>: Sendable {
  /// Changes a consumer may fall behind by before they are coalesced into `.reloaded`.
  static var limit: Int { 10_000 }

  struct State {
    var queue: [StoreChange<Record>] = []
    var head = 0
    var waiting: CheckedContinuation<StoreChange<Record>?, any Error>? = nil
    var finished = false
    var failure: (any Error)? = nil
    var coalesced = false
  }
  let state = Mutex(State())

  func deliver(_ change: StoreChange<Record>) {
    let waiter = state.withLock { state -> CheckedContinuation<StoreChange<Record>?, any Error>? in
      if state.finished || state.coalesced { return nil }
      if let waiting = state.waiting {
        state.waiting = nil
        return waiting
      }
      if state.queue.count - state.head >= Self.limit {
        state.queue = [.reloaded]
        state.head = 0
        state.coalesced = true
      } else {
        state.queue.append(change)
      }
      return nil
    }
    waiter?.resume(returning: change)
  }

  /// What is queued now, without waiting (for tests that step a store and look).
  public func takeQueued() -> [StoreChange<Record>] {
    state.withLock { state in
      let queued = Array(state.queue[state.head...])
      state.queue.removeAll(keepingCapacity: true)
      state.head = 0
      state.coalesced = false
      return queued
    }
  }

  /// Ends the stream after what is queued: without an error when `error` is `nil`.
  func finish(throwing error: (any Error)?) {
    let waiter = state.withLock { state -> CheckedContinuation<StoreChange<Record>?, any Error>? in
      if state.finished { return nil }
      state.finished = true
      state.failure = error
      defer { state.waiting = nil }
      return state.waiting
    }
    if let error { waiter?.resume(throwing: error) } else { waiter?.resume(returning: nil) }
  }

  /// The next change, waiting for one; `nil` once finished and drained.
  func next() async throws -> StoreChange<Record>? {
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        let ready = state.withLock { state -> Result<StoreChange<Record>?, any Error>? in
          if state.head < state.queue.count {
            let change = state.queue[state.head]
            state.head += 1
            if state.head == state.queue.count {
              state.queue.removeAll(keepingCapacity: true)
              state.head = 0
            }
            if case .reloaded = change { state.coalesced = false }
            return .success(change)
          }
          if state.finished {
            defer { state.failure = nil }
            if let failure = state.failure { return .failure(failure) }
            return .success(nil)
          }
          if Task.isCancelled { return .success(nil) }
          state.waiting = continuation
          return nil
        }
        if let ready { continuation.resume(with: ready) }
      }
    } onCancel: {
      finish(throwing: nil)
    }
  }
}
