import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Store basics")
struct StoreBasicsTests {
  @Test(arguments: BackendKind.allCases)
  func setGetDeleteAndReopen(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.set("a", Todo(title: "A", status: "active"))
    try await store.set("b", Todo(title: "B", status: "done"))
    try await store.set("a", Todo(title: "A2", status: "active"))
    try await store.delete("b")
    #expect(try store.get("a")?.title == "A2")
    #expect(try store.get("b") == nil)
    #expect(try store.has("a"))
    #expect(try store.count() == 1)
    await #expect(throws: OpsLogError.notFound(id: "b")) { try await store.delete("b") }
    await #expect(throws: OpsLogError.invalidArgument("a record ID must not be empty")) {
      try await store.set("", Todo(title: "", status: ""))
    }
    try await store.close()

    let reopened = try await location.open(Todo.self)
    #expect(try reopened.entries().map(\.id) == ["a"])
    #expect(try reopened.get("a") == Todo(title: "A2", status: "active"))
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func recordsKeepFirstInsertionOrder(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self)
    for id in ["a", "b", "c", "d"] { try await store.set(id, ["v": .string(id)]) }
    try await store.set("b", ["v": "b2"])  // an update keeps its place
    try await store.delete("a")
    try await store.set("a", ["v": "a2"])  // delete then set: to the end
    try await store.delete("c")
    #expect(try store.entries().map(\.id) == ["b", "d", "a"])
    #expect(try await store.undo())  // undo of a delete puts it back in its place
    #expect(try store.entries().map(\.id) == ["b", "c", "d", "a"])
    let orderAfterUndo = try store.entries().map(\.id)
    try await store.close()
    let reopened = try await location.open(JSONValue.self, { $0.checkpointOnClose = false })
    #expect(try reopened.entries().map(\.id) == orderAfterUndo)
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func closedStoreRefusesEveryCall(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.close()
    try await store.close()  // twice is harmless
    #expect(throws: OpsLogError.closed) { try store.get("a") }
    #expect(throws: OpsLogError.closed) { try store.all() }
    #expect(throws: OpsLogError.closed) { try store.stats() }
    await #expect(throws: OpsLogError.closed) { try await store.set("a", Todo(title: "", status: "")) }
    await #expect(throws: OpsLogError.closed) { try await store.undo() }
    await #expect(throws: OpsLogError.closed) { try await store.compact() }
  }

  @Test(arguments: BackendKind.allCases)
  func filterCountAndStats(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.checkpointThreshold = 1_000 })
    for index in 0..<10 {
      try await store.set(
        "t\(index)", Todo(title: "T\(index)", status: index % 2 == 0 ? "active" : "done", priority: index))
    }
    #expect(try store.filter { $0.status == "active" }.map(\.priority) == [0, 2, 4, 6, 8])
    #expect(try store.filter { record, id in id == "t3" || record.priority == 9 }.map(\.priority) == [3, 9])
    #expect(try store.count(where: { record, _ in record.priority > 6 }) == 3)
    let stats = try store.stats()
    #expect(stats.activeRecords == 10)
    #expect(stats.opsCount == 10)
    #expect(stats.archiveSegments == 0)
    #expect(try store.manifest().stats.activeRecords == 10)
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func filterSkipsDeletedSlotsAndKeepsOrder(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.checkpointThreshold = 1_000 })
    for index in 0..<8 {
      try await store.set("t\(index)", Todo(title: "T\(index)", status: "active", priority: index))
    }
    // Deletes leave holes in the table (first, middle and last slot), an update keeps its place.
    try await store.delete("t0")
    try await store.delete("t4")
    try await store.delete("t7")
    try await store.set("t2", Todo(title: "T2 again", status: "active", priority: 20))
    #expect(try store.filter { _ in true }.map(\.priority) == [1, 20, 3, 5, 6])
    #expect(
      try store.filter { record, id in id != "t3" && record.priority > 1 }.map(\.title) == ["T2 again", "T5", "T6"])
    #expect(try store.count(where: { _, id in id.hasPrefix("t") }) == 5)
    // Undo of the last delete puts the record back in its slot, where the filter sees it.
    try await store.undo()
    try await store.undo()
    #expect(try store.filter { $0.priority >= 6 }.map(\.priority) == [6, 7])
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func historyAndOperationsSince(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.set("a", Todo(title: "A", status: "active"))
    try await Task.sleep(for: .milliseconds(5))
    let middle = ISOTime.now()
    try await Task.sleep(for: .milliseconds(5))
    try await store.set("a", Todo(title: "A", status: "done"))
    try await store.delete("a")
    let history = try store.history(of: "a")
    #expect(history.map(\.kind) == [.set, .set, .delete])
    #expect(history[1].data?.status == "done")
    guard case .record(let previous) = history[2].previous else {
      Issue.record("a delete's previous value is the full record")
      return
    }
    #expect(previous.status == "done")
    #expect(try store.operations(since: middle).count == 2)
    #expect(try store.operations().count == 3)
    try await store.close()
  }
}
