import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Synchronization
import Testing

/// Holds one chosen backend call until told to go on, so that a test knows where another
/// store's work stands (a mutation holding its mutation lock, a compaction between its cut
/// and its switch): ``hold(_:)`` is a `ForwardingBackend`'s `before` hook.
final class CallPause: Sendable {
  private struct State: Sendable {
    var matches: (@Sendable (ForwardingBackend.Call) -> Bool)? = nil
    var reached = false
    var released = false
  }
  private let state = Mutex(State())

  /// The next call for which `matches` holds waits until ``resume()``.
  func pauseNext(where matches: @escaping @Sendable (ForwardingBackend.Call) -> Bool) {
    state.withLock { $0 = State(matches: matches) }
  }
  /// The next read of the manifest's change token waits until ``resume()``.
  func pauseNextManifestToken() { pauseNext { $0 == .changeToken(ManifestCodec.fileName) } }
  /// Waits until a caller is held by the pause.
  func waitUntilPaused() async throws {
    while !state.withLock({ $0.reached }) { try await Task.sleep(for: .milliseconds(1)) }
  }
  func resume() { state.withLock { $0.released = true } }

  func hold(_ call: ForwardingBackend.Call) async throws {
    let held = state.withLock { state -> Bool in
      guard let matches = state.matches, matches(call) else { return false }
      state.matches = nil
      state.reached = true
      return true
    }
    if held {
      while !state.withLock({ $0.released }) { try await Task.sleep(for: .milliseconds(1)) }
    }
  }
}

/// Runs `body`, failing the test (instead of hanging it) when it takes longer than `limit`.
func within<T: Sendable>(
  _ limit: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
  try await withThrowingTaskGroup(of: T?.self) { group in
    group.addTask { try await body() }
    group.addTask {
      try await Task.sleep(for: limit)
      return nil
    }
    guard let first = try await group.next(), let result = first else {
      group.cancelAll()
      throw LimitExceeded(what: what, limit: limit)
    }
    group.cancelAll()
    return result
  }
}

struct LimitExceeded: Error, CustomStringConvertible {
  var what: String
  var limit: Duration
  var description: String { "\(what) took longer than \(limit)" }
}

/// Docs/API.md, "Multi-writer promises on compaction": compact() never deadlocks on its own lock,
/// never waits for one it holds, and returns at once when another process holds it.
@Suite("Multi-writer promises on compaction")
struct CompactionPromiseTests {
  @Test func compactAfterAnotherAgentRetiredThisAgentsWALDoesNotWaitForItsOwnLock() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("b", Note(text: "b"))
    try await a.compact()
    // B's cut finds its WAL retired and registers a new one, inside the lock it just took.
    let before = try b.manifest().currentSnapshot
    let started = ContinuousClock.now
    try await b.compact()
    #expect(ContinuousClock.now - started < .seconds(5))
    #expect(try b.manifest().currentSnapshot != before, "B compacted")
    #expect(try b.manifest().activeAgentOps?.map(\.agent) == ["B"])
    // A write of A that now needs the lock to register is not held up either.
    try await within(.seconds(5), "A's write after B's compaction") { try await a.set("a", Note(text: "a")) }
    try await b.refresh()
    #expect(try b.entries().map(\.id) == ["b", "a"])
    try await a.close()
    try await b.close()
    #expect(!FileManager.default.fileExists(atPath: location + "/.compact-lock"), "released")
  }

  @Test func compactionAndAWriteThatMustRegisterDoNotWaitForEachOther() async throws {
    let disk = MemoryDisk()
    let location = "/memory/promise-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let pause = CallPause()
    let pausing = ForwardingBackend(MemoryBackend(disk: disk), before: pause.hold)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = pausing })
    try await b.set("one", Note(text: "1"))
    try await a.compact()  // retires B's WAL

    // B's write holds B's mutation lock, about to find its WAL retired; B's compaction takes
    // .compact-lock meanwhile and waits for the mutation lock for its cut. The write must
    // enter the lock B holds, not wait for it.
    pause.pauseNextManifestToken()
    let write = Task { try await b.set("two", Note(text: "2")) }
    try await pause.waitUntilPaused()
    let before = try b.manifest().currentSnapshot
    let compaction = Task { try await b.compact() }
    while disk.bytes(at: location + "/.compact-lock") == nil { try await Task.sleep(for: .milliseconds(1)) }
    pause.resume()
    try await within(.seconds(10), "B's write and compaction") {
      try await write.value
      try await compaction.value
    }
    #expect(try b.manifest().currentSnapshot != before, "B compacted")
    #expect(try b.entries().map(\.id) == ["one", "two"])
    try await a.refresh()
    #expect(try a.entries().map(\.id) == ["one", "two"])
    try await a.close()
    try await b.close()
  }

  @Test func compactReturnsAtOnceWhileAnotherProcessHoldsTheLock() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await a.set("a", Note(text: "a"))
    try await b.compact()  // A's WAL is retired: A's compaction would have to register first
    let holder = try HelperRun(["hold-lock", location, ".compact-lock", "30"])
    defer { holder.stop() }
    while !FileManager.default.fileExists(atPath: location + "/.compact-lock") {
      try await Task.sleep(for: .milliseconds(5))
    }
    let snapshot = try a.manifest().currentSnapshot
    let started = ContinuousClock.now
    try await a.compact()
    #expect(ContinuousClock.now - started < .seconds(1))
    #expect(try a.manifest().currentSnapshot == snapshot, "skipped")
    holder.stop()
    try await a.close()
    try await b.close()
  }
}
