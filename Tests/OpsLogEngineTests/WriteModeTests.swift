import Foundation
import OpsLogCodec
import OpsLogTestSupport
import Synchronization
import Testing

@testable import OpsLogEngine

@Suite("Write modes, durability and failures")
struct WriteModeTests {
  /// A task that prefers the store's I/O executor gets the same results in every write mode;
  /// only where the code runs changes.
  @Test(arguments: [WriteMode.immediate, .group, .async], BackendKind.allCases)
  func writesUnderTheStoreExecutorBehaveTheSame(mode: WriteMode, kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let configure: (inout StoreOptions) -> Void = {
      $0.writeMode = mode
      $0.groupCommitSize = 7
      // No checkpoint: one cutting the log between the batch and the undos would make them
      // (rightly) find nothing to undo.
      $0.checkpointThreshold = 1_000
    }
    let store = try await location.open(Todo.self, configure)
    #expect((store.taskExecutor != nil) == (kind == .filesystem))
    try await withTaskExecutorPreference(store.taskExecutor) {
      for index in 0..<60 {
        try await store.set("t\(index % 20)", Todo(title: "T\(index)", status: "active", priority: index))
      }
      try await store.delete("t3")
      try await store.batch { batch in
        batch.set("b1", Todo(title: "B1", status: "done"))
        try batch.delete("t4")
      }
      // The batch is one undo step, the delete before it the next.
      #expect(try await store.undo())
      #expect(try await store.undo())
      try await store.flush()
    }
    #expect(try store.count() == 20)
    #expect(try store.get("t4") != nil && store.get("b1") == nil && store.get("t3") != nil)
    #expect(try store.get("t19")?.priority == 59)
    let expected = try store.entries().map { "\($0.id)=\($0.record.title)" }
    try await store.close()

    let reopened = try await location.open(Todo.self, configure)
    #expect(try reopened.entries().map { "\($0.id)=\($0.record.title)" } == expected)
    try await reopened.close()
  }

