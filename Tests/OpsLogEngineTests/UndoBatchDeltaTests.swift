import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Undo, batch and delta encoding")
struct UndoBatchDeltaTests {
  @Test(arguments: BackendKind.allCases)
  func undoReversesEachKindExactly(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self, { $0.checkpointThreshold = 1_000 })
    #expect(try await store.undo() == false)
    let big: JSONValue = ["title": "long", "body": .string(String(repeating: "x", count: 500)), "n": 1]
    try await store.set("a", big)  // create
    try await store.set("b", ["v": 1])
    var changed = big
    changed["n"] = 2
    try await store.set("a", changed)  // update, delta-encoded
    try await store.delete("b")  // delete
    let lines = try await walLines(location, store)
    #expect(lines.count == 4)
    #expect(lines[2].contains(#""encoding":"delta""#))
    #expect(lines[2].utf8.count < 700, "a one-field change writes a small prev")

    #expect(try await store.undo())  // delete undone: b back
    #expect(try store.get("b") == ["v": 1])
    #expect(try await store.undo())  // update undone through the patch
    #expect(try store.get("a") == big)
    #expect(try await store.undo())
    #expect(try store.get("b") == nil)
    #expect(try await store.undo())
    #expect(try store.get("a") == nil)
    #expect(try await store.undo() == false)
    #expect(try await walLines(location, store).isEmpty, "undo cuts the lines off the WAL")
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func undoOfDeltaLinesReadFromDisk(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.checkpointOnClose = false })
    let original = Todo(title: "Task", status: "active", priority: 3, notes: String(repeating: "n", count: 200))
    try await store.set("t", original)
    var done = original
    done.status = "done"
    try await store.set("t", done)
    try await store.close()
    let reopened = try await location.open(Todo.self)
    guard case .delta(let patch) = try reopened.history(of: "t").last?.previous else {
      Issue.record("the update was expected to be delta-encoded")
      return
    }
    #expect(patch.set["status"] == "active")
    #expect(try await reopened.undo())
    #expect(try reopened.get("t") == original)
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func batchIsOneWriteAndAllOrNothing(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.checkpointThreshold = 1_000 })
    try await store.set("keep", Todo(title: "K", status: "active"))
    struct Abort: Error {}
    await #expect(throws: Abort.self) {
      try await store.batch { batch in
        batch.set("x", Todo(title: "X", status: "active"))
        throw Abort()
      }
    }
    #expect(try store.get("x") == nil)
    #expect(try await walLines(location, store).count == 1)

    try await store.batch { _ in }  // an empty batch does no I/O
    #expect(try await walLines(location, store).count == 1)

    try await store.batch { batch in
      batch.set("x", Todo(title: "X", status: "active"))
      #expect(batch.get("x")?.title == "X")
      try batch.delete("keep")
      #expect(batch.get("keep") == nil)
      #expect(throws: OpsLogError.notFound(id: "keep")) { try batch.delete("keep") }
      batch.set("y", Todo(title: "Y", status: "done"))
    }
    #expect(try store.entries().map(\.id) == ["x", "y"])
    #expect(try await walLines(location, store).count == 4)
    // A batch is one undo step: all of it is taken back, and its lines are cut off the WAL.
    #expect(try await store.undo())
    #expect(try store.entries().map(\.id) == ["keep"])
    #expect(try await walLines(location, store).count == 1)
    try await store.close()
  }

  @Test func batchOfThreeHundredThousandOperations() async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(
      JSONValue.self,
      {
        $0.checkpointThreshold = 1_000_000
        $0.checkpointOnClose = false
      })
    let total = 300_000
    try await store.batch { batch in
      for index in 0..<total { batch.set("k\(index)", .int(Int64(index))) }
    }
    #expect(try store.count() == total)
    #expect(try store.get("k299999") == 299_999)
    try await store.close()
    let reopened = try await location.open(JSONValue.self)
    #expect(try reopened.count() == total)
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func undoDoesNotCrossACheckpoint(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.set("a", Todo(title: "A", status: "active"))
    try await store.compact()
    #expect(try await store.undo() == false)
    #expect(try store.get("a") != nil)
    try await store.close()
  }
}
