import OpsLogStorage
import OpsLogTypes
import Synchronization

/// `.compact-lock` as one agent (one open store) holds it.
///
/// Every manifest rewrite of an agent happens under this lock: a compaction for its whole
/// length, and, under the store's mutation lock, registering a new WAL, carrying stranded
/// lines and the final check on close. The compaction holds it while it waits for the
/// mutation lock, and a mutation may need it while the compaction runs (its cut finds this
/// agent's WAL retired by an earlier compaction of another agent, say). Waiting for it there
/// would deadlock, so the lock is the store's, not a task's: while this store holds it, any
/// path of the store that needs it enters it again at once, and the file lock is released when
/// the last of them is done. That is safe because the paths of one store that change the
/// manifest are already ordered by its mutation lock; the file lock keeps other processes
/// and other stores out. The backend is never asked for a lock this store holds.
final class CompactLock: Sendable {
  static let name = ".compact-lock"

  /// How long registering a WAL waits for another agent's compaction to finish.
  static let defaultWait: Duration = .seconds(60)

  /// Serializes taking and releasing the file lock among this store's tasks, so that two of
  /// them never both ask the backend for it; never held while the lock is merely held.
  private let gate = AsyncGate()
  /// How many of this store's paths are inside the lock; the file lock is held while > 0.
  private let holds = Mutex(0)

  /// Whether this store holds the lock now.
  var isHeld: Bool { holds.withLock { $0 > 0 } }

  /// Takes the lock, or enters it again when this store holds it already.
  ///
  /// - Parameter wait: how long to wait while another process or store holds it; `nil`
  ///   tries once.
  /// - Returns: success, or the backend's ``OpsLogError/locked(holder:)`` when another
  ///   holder kept the lock for all of `wait`.
  /// - Throws: the backend's other errors.
  func acquire(_ backend: any StorageBackend, waitingUpTo wait: Duration?) async throws -> Result<Void, OpsLogError> {
    let clock = ContinuousClock()
    let deadline = wait.map { clock.now + $0 }
    while true {
      await gate.lock()
      if holds.withLock({ holds in
        guard holds > 0 else { return false }
        holds += 1
        return true
      }) {
        gate.unlock()
        return .success(())
      }
      do {
        try await backend.acquireLock(Self.name)
        holds.withLock { $0 = 1 }
        gate.unlock()
        return .success(())
      } catch let error as OpsLogError {
        gate.unlock()
        guard case .locked = error else { throw error }
        guard let deadline, clock.now < deadline else { return .failure(error) }
      } catch {
        gate.unlock()
        throw error
      }
      try await Task.sleep(for: .milliseconds(5))
    }
  }

  /// Leaves the lock; the last path of this store to leave releases the file lock.
  func release(_ backend: any StorageBackend) async {
    await gate.lock()
    defer { gate.unlock() }
    let last = holds.withLock { holds -> Bool in
      precondition(holds > 0, "releasing .compact-lock that this store does not hold")
      holds -= 1
      return holds == 0
    }
    // It fails only once the backend has shut down, which released every lock already.
    if last { try? await backend.releaseLock(Self.name) }
  }

  /// Runs `body` inside the lock, waiting up to ``defaultWait`` for another holder.
  ///
  /// - Throws: ``OpsLogError/locked(holder:)`` when another holder kept it all that time, and
  ///   whatever `body` throws.
  func withLock<T: Sendable>(_ backend: any StorageBackend, _ body: () async throws -> T) async throws -> T {
    try await acquire(backend, waitingUpTo: Self.defaultWait).get()
    do {
      let result = try await body()
      await release(backend)
      return result
    } catch {
      await release(backend)
      throw error
    }
  }
}

/// A lock for tasks that admits them in arrival order; held only for short steps.
final class AsyncGate: Sendable {
  private struct State {
    var isLocked = false
    var waiters: [CheckedContinuation<Void, Never>] = []
  }
  private let state = Mutex(State())

  func lock() async {
    let acquired = state.withLock { state -> Bool in
      if state.isLocked { return false }
      state.isLocked = true
      return true
    }
    if acquired { return }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let acquiredNow = state.withLock { state -> Bool in
        if state.isLocked {
          state.waiters.append(continuation)
          return false
        }
        state.isLocked = true
        return true
      }
      if acquiredNow { continuation.resume() }
    }
  }

  func unlock() {
    let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
      if state.waiters.isEmpty {
        state.isLocked = false
        return nil
      }
      return state.waiters.removeFirst()  // the lock passes to it still held
    }
    next?.resume()
  }
}
