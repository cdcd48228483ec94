import Foundation
import OpsLogCodec
import Testing

@Suite("Errors, operations and patches for code and for people")
struct TypesForPeopleTests {
  struct Todo: Codable, Sendable, Equatable {
    var title: String
    var done: Bool
  }

  @Test func anAlertShowsTheErrorsSentence() {
    let errors: [OpsLogError] = [
      .closed, .locked(holder: "process 42"), .corrupted(path: "manifest.json", reason: "not JSON"),
      .versionTooNew(stored: 3, supported: 2), .recordTypeMismatch(id: "a", type: "Todo", reason: "no title"),
      .io(path: "ops/x", errno: 28, reason: "write failed"),
    ]
    for error in errors {
      #expect((error as any Error).localizedDescription == error.description)
      #expect(!error.description.contains("could not be completed"))
    }
    #expect(OpsLogError.versionTooNew(stored: 3, supported: 2).recoverySuggestion?.contains("newer") == true)
    // Advice never destroys data.
    #expect(!OpsLogError.corrupted(path: "p", reason: "r").description.lowercased().contains("remove the store"))
  }

  @Test func anOperationEncodesAsItsWALLine() throws {
    let operations: [LogOperation<Todo>] = [
      LogOperation(
        timestamp: "2026-04-01T10:00:00.000Z", kind: .set, id: "a", data: Todo(title: "A", done: false),
        previous: .none),
      LogOperation(
        timestamp: "2026-04-01T10:00:01.000Z", kind: .set, id: "a", data: Todo(title: "A", done: true),
        previous: .delta(DeltaPatch(set: ["done": false])), agent: "laptop", clock: 7),
      LogOperation(
        timestamp: "2026-04-01T10:00:02.000Z", kind: .delete, id: "a", data: nil,
        previous: .record(Todo(title: "A", done: true))),
    ]
    for operation in operations {
      let bytes = try RecordEncoder().encodeBytes(operation)
      // The same JSON as the WAL line the store writes for it.
      let asJSON = operation.mapRecords { try! RecordEncoder().encode($0) }
      #expect(try JSONValue(parsing: bytes) == (try JSONValue(parsing: OperationLine.encode(asJSON))))
      #expect(try RecordDecoder().decode(LogOperation<Todo>.self, from: bytes) == operation)
      let viaFoundation = try JSONDecoder().decode(LogOperation<Todo>.self, from: JSONEncoder().encode(operation))
      #expect(viaFoundation == operation)
    }
    let line = #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"b","data":{"title":"B","done":false}}"#
    let decoded = try RecordDecoder().decode(LogOperation<Todo>.self, from: Array(line.utf8))
    #expect(decoded.previous == .none, "a set without prev is a create")
  }

  @Test func descriptionsAreReadable() {
    let patch = DeltaPatch(set: ["done": false], unset: ["tag"])
    #expect(patch.description == #"{"$set":{"done":false},"$unset":["tag"]}"#)
    let object: JSONObject = ["a": 1, "b": ["x"]]
    #expect(object.description == #"{"a":1,"b":["x"]}"#)
    let operation = LogOperation<JSONValue>(
      timestamp: "2026-04-01T10:00:00.000Z", kind: .set, id: "a", data: ["n": 1], previous: .delta(patch))
    #expect(operation.description.contains(#"set "a""#) && operation.description.contains(#"{"n":1}"#))
    #expect(!"\(operation)".contains("LogOperation<"))
  }
}
