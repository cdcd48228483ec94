import Foundation
import Logging
import OpsLogCodec
import OpsLogEngine
import OpsLogTestSupport
import Testing

@Suite("Options: count(where:), the logger, the location")
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

  // MARK: - Logger

  /// A WAL with a line that is not an operation and a torn last line: opening it logs.
  func storeWithDamagedWAL(_ location: TestLocation) async throws {
    let store = try await location.open(JSONValue.self, { $0.checkpointOnClose = false })
    try await store.set("a", 1)
    let wal = try store.manifest().activeOps
    try await store.close()
    let backend: any StorageBackend = location.kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.append(wal, Array("not an operation\n{\"ts\":".utf8), durability: .process)
    try await backend.shutdown()
  }

  @Test(arguments: BackendKind.allCases)
  func theStoreLogsToTheGivenLogger(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    try await storeWithDamagedWAL(location)
    let log = CapturedLog()
    let store = try await location.open(JSONValue.self, { $0.logger = log.logger })
    #expect(try store.get("a") == 1)
    let warnings = log.messages(at: .warning)
    #expect(warnings.contains { $0.message.contains("skipped malformed WAL lines") }, "\(warnings.map(\.message))")
    #expect(warnings.contains { $0.message.contains("torn last WAL line") }, "\(warnings.map(\.message))")
    #expect(!warnings.isEmpty && warnings.allSatisfy { $0.metadata["store"] == "\(location.path)" })
    try await store.close()
  }

  // MARK: - Location

  @Test(arguments: BackendKind.allCases)
  func aLocationThatIsAFileIsAClearError(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let content = Array("my notes\n".utf8)
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.replace("notes.txt", bytes: content)
    try await backend.shutdown()
    let file = location.path + "/notes.txt"

    for path in [file, file + "/store"] {
      var options = location.options()
      options.backend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
      let error = await #expect(throws: OpsLogError.self) { try await Store<JSONValue>.open(path, options: options) }
      guard case .invalidArgument(let reason)? = error else {
        Issue.record("expected .invalidArgument, got \(String(describing: error))")
        continue
      }
      #expect(reason.contains("is a regular file, not a directory"), "\(reason)")
      #expect(reason.contains(path), "the message names the location")
      #expect(error?.errorDescription?.contains("regular file") == true, "what an alert shows says it too")
    }
    let readerError = await #expect(throws: OpsLogError.self) {
      _ = try await StoreReader.open(file, backend: kind == .memory ? MemoryBackend(disk: location.disk) : nil)
    }
    if case .invalidArgument? = readerError {} else { Issue.record("StoreReader: \(String(describing: readerError))") }

    let inspector = try await location.inspector()
    #expect(try await inspector.read("notes.txt") == content, "the file is left as it was")
    #expect(try await inspector.list("").sorted() == ["notes.txt"], "nothing was created beside it")
    try await inspector.shutdown()
  }
}
