import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// The reference fixtures in `Tests/Fixtures/<case>/`, written by opslog 0.8.1 for Node.
enum Fixture {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  static let cases = [
    "archived", "checkpointed", "group-mode", "legacy-json-snapshot", "multi-writer", "torn-tail", "tricky-json",
    "versioned-v1", "wal-replay",
  ]

  static func url(_ fixture: String, _ relative: String) -> URL {
    root.appendingPathComponent(fixture).appendingPathComponent(relative)
  }

  static func bytes(_ fixture: String, _ relative: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url(fixture, relative)))
  }

  static func expected(_ fixture: String) throws -> JSONObject {
    try #require(try JSONValue(parsing: bytes(fixture, "expected.json")).objectValue)
  }

  /// Paths of every WAL file in the fixture's store, relative to the store, sorted.
  static func walFiles(_ fixture: String) throws -> [String] {
    let directory = url(fixture, "store/ops")
    return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".jsonl") }
      .sorted().map { "ops/" + $0 }
  }

  /// The file's lines without their newlines; a last line without a newline is included.
  static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines
  }

  static func walLines(_ fixture: String, _ relativeToStore: String) throws -> [ArraySlice<UInt8>] {
    lines(try bytes(fixture, "store/" + relativeToStore))
  }
}

/// Record state with first-insertion order, as the reference keeps it: an update keeps the
/// record's place, a delete removes it, a set after a delete goes to the end.
struct OrderedState {
  private(set) var order: [String] = []
  private(set) var records: [String: JSONValue] = [:]

  subscript(id: String) -> JSONValue? { records[id] }

  mutating func set(_ id: String, _ value: JSONValue) {
    if records.updateValue(value, forKey: id) == nil { order.append(id) }
  }

  mutating func delete(_ id: String) {
    if records.removeValue(forKey: id) != nil { order.removeAll { $0 == id } }
  }

  mutating func apply(_ operation: LogOperation<JSONValue>) {
    switch operation.kind {
    case .set: set(operation.id, operation.data ?? .null)
    case .delete: delete(operation.id)
    }
  }
}

/// What a fixture's store holds, read with the codec alone.
struct ReplayedStore {
  var manifest: ManifestInfo
  var state: OrderedState
  var walOperations: Int
  var skippedLines: Int
}

/// Opens a single-writer fixture store the way the engine does: manifest, then the snapshot it
/// names (streamed in `chunkSize` pieces), then the active WAL replayed in order, skipping
/// lines that do not decode.
func replay(_ fixture: String, chunkSize: Int = 4096) throws -> ReplayedStore {
  let manifest = try ManifestCodec.decode(Fixture.bytes(fixture, "store/" + ManifestCodec.fileName))
  var state = OrderedState()
  let snapshot = try Fixture.bytes(fixture, "store/" + manifest.currentSnapshot)
  var reader = SnapshotReader(path: manifest.currentSnapshot)
  let collect: (SnapshotRecord) throws -> Void = { record in
    state.set(record.id, try JSONValue(parsing: record.data))
  }
  var offset = 0
  while offset < snapshot.count {
    let end = min(offset + chunkSize, snapshot.count)
    try reader.consume(snapshot[offset..<end], collect)
    offset = end
  }
  _ = try reader.finish(collect)

  var walOperations = 0
  var skippedLines = 0
  for line in try Fixture.walLines(fixture, manifest.activeOps) {
    guard let operation = try? OperationLine.decode(line) else {
      skippedLines += 1
      continue
    }
    walOperations += 1
    state.apply(operation)
  }
  return ReplayedStore(manifest: manifest, state: state, walOperations: walOperations, skippedLines: skippedLines)
}

@Test(arguments: Fixture.cases.filter { $0 != "multi-writer" })
func replayGivesTheReferenceRecordsInTheReferenceOrder(_ fixture: String) throws {
  let expected = try Fixture.expected(fixture)
  let expectedRecords = try #require(expected["records"]?.objectValue)
  for chunkSize in [7, 4096] {
    let store = try replay(fixture, chunkSize: chunkSize)
    #expect(store.state.order == expectedRecords.keys)
    for (id, record) in expectedRecords {
      let replayed = try #require(store.state[id], "\(id) is missing")
      // Same JSON text, so key order inside records matches the reference too.
      #expect(replayed.isIdentical(to: record), "\(id): \(replayed.jsonText) vs \(record.jsonText)")
    }
    #expect(Int64(store.walOperations) == expected["walOps"]?.intValue)
    #expect(Int64(store.state.order.count) == expected["recordCount"]?.intValue)
    #expect(store.skippedLines == (fixture == "torn-tail" ? 3 : 0))
  }
}

@Test func tornTailSkipsExactlyItsBadLines() throws {
  let store = try replay("torn-tail")
  #expect(store.walOperations == 20)
  #expect(store.state.order.count == 20)
  #expect(store.state.order == (0..<20).map { "r\($0)" })
  #expect(store.state["bad-op"] == nil)
}

@Test func versionedFixtureMigratesLikeTheReference() throws {
  // The reference opened this v1 store with version 2 and migrate (r) => ({...r, role:
  // 'member'}). Its expected.json holds the records as stored (a read-only reopen does not
  // migrate), so the replay must equal them unchanged, and the migration adds the field.
  let store = try replay("versioned-v1")
  #expect(store.manifest.version == 1)
  let expectedRecords = try #require(try Fixture.expected("versioned-v1")["records"]?.objectValue)
  #expect(expectedRecords.count == 10)
  for id in store.state.order {
    var record = try #require(store.state[id])
    #expect(record == expectedRecords[id])
    #expect(record["role"] == nil)
    record["role"] = "member"
    var migrated = try #require(expectedRecords[id])
    migrated["role"] = "member"
    #expect(record.isIdentical(to: migrated))
    #expect(record.jsonText.hasSuffix(#","role":"member"}"#))
  }
}

@Test func archivedFixtureSegmentsHoldTheReferenceArchive() throws {
  let store = try replay("archived")
  let expected = try Fixture.expected("archived")
  let expectedArchive = try #require(expected["archive"]?.objectValue)
  #expect(store.manifest.archiveSegments == expectedArchive.keys)
  #expect(expected["archiveSegments"] == .array(store.manifest.archiveSegments.map { .string($0) }))
  var archived = 0
  for path in store.manifest.archiveSegments {
    let segment = try ArchiveCodec.decode(Fixture.bytes("archived", "store/" + path), path: path)
    let expectedRecords = try #require(expectedArchive[path]?.objectValue)
    #expect(segment.records.keys == expectedRecords.keys)
    #expect(JSONValue.object(segment.records).isIdentical(to: .object(expectedRecords)))
    archived += segment.records.count
  }
  #expect(archived == store.manifest.stats.archivedRecords)
  #expect(store.state.order.count == store.manifest.stats.activeRecords)
}

@Test func multiWriterFixtureLinesCarryAgentsAndClocks() throws {
  // Merging agent WALs is the multi-writer module's job; the codec's part is that every line
  // decodes with its agent and clock, and clocks rise within each agent's file.
  let manifest = try ManifestCodec.decode(Fixture.bytes("multi-writer", "store/manifest.json"))
  let agents = try #require(manifest.activeAgentOps)
  var total = 0
  for (agent, path) in agents {
    var lastClock = -1
    for line in try Fixture.walLines("multi-writer", path) {
      let operation = try OperationLine.decode(line)
      #expect(operation.agent == agent)
      let clock = try #require(operation.clock)
      #expect(clock > lastClock)
      lastClock = clock
      total += 1
    }
  }
  #expect(total == 17)
}
