import Foundation
import OpsLogCodec
import OpsLogStorage
import OpsLogTestSupport
import Synchronization
import Testing

@_spi(Testing) @testable import OpsLogEngine

/// What a consumer of a change feed knows: the state it rebuilt from the changes alone.
struct FeedModel {
  var records: [String: JSONValue] = [:]
  var needsReload = false

  mutating func apply(_ changes: [StoreChange<JSONValue>]) {
    for change in changes {
      switch change {
      case .applied(let operations):
        for operation in operations {
          switch operation.kind {
          case .set: records[operation.id] = operation.data
          case .delete: records[operation.id] = nil
          }
        }
      case .undone(let operations):
        for operation in operations {
          switch (operation.kind, operation.previous) {
          case (.set, .none): records[operation.id] = nil
          case (_, .record(let previous)): records[operation.id] = previous
          case (.set, .delta):
            Issue.record("an undone operation carries its full previous record, never a delta patch")
          case (.delete, _): Issue.record("a delete always carries its full previous record")
          }
        }
      case .reloaded:
        needsReload = true
      }
    }
  }

  /// Compares with the store's state; after a `.reloaded` the consumer reads it afresh.
  mutating func check(against store: Store<JSONValue>, _ context: @autoclosure () -> String) throws {
    let actual = Dictionary(uniqueKeysWithValues: try store.entries().map { ($0.id, $0.record) })
    if needsReload {
      records = actual
      needsReload = false
      return
    }
    #expect(records == actual, "\(context())")
    records = actual
  }
}

@Suite("Change feeds and followers")
struct ChangeFeedTests {
  static func record(_ number: Int, _ generator: inout TortureRandom) -> JSONValue {
    // Several keys, so that an update changing one of them is written as a delta patch.
    [
      "n": .int(Int64(number)), "title": .string("record \(number)"), "status": .string("active"),
      "notes": .string(String(repeating: "x", count: Int.random(in: 0...40, using: &generator))),
    ]
  }

