import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Options: count(where:)")
struct OptionsAndLocationTests {
  @Test(arguments: BackendKind.allCases)
  func countWhereTakesTheRecordAlone(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.set("a", Todo(title: "A", status: "done"))
    try await store.set("b", Todo(title: "B", status: "active"))
    try await store.set("c", Todo(title: "C", status: "done"))
    #expect(try store.count { $0.status == "done" } == 2)
    #expect(try store.count { $0.status == "none" } == 0)
    #expect(try store.count { todo, id in id != "a" && todo.status == "done" } == 1)
    struct Stop: Error {}
    #expect(throws: Stop.self) { try store.count { _ in throw Stop() } }
    try await store.close()
    #expect(throws: OpsLogError.closed) { try store.count { _ in true } }
  }
}
