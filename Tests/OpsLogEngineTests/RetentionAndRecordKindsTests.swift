import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Garbage retention and record kinds")
struct RetentionAndRecordKindsTests {
  @Test(arguments: BackendKind.allCases)
  func supersededFilesAreKeptWithNoRetentionLimit(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self, { $0.retainedGenerations = nil })
    for round in 0..<4 {
      try await store.set("k\(round)", .int(Int64(round)))
      try await store.compact()
    }
    let backend = try await location.inspector()
    #expect(try await backend.list("snapshots").count == 5, "like opslog for Node, nothing is removed")
    try await backend.shutdown()
    try await store.close()
  }

  @Test(arguments: BackendKind.allCases)
  func retainedGenerationsRemovesOnlyOlderGenerations(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self, { $0.retainedGenerations = 1 })
    var manifests: [ManifestInfo] = [try store.manifest()]
    for round in 0..<4 {
      try await store.set("k\(round)", .int(Int64(round)))
      try await store.compact()
      manifests.append(try store.manifest())
    }
    let backend = try await location.inspector()
    let snapshots = try await backend.list("snapshots").map { "snapshots/" + $0 }
    let wals = try await backend.list("ops").map { "ops/" + $0 }
    let current = manifests[4]
    let previous = manifests[3]  // a reader that loaded it may still read it
    #expect(Set(snapshots) == [current.currentSnapshot, previous.currentSnapshot])
    #expect(Set(wals) == [current.activeOps, previous.activeOps])
    try await backend.shutdown()
    try await store.close()
    let reopened = try await location.open(JSONValue.self)
    #expect(try reopened.count() == 4)
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func nonObjectRecordsWorkWithFullPrevious(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(String.self, { $0.checkpointOnClose = false })
    try await store.set("greeting", "hello")
    try await store.set("greeting", "hello, world")
    guard case .record(let previous) = try store.history(of: "greeting").last?.previous else {
      Issue.record("a non-object record's previous value is always full")
      return
    }
    #expect(previous == "hello")
    try await store.close()
    let reopened = try await location.open(String.self)
    #expect(try reopened.get("greeting") == "hello, world")
    #expect(try await reopened.undo())
    #expect(try reopened.get("greeting") == "hello")
    try await reopened.close()
  }

  @Test func syncUnderDiskDurabilityWritesEverything() async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.durability = .disk
        $0.writeMode = .group
        $0.groupCommitSize = 1_000
        $0.groupCommitInterval = .seconds(60)
      })
    for index in 0..<10 { try await store.set("k\(index)", .int(Int64(index))) }
    #expect(try await walLines(location, store).isEmpty)
    try await store.sync()
    #expect(try await walLines(location, store).count == 10)
    try await store.close()
  }
}