  /// A writer doing random sets, deletes, batches, undos, compactions, archives (into new and
  /// existing segments), migrations and a close followed by a new writer; a follower polling at
  /// random points. After every poll the follower equals a fresh open, and what each feed
  /// delivered, applied to the state before, gives the state after.
  @Test(
    arguments: BackendKind.allCases,
    Array(UInt64(1)...UInt64(ProcessInfo.processInfo.environment["OPSLOG_FEED_SEEDS"].flatMap { UInt64($0) } ?? 12)))
  func followerAndFeedsNeverDiverge(kind: BackendKind, seed: UInt64) async throws {
    var generator = TortureRandom(seed: seed)
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let migrates = seed % 3 == 0
    var version = migrates ? 1 : 2
    let migrate: @Sendable (JSONValue, Int) throws -> JSONValue = { record, _ in record }
    func writerOptions(_ options: inout StoreOptions) {
      options.version = version
      options.migrate = migrate
      options.checkpointThreshold = 10_000  // checkpoints only where the script says
    }
    var writer = try await location.open(JSONValue.self, writerOptions)
    var writerFeed = writer.subscribeToChanges()
    var writerModel = FeedModel()
    let follower = try await location.open(JSONValue.self) {
      $0.readOnly = true
      $0.version = 2
      $0.migrate = migrate
    }
    let followerFeed = follower.subscribeToChanges()
    var followerModel = FeedModel()
    var nextNumber = 0
    var migrated = !migrates

    for step in 0..<120 {
      let context = "seed \(seed), step \(step)"
      let ids = try writer.entries().map(\.id)
      let roll = Int.random(in: 0..<100, using: &generator)
      switch roll {
      case 0..<35:
        let id =
          ids.isEmpty || Bool.random(using: &generator)
          ? "k\(Int.random(in: 0..<30, using: &generator))" : ids.randomElement(using: &generator)!
        nextNumber += 1
        try await writer.set(id, Self.record(nextNumber, &generator))
      case 35..<45:
        if let id = ids.randomElement(using: &generator) { try await writer.delete(id) }
      case 45..<55:
        let count = Int.random(in: 2...4, using: &generator)
        var batchRecords: [(String, JSONValue)] = []
        for _ in 0..<count {
          nextNumber += 1
          batchRecords.append(("k\(Int.random(in: 0..<30, using: &generator))", Self.record(nextNumber, &generator)))
        }
        let deleteFirst = ids.randomElement(using: &generator)
        try await writer.batch { batch in
          if let deleteFirst, batch.get(deleteFirst) != nil { try batch.delete(deleteFirst) }
          for (id, value) in batchRecords { batch.set(id, value) }
        }
      case 55..<70:
        try await writer.undo()
      case 70..<78:
        try await writer.compact()
      case 78..<83:
        let segment = Bool.random(using: &generator) ? "2025-Q1" : "2025-Q2"
        let divisor = Int64(Int.random(in: 2...4, using: &generator))
        try await writer.archive(segment: segment) { record, _ in
          if case .object(let object) = record, case .int(let number)? = object["n"] { return number % divisor == 0 }
          return false
        }
      case 83..<88:
        if !migrated && Bool.random(using: &generator) {
          version = 2
          migrated = true
        }
        try await writer.close()
        writer = try await location.open(JSONValue.self, writerOptions)
        writerFeed = writer.subscribeToChanges()
        writerModel = FeedModel()
        writerModel.needsReload = true
      default:
        break
      }
      writerModel.apply(writerFeed.takeQueued())
      try writerModel.check(against: writer, context)

      if Int.random(in: 0..<3, using: &generator) == 0 || step == 119 {
        // Before the writer migrates, the follower (of the newer version) reads the stored
        // records through its migration; it follows the writer all the same.
        try await follower.tail()
        followerModel.apply(followerFeed.takeQueued())
        try followerModel.check(against: follower, context)
        let fresh = try await location.open(JSONValue.self) {
          $0.readOnly = true
          $0.version = 2
          $0.migrate = migrate
        }
        let expected = try fresh.entries().map { "\($0.id)=\($0.record.jsonText)" }
        let actual = try follower.entries().map { "\($0.id)=\($0.record.jsonText)" }
        #expect(actual == expected, "\(context)")
        try await fresh.close()
        if actual != expected { break }
      }
    }
    try await follower.close()
    try await writer.close()
  }

