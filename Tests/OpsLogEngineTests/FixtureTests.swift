import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

/// Stores written by opslog 0.8.1 for Node open here with the records it reads back.
@Suite("Reference fixtures")
struct FixtureTests {
  static let singleWriterCases = [
    "archived", "checkpointed", "group-mode", "legacy-json-snapshot", "torn-tail", "tricky-json", "wal-replay",
  ]

  func expected(_ name: String) throws -> JSONValue {
    try JSONValue(
      parsing: Array(
        try Data(contentsOf: fixturesDirectory.appendingPathComponent(name).appendingPathComponent("expected.json"))))
  }

  @Test(arguments: singleWriterCases)
  func fixtureOpensReadOnlyAsTheReferenceSawIt(name: String) async throws {
    let path = try copyFixture(name)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let expected = try expected(name)
    var options = StoreOptions()
    options.readOnly = true
    let store = try await Store<JSONValue>.open(path, options: options)
    let entries = try store.entries()
    let expectedRecords = try #require(expected["records"]?.objectValue)
    #expect(entries.map(\.id) == expectedRecords.keys, "same records in the same order")
    for (id, record) in entries { #expect(record == expectedRecords[id], "record \(id)") }
    #expect(Int64(entries.count) == expected["recordCount"]?.intValue)
    #expect(Int64(try store.operations().count) == expected["walOps"]?.intValue)
    let segments = try store.archiveSegments()
    #expect(segments.map { JSONValue.string($0) } == expected["archiveSegments"]?.arrayValue)
    if let archive = expected["archive"]?.objectValue {
      for (segment, records) in archive {
        let loaded = try await store.loadArchive(segment)
        #expect(JSONValue.object(JSONObject(loaded.map { ($0.key, $0.value) })) == records)
      }
    }
    try await store.close()
  }

  @Test func versionedFixtureMigratesOnOpen() async throws {
    let path = try copyFixture("versioned-v1")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var options = StoreOptions()
    options.version = 2
    options.migrate = { record, fromVersion in
      var upgraded = record
      if fromVersion < 2 { upgraded["role"] = "member" }
      return upgraded
    }
    let store = try await Store<JSONValue>.open(path, options: options)
    // expected.json holds the records as stored (the reference reopened them without a
    // migration); migrated, each gains role: member.
    let expected = try #require(try expected("versioned-v1")["records"]?.objectValue)
    #expect(try store.entries().map(\.id) == expected.keys)
    for (id, record) in try store.entries() {
      var migrated = try #require(expected[id])
      migrated["role"] = "member"
      #expect(record == migrated)
    }
    #expect(try store.manifest().version == 2, "a writable open checkpoints the migrated state at once")
    #expect(try await store.undo() == false, "undo does not cross a migration")
    try await store.close()
    var plain = StoreOptions()
    plain.version = 2
    plain.readOnly = true
    let reopened = try await Store<JSONValue>.open(path, options: plain)
    #expect(try reopened.get("u0")?["role"] == "member")
    try await reopened.close()
  }

  @Test func throwingMigrationFailsTheOpenAndWritesNothing() async throws {
    let path = try copyFixture("versioned-v1")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let before = try FileManager.default.subpathsOfDirectory(atPath: path).sorted()
    struct Refused: Error {}
    var options = StoreOptions()
    options.version = 2
    options.migrate = { _, _ in throw Refused() }
    await #expect {
      try await Store<JSONValue>.open(path, options: options)
    } throws: { error in
      guard case OpsLogError.migrationFailed = error else { return false }
      return true
    }
    #expect(try FileManager.default.subpathsOfDirectory(atPath: path).sorted() == before)
  }

  @Test func tornTailIsCutBeforeTheNextAppend() async throws {
    let path = try copyFixture("torn-tail")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var writable = StoreOptions()
    writable.checkpointOnClose = false  // keep the WAL, so reopening replays the appended line
    let store = try await Store<JSONValue>.open(path, options: writable)
    #expect(try store.count() == 20)
    try await store.set("after", ["ok": true])
    try await store.close()
    var options = StoreOptions()
    options.readOnly = true
    let reopened = try await Store<JSONValue>.open(path, options: options)
    #expect(try reopened.count() == 21)
    #expect(try reopened.get("after") == ["ok": true])
    try await reopened.close()
  }
}

@Suite("Multi-writer stores through the single-writer open")
struct PlainOpenOfAgentStoreTests {
  enum PlainOpen: String, CaseIterable, Sendable { case readOnly, writable, skipLoad }

  @Test(arguments: PlainOpen.allCases)
  func aPlainOpenOfAnAgentStoreSaysHowToOpenIt(mode: PlainOpen) async throws {
    let path = try copyFixture("multi-writer")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let before = try FileManager.default.subpathsOfDirectory(atPath: path).sorted()
    var options = StoreOptions()
    options.readOnly = mode == .readOnly
    options.skipLoad = mode == .skipLoad
    await #expect {
      try await Store<JSONValue>.open(path, options: options)
    } throws: { error in
      guard case OpsLogError.unsupported(let message) = error else { return false }
      return message.contains("agentId")
    }
    #expect(
      try FileManager.default.subpathsOfDirectory(atPath: path).sorted() == before, "nothing written, no lock left")
  }
}
