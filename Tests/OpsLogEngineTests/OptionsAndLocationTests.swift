import Foundation
import Logging
import OpsLogCodec
import OpsLogEngine
import OpsLogTestSupport
import Testing

@Suite("Options: count(where:), the logger, the location, retained generations")
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

  // MARK: - Retained generations

  func storeFiles(_ location: TestLocation) async throws -> (snapshots: [String], wals: [String]) {
    let backend = try await location.inspector()
    let snapshots = try await backend.list("snapshots").map { "snapshots/" + $0 }
    let wals = try await backend.list("ops").map { "ops/" + $0 }
    try await backend.shutdown()
    return (snapshots, wals)
  }

  @Test(arguments: BackendKind.allCases)
  func byDefaultManyCheckpointsLeaveABoundedNumberOfFiles(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    #expect(StoreOptions().retainedGenerations == 1)
    let store = try await location.open(JSONValue.self, { $0.checkpointThreshold = 5 })
    var manifests: [ManifestInfo] = []
    for index in 0..<200 {
      try await store.set("k\(index % 20)", .int(Int64(index)))
      if index % 25 == 24 {
        try await store.compact()
        manifests.append(try store.manifest())
      }
    }
    try await store.compact()
    let current = try store.manifest()
    let previous = manifests.last!
    let files = try await storeFiles(location)
    #expect(files.snapshots.count <= 2 && files.wals.count <= 2, "\(files)")
    #expect(files.snapshots.contains(current.currentSnapshot) && files.wals.contains(current.activeOps))
    #expect(files.snapshots.contains(previous.currentSnapshot), "the generation a reader may still use stays")
    try await store.close()

    let reopened = try await location.open(JSONValue.self)
    #expect(try reopened.count() == 20)
    #expect(try reopened.get("k19") == .int(199))
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func reopeningManyTimesLeavesABoundedNumberOfFiles(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    for session in 0..<8 {
      let store = try await location.open(JSONValue.self)
      try await store.set("session\(session)", .int(Int64(session)))
      try await store.close()  // one checkpoint per session
    }
    let files = try await storeFiles(location)
    #expect(files.snapshots.count <= 2 && files.wals.count <= 2, "\(files)")
    let reopened = try await location.open(JSONValue.self, { $0.readOnly = true })
    #expect(try reopened.count() == 8)
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func nilKeepsEveryGenerationAndZeroIsRefused(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self, { $0.retainedGenerations = nil })
    for round in 0..<4 {
      try await store.set("k\(round)", .int(Int64(round)))
      try await store.compact()
    }
    try await store.close()
    let again = try await location.open(JSONValue.self, { $0.retainedGenerations = nil })
    try await again.close()
    #expect(try await storeFiles(location).snapshots.count == 5, "like opslog for Node, nothing is removed")
    await #expect(throws: OpsLogError.self) {
      try await location.open(JSONValue.self, { $0.retainedGenerations = 0 })
    }
  }

  @Test(.timeLimit(.minutes(1)), arguments: BackendKind.allCases)
  func aFollowerBehindTheRetainedGenerationsReloads(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(JSONValue.self, { $0.checkpointThreshold = 1_000 })
    try await writer.set("a", 1)
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    let followed = try reader.manifest()
    var changes = reader.changes(pollInterval: .seconds(3_600)).makeAsyncIterator()
    for round in 0..<3 {
      try await writer.set("r\(round)", .int(Int64(round)))
      try await writer.delete(round == 0 ? "a" : "r\(round - 1)")
      try await writer.compact()
    }
    try await writer.set("last", true)
    let files = try await storeFiles(location)
    #expect(!files.snapshots.contains(followed.currentSnapshot), "the follower's generation is gone")
    #expect(!files.wals.contains(followed.activeOps))

    try await reader.refresh()
    #expect(try reader.entries().map(\.id) == writer.entries().map(\.id))
    #expect(try reader.all() == writer.all())
    #expect(try reader.get("a") == nil)
    var sawReload = false
    while let change = try await changes.next() {
      if case .reloaded = change {
        sawReload = true
        break
      }
    }
    #expect(sawReload, "the follower says it rebuilt its state")
    try await writer.set("after", 2)
    #expect(try await reader.tail().map(\.id) == ["after"], "and follows line by line again")
    try await reader.close()
    try await writer.close()
  }
}