  /// The issue's reproduction: a follower that applied a line the writer then undid.
  @Test(arguments: BackendKind.allCases)
  func aFollowerTakesBackWhatTheWriterUndid(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(Todo.self)
    try await writer.set("a", Todo(title: "A", status: "s"))
    try await writer.set("x", Todo(title: "X", status: "s"))
    let follower = try await location.open(Todo.self) { $0.readOnly = true }
    let feed = follower.subscribeToChanges()
    try await writer.undo()
    try await writer.set("y", Todo(title: "Y", status: "s"))
    try await writer.set("z", Todo(title: "Z", status: "s"))
    let applied = try await follower.tail()
    #expect(try follower.entries().map(\.id) == ["a", "y", "z"])
    #expect(applied.map(\.id) == ["y", "z"])
    let changes = feed.takeQueued()
    guard case .undone(let undone)? = changes.first else {
      Issue.record("the undo is delivered first, as .undone: \(changes)")
      return
    }
    #expect(undone.map(\.id) == ["x"])
    try await writer.compact()
    try await writer.set("w", Todo(title: "W", status: "s"))
    try await follower.tail()
    #expect(try follower.entries().map(\.id) == ["a", "y", "z", "w"])
    try await follower.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func twoCheckpointsBetweenPollsLoseNoGeneration(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(Todo.self)
    try await writer.set("a", Todo(title: "A", status: "s"))
    let follower = try await location.open(Todo.self) { $0.readOnly = true }
    try await writer.compact()
    try await writer.set("between", Todo(title: "B", status: "s"))
    try await writer.compact()
    try await writer.set("c", Todo(title: "C", status: "s"))
    let feed = follower.subscribeToChanges()
    try await follower.tail()
    #expect(try follower.entries().map(\.id) == ["a", "between", "c"])
    #expect(feed.takeQueued().contains { if case .reloaded = $0 { true } else { false } })
    try await follower.close()
    try await writer.close()
  }

  @Test func archivingIntoAnExistingSegmentReachesTheFollower() async throws {
    let location = TestLocation(.memory)
    let writer = try await location.open(Todo.self)
    for id in ["a", "b", "c"] { try await writer.set(id, Todo(title: id, status: "s")) }
    try await writer.archive(segment: "2025-Q4") { _, id in id == "a" }
    let follower = try await location.open(Todo.self) { $0.readOnly = true }
    try await writer.archive(segment: "2025-Q4") { _, id in id == "b" }
    try await follower.tail()
    #expect(try follower.entries().map(\.id) == ["c"])
    try await follower.close()
    try await writer.close()
  }

  /// Every acknowledged change of the writer, once and in apply order, whatever the mode, with
  /// concurrent writers; a failed write's operations are followed by their undoing.
  @Test(arguments: [WriteMode.immediate, .group, .async])
  func theWritersOwnChangesArriveOnceInOrder(mode: WriteMode) async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(Todo.self) {
      $0.writeMode = mode
      $0.groupCommitSize = 8
      $0.checkpointThreshold = 10_000
    }
    let stream = store.changes()
    let collected = Mutex<[StoreChange<Todo>]>([])
    let consumer = Task {
      for try await change in stream { collected.withLock { $0.append(change) } }
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      for writer in 0..<4 {
        group.addTask {
          for index in 0..<50 { try await store.set("w\(writer)-\(index % 10)", Todo(title: "\(index)", status: "s")) }
        }
      }
      try await group.waitForAll()
    }
    try await store.batch { batch in
      batch.set("b1", Todo(title: "B", status: "s"))
      batch.set("b2", Todo(title: "B", status: "s"))
    }
    try await store.undo()
    try await store.flush()
    location.disk.failWrite(.ioError)
    try? await store.set("lost", Todo(title: "L", status: "s"))
    try? await store.flush()
    let journal = try store.operations()
    try await store.close()
    _ = try await consumer.value
    let changes = collected.withLock { $0 }
    var applied: [LogOperation<Todo>] = []
    var undone: [[String]] = []
    for change in changes {
      switch change {
      case .applied(let operations): applied += operations
      case .undone(let operations): undone.append(operations.map(\.id))
      case .reloaded: Issue.record("nothing here rebuilds the state")
      }
    }
    let appliedIDs = applied.map(\.id)
    #expect(appliedIDs.count == 203)
    #expect(Array(appliedIDs.prefix(200)) == journal.prefix(200).map(\.id))
    #expect(Array(appliedIDs.suffix(3)) == ["b1", "b2", "lost"])
    #expect(undone == [["b2", "b1"], ["lost"]])
  }

  @Test func aConsumerFarBehindGetsOneReloadInsteadOfUnboundedMemory() async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(Todo.self) { $0.writeMode = .async }
    let feed = store.subscribeToChanges()
    for index in 0..<(ChangeSubscription<Todo>.limit + 50) {
      try await store.set("k\(index % 100)", Todo(title: "\(index)", status: "s"))
    }
    let queued = feed.takeQueued()
    #expect(queued.count == 1)
    guard case .reloaded? = queued.first else {
      Issue.record("coalesced into .reloaded")
      return
    }
    try await store.set("after", Todo(title: "A", status: "s"))
    #expect(feed.takeQueued().count == 1)
    try await store.close()
  }

  @Test func watchSeesTheWritersOwnWritesAndStreamsFinishOnClose() async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(Todo.self)
    let watch = store.watch(interval: .milliseconds(10))
    let changes = store.changes()
    let seen = Task { () -> [String] in
      var ids: [String] = []
      for try await operations in watch { ids += operations.map(\.id) }
      return ids
    }
    let count = Task { () -> Int in
      var count = 0
      for try await _ in changes { count += 1 }
      return count
    }
    try await store.set("a", Todo(title: "A", status: "s"))
    try await store.set("b", Todo(title: "B", status: "s"))
    try await Task.sleep(for: .milliseconds(50))
    try await store.close()
    #expect(try await seen.value == ["a", "b"])
    #expect(try await count.value == 2)
  }
}