  /// Opening (and decoding on both cores) from a task that prefers another store's I/O
  /// executor works, and the first store's I/O goes on meanwhile.
  @Test func openingFromAnotherStoresExecutorWorks() async throws {
    let first = TestLocation(.filesystem)
    let second = TestLocation(.filesystem)
    defer {
      first.cleanUp()
      second.cleanUp()
    }
    let writer = try await second.open(Todo.self, { $0.checkpointThreshold = 1_000_000 })
    // Enough snapshot records and WAL lines that both are decoded in parallel parts.
    try await writer.batch { batch in
      for index in 0..<2_000 { batch.set("s\(index)", Todo(title: "S\(index)", status: "active")) }
    }
    try await writer.compact()
    for index in 0..<600 { try await writer.set("w\(index)", Todo(title: "W\(index)", status: "done")) }
    try await writer.close()

    let store = try await first.open(Todo.self)
    let reopened = try await withTaskExecutorPreference(store.taskExecutor) {
      try await store.set("a", Todo(title: "A", status: "active"))
      return try await second.open(Todo.self)
    }
    #expect(try reopened.count() == 2_600)
    #expect(try reopened.get("s1999")?.title == "S1999" && reopened.get("w599")?.status == "done")
    #expect(try store.get("a")?.title == "A")
    try await reopened.close()
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func groupModeBuffersUntilSizeOrFlush(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.writeMode = .group
        $0.groupCommitSize = 5
        $0.groupCommitInterval = .seconds(60)
        $0.checkpointThreshold = 1_000
      })
    for index in 0..<3 { try await store.set("k\(index)", .int(Int64(index))) }
    #expect(try store.count() == 3, "reads see buffered writes")
    #expect(try store.stats().opsCount == 3)
    #expect(try await walLines(location, store).isEmpty, "nothing written before the buffer fills")
    try await store.set("k3", 3)
    try await store.set("k4", 4)  // fills the buffer: this call waits for the write
    #expect(try await walLines(location, store).count == 5)
    try await store.set("k5", 5)
    try await store.flush()
    #expect(try await walLines(location, store).count == 6)
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func groupTimerWritesAfterTheInterval(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.writeMode = .group
        $0.groupCommitSize = 1_000
        // Long enough that a loaded machine (the suite runs tests in parallel) still reads
        // the WAL before the timer fires.
        $0.groupCommitInterval = .seconds(1)
      })
    let clock = ContinuousClock()
    let start = clock.now
    try await store.set("a", 1)
    let before = try await walLines(location, store)
    // On a loaded machine the look may itself come after the interval: only one made before
    // it must find the WAL empty.
    if clock.now - start < .milliseconds(900) { #expect(before.isEmpty) }
    var written = 0
    for _ in 0..<250 where written == 0 {
      try await Task.sleep(for: .milliseconds(20))
      written = try await walLines(location, store).count
    }
    #expect(written == 1)
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func undoInGroupModeTakesTheRightOperation(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.writeMode = .group
        $0.groupCommitSize = 3
        $0.groupCommitInterval = .seconds(60)
      })
    try await store.set("a", 1)
    try await store.set("b", 2)
    try await store.set("c", 3)  // written
    try await store.set("d", 4)  // buffered
    #expect(try await store.undo())  // drops d from the buffer
    #expect(try await store.undo())  // cuts c off the WAL
    try await store.flush()
    #expect(try store.entries().map(\.id) == ["a", "b"])
    #expect(try await walLines(location, store).count == 2)
    try await store.close()
    let reopened = try await location.open(JSONValue.self)
    #expect(try reopened.entries().map(\.id) == ["a", "b"])
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func asyncModeWritesInTheBackground(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.writeMode = .async
        $0.checkpointThreshold = 10_000
      })
    for index in 0..<500 { try await store.set("k\(index)", .int(Int64(index))) }
    #expect(try store.count() == 500)
    try await store.flush()
    #expect(try await walLines(location, store).count == 500)
    try await store.close()
  }

  /// A producer writing in a loop is written in appends of many operations each, one per
  /// round of the async writer, not in an append of whatever two or three operations came in
  /// while the last append ran. Each round waits the writer's interval at least, so a loop of
  /// `elapsed` has at most `elapsed / interval` rounds (plus the flush's append); before rounds
  /// were paced, a backend as quick as memory got an append every few operations.
  @Test func asyncModeCoalescesAFastProducersWrites() async throws {
    let asyncRound = Store<Todo>.asyncWriteInterval
    let disk = MemoryDisk()
    let appends = AppendCounter()
    var options = StoreOptions()
    options.backend = ForwardingBackend(MemoryBackend(disk: disk), after: appends.note)
    options.writeMode = .async
    options.checkpointThreshold = 1_000_000
    let path = "/memory/async-coalescing"
    let store = try await Store<Todo>.open(path, options: options)
    let sets = 3_000
    let clock = ContinuousClock()
    let start = clock.now
    for index in 0..<sets {
      try await store.set("t\(index)", Todo(title: "T\(index)", status: "active", priority: index))
    }
    let elapsed = clock.now - start
    try await store.flush()
    let rounds = Int((elapsed / asyncRound).rounded(.up))
    let written = appends.count.withLock { $0 }
    #expect(written >= 1 && written <= rounds + 1, "\(written) appends for \(sets) sets in \(elapsed)")
    try await store.close()

    var reopenOptions = StoreOptions()
    reopenOptions.backend = MemoryBackend(disk: disk)
    let reopened = try await Store<Todo>.open(path, options: reopenOptions)
    #expect(try reopened.count() == sets)
    #expect(try reopened.get("t\(sets - 1)")?.priority == sets - 1)
    try await reopened.close()
  }

  @Test(arguments: [Durability.process, .disk])
  func concurrentImmediateWritersAllLand(durability: Durability) async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.durability = durability
        $0.checkpointThreshold = 100_000
      })
    try await withThrowingTaskGroup(of: Void.self) { group in
      for writer in 0..<16 {
        group.addTask {
          for index in 0..<25 { try await store.set("w\(writer)-\(index)", .int(Int64(index))) }
        }
      }
      try await group.waitForAll()
    }
    #expect(try await walLines(location, store).count == 400)
    try await store.close()
    let reopened = try await location.open(JSONValue.self)
    #expect(try reopened.count() == 400)
    try await reopened.close()
  }

  @Test(arguments: [MemoryDisk.Fault.diskFull, .ioError])
  func failedImmediateWriteLeavesTheStoreAsItWas(fault: MemoryDisk.Fault) async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(JSONValue.self, { $0.checkpointThreshold = 1_000 })
    try await store.set("a", 1)
    location.disk.failWrite(fault)
    await #expect(throws: OpsLogError.self) { try await store.set("b", 2) }
    #expect(try store.get("b") == nil, "the failed operation is rolled back in memory")
    #expect(try store.count() == 1)
    try await store.set("c", 3)  // the disk works again
    #expect(try store.entries().map(\.id) == ["a", "c"])
    try await store.close()
    let reopened = try await location.open(JSONValue.self)
    #expect(try reopened.entries().map(\.id) == ["a", "c"])
    try await reopened.close()
  }

  @Test func backgroundFailureIsNeverSwallowed() async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(
      JSONValue.self,
      {
        $0.writeMode = .group
        $0.groupCommitSize = 100
        $0.groupCommitInterval = .seconds(60)
        $0.checkpointThreshold = 1_000
      })
    try await store.set("a", 1)
    try await store.flush()
    try await store.set("b", 2)
    location.disk.failWrite(.diskFull)
    await #expect(throws: OpsLogError.self) { try await store.flush() }
    #expect(try store.get("b") == nil)
    // async mode: the failure surfaces on the next write call
    try await store.close()
    let asyncLocation = TestLocation(.memory)
    let asyncStore = try await asyncLocation.open(JSONValue.self, { $0.writeMode = .async })
    asyncLocation.disk.failWrite(.ioError)
    try await asyncStore.set("x", 1)  // acknowledged at once
    // The background write fails and rolls x back; wait (bounded) until that is visible.
    let deadline = ContinuousClock.now + .seconds(30)
    while try asyncStore.get("x") != nil && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(try asyncStore.get("x") == nil, "the failed background write was rolled back")
    await #expect(throws: OpsLogError.self, "the background failure reaches the next write call") {
      try await asyncStore.set("y", 2)
    }
    try await asyncStore.set("z", 3)  // reported once; the disk works again
    try await asyncStore.flush()
    #expect(try asyncStore.entries().map(\.id) == ["z"])
    try? await asyncStore.close()
  }

  @Test func closeReportsABackgroundFailure() async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(
      JSONValue.self,
      {
        $0.writeMode = .group
        $0.groupCommitSize = 100
        $0.groupCommitInterval = .seconds(60)
      })
    try await store.set("a", 1)
    location.disk.failWrite(.ioError)
    await #expect(throws: OpsLogError.self) { try await store.close() }
    #expect(throws: OpsLogError.closed) { try store.count() }
  }
}

/// Counts the WAL appends that succeeded (a `ForwardingBackend`'s `after` hook).
final class AppendCounter: Sendable {
  let count = Mutex(0)

  func note(_ call: ForwardingBackend.Call, error: (any Error)?) {
    if case .append(let path, let bytes, _) = call, path.hasSuffix(".jsonl"), !bytes.isEmpty, error == nil {
      count.withLock { $0 += 1 }
    }
  }
}
