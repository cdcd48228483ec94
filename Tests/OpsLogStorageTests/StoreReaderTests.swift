import Foundation
import OpsLogCodec
import OpsLogTypes
import Testing

@testable import OpsLogStorage

/// The reference fixtures in `Tests/Fixtures/<case>/store`.
enum ReaderFixture {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  static let cases = [
    "archived", "checkpointed", "group-mode", "legacy-json-snapshot", "multi-writer", "torn-tail", "tricky-json",
    "versioned-v1", "wal-replay",
  ]

  static func store(_ fixture: String) -> String {
    root.appendingPathComponent(fixture).appendingPathComponent("store").path
  }

  static func expected(_ fixture: String) throws -> JSONObject {
    let bytes = try Data(contentsOf: root.appendingPathComponent(fixture).appendingPathComponent("expected.json"))
    return try #require(try JSONValue(parsing: [UInt8](bytes)).objectValue)
  }
}

/// A store directory written by hand in a temporary directory.
struct HandWrittenStore {
  let location: String

  init(root: String, snapshot: String = #"{"version":1,"timestamp":"2026-01-01T00:00:00.000Z"}"# + "\n") throws {
    location = root + "/store"
    try write("snapshots/snap-100.jsonl", snapshot)
    try writeManifest()
  }

  func writeManifest(wal: String = "ops/ops-100.jsonl", agents: [(String, String)]? = nil) throws {
    let manifest = ManifestInfo(
      version: 1, currentSnapshot: "snapshots/snap-100.jsonl", activeOps: wal,
      stats: ManifestStats(
        activeRecords: 0, archivedRecords: 0, opsCount: 0, created: "2026-01-01T00:00:00.000Z",
        lastCheckpoint: "2026-01-01T00:00:00.000Z"),
      activeAgentOps: agents)
    try write("manifest.json", ManifestCodec.encode(manifest))
  }

  func write(_ path: String, _ text: String) throws { try write(path, Array(text.utf8)) }

  func write(_ path: String, _ bytes: [UInt8]) throws {
    let url = URL(fileURLWithPath: location).appendingPathComponent(path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
  }

  func read() async throws -> (StoreFiles, StoreContents) {
    let reader = try await StoreReader.open(location)
    let files = try await reader.files()
    let contents = try await reader.contents(of: files)
    try await reader.close()
    return (files, contents)
  }
}

func setLine(_ id: String, _ value: Int, batch: Int? = nil, agent: String? = nil, clock: Int? = nil) -> String {
  var line = #"{"ts":"2026-01-01T00:00:01.000Z","op":"set","id":"\#(id)","prev":null,"data":{"v":\#(value)}"#
  if let agent { line += #","agent":"\#(agent)""# }
  if let clock { line += #","clock":\#(clock)"# }
  if let batch { line += #","batch":\#(batch)"# }
  return line + "}\n"
}

func ids(_ contents: StoreContents) -> [String] { contents.records.map(\.id) }

func text(_ record: StoreRecord) -> String { String(decoding: record.data, as: UTF8.self) }

@Suite struct StoreReaderTests {
  @Test(arguments: ReaderFixture.cases)
  func readsEveryFixtureAsTheReferenceSeesIt(_ fixture: String) async throws {
    let reader = try await StoreReader.open(ReaderFixture.store(fixture))
    let files = try await reader.files()
    let contents = try await reader.contents(of: files)
    try await reader.close()
    let expected = try ReaderFixture.expected(fixture)
    let records = try #require(expected["records"]?.objectValue)
    #expect(ids(contents) == records.keys)
    for record in contents.records {
      let value = try JSONValue(parsing: record.data)
      #expect(value.isIdentical(to: try #require(records[record.id])), "\(record.id)")
    }
    #expect(Int64(contents.operations.entries.count) == expected["walOps"]?.intValue)
    #expect(contents.operations.problems.count == (fixture == "torn-tail" ? 3 : 0))
    #expect(files.isMultiWriter == (fixture == "multi-writer"))
  }

  @Test func tornTailProblemsNameTheirLines() async throws {
    let reader = try await StoreReader.open(ReaderFixture.store("torn-tail"))
    let files = try await reader.files()
    let operations = try await reader.operations(of: files)
    try await reader.close()
    let lines = operations.problems.map(\.line)
    #expect(lines.count == 3)
    #expect(lines == lines.sorted())
    let last = try #require(operations.problems.last)
    #expect(last.reason.contains("no newline"))
    #expect(last.description.hasPrefix("ops/ops-1795353326788.jsonl:\(last.line): skipped"))
  }

  @Test func multiWriterFixtureMergesByClockThenAgent() async throws {
    let reader = try await StoreReader.open(ReaderFixture.store("multi-writer"))
    let files = try await reader.files()
    #expect(files.wals.map(\.agent) == ["agent-A", "agent-B"])
    let operations = try await reader.operations(of: files)
    try await reader.close()
    let stamps = operations.entries.map { ($0.operation.clock ?? -1, $0.operation.agent ?? "") }
    #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 <= $1.1) })
  }

  @Test func aCompleteBatchApplies() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      try store.write(
        "ops/ops-100.jsonl", setLine("a", 1, batch: 3) + setLine("b", 2) + setLine("c", 3) + setLine("d", 4))
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["a", "b", "c", "d"])
      #expect(contents.operations.entries.map { $0.batch?.count } == [3, 3, 3, nil])
      #expect(contents.operations.entries.map { $0.batch?.index } == [0, 1, 2, nil])
      #expect(contents.operations.problems.isEmpty)
    }
  }

  @Test(arguments: [0, 1, 2])
  func aBatchCutShortAtTheEndIsSkippedWhole(linesPresent: Int) async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      // The lines after the first that survived the crash, the last of them torn.
      let members = [setLine("b", 2), setLine("c", 3)]
      var wal = setLine("before", 0) + setLine("a", 1, batch: 4) + members.prefix(linesPresent).joined()
      wal += String(setLine("d", 4).prefix(20))
      try store.write("ops/ops-100.jsonl", wal)
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["before"])
      #expect(contents.operations.problems.count == 2)
      #expect(contents.operations.problems.first?.line == 2)
      #expect(contents.operations.problems.first?.reason.contains("cut short") == true)
    }
  }

  @Test func aBatchDamagedInTheMiddleIsSkippedWholeAndTheRestApplies() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      let wal = setLine("a", 1, batch: 3) + "{not json\n" + setLine("c", 3) + setLine("d", 4)
      try store.write("ops/ops-100.jsonl", wal)
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["d"])
      #expect(contents.operations.problems.map(\.line) == [1, 2])
      #expect(contents.operations.problems[0].reason.contains("line 2 is damaged"))
    }
  }

  @Test func aBatchWhoseFirstLineIsDamagedReadsTheRestAsSingleOperations() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      let first = String(setLine("a", 1, batch: 3).dropFirst(3))
      try store.write("ops/ops-100.jsonl", first + setLine("b", 2) + setLine("c", 3))
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["b", "c"])
      #expect(contents.operations.problems.map(\.line) == [1])
    }
  }

  @Test(arguments: ["1", "0", "\"3\"", "2.5"])
  func aBatchFieldThatIsNotACountOfTwoOrMoreMakesTheLineInvalid(value: String) async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      let line = setLine("a", 1).dropLast(2) + #","batch":\#(value)}"# + "\n"
      try store.write("ops/ops-100.jsonl", line + setLine("b", 2))
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["b"])
      #expect(contents.operations.problems.first?.reason.contains("batch is") == true)
    }
  }

  @Test func snapshotRecordsComeFirstAndWALOperationsApplyInOrder() async throws {
    try await withTemporaryDirectory { root in
      let header = #"{"version":1,"timestamp":"2026-01-01T00:00:00.000Z"}"#
      let snapshot =
        [header, #"{"id":"x","data":{"v":0}}"#, #"{"id":"y","data":{"v":0}}"#].joined(separator: "\n") + "\n"
      let store = try HandWrittenStore(root: root, snapshot: snapshot)
      let delete = #"{"ts":"2026-01-01T00:00:02.000Z","op":"delete","id":"x","prev":{"v":0}}"# + "\n"
      try store.write("ops/ops-100.jsonl", setLine("y", 5) + delete + setLine("x", 6) + setLine("z", 7))
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["y", "x", "z"])
      #expect(contents.records.map(text) == [#"{"v":5}"#, #"{"v":6}"#, #"{"v":7}"#])
      #expect(contents.snapshotRecordCount == 2)
    }
  }

  @Test func gzipSnapshotsAndWALsAreReadByTheirMagicBytes() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      let snapshot = #"{"version":1,"timestamp":"2026-01-01T00:00:00.000Z"}"# + "\n" + #"{"id":"s","data":1}"# + "\n"
      let compressor = try GzipCompressor(level: 6)
      let gzipped = try compressor.compress(Array(snapshot.utf8)) + compressor.finish()
      // Named without .gz: detection goes by content.
      try store.write("snapshots/snap-100.jsonl", gzipped)
      let walCompressor = try GzipCompressor(level: 1)
      try store.write(
        "ops/ops-100.jsonl", try walCompressor.compress(Array(setLine("w", 2).utf8)) + walCompressor.finish())
      let (_, contents) = try await store.read()
      #expect(ids(contents) == ["s", "w"])
    }
  }

  @Test func retiredAgentWALsApplyTheirLinesAfterTheThroughOffset() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      try store.writeManifest(wal: "ops/agent-A-200.jsonl", agents: [("A", "ops/agent-A-200.jsonl")])
      try store.write("ops/agent-A-200.jsonl", setLine("a", 1, agent: "A", clock: 5))
      let included = setLine("b-old", 1, agent: "B", clock: 1)
      let stranded = setLine("b-new", 2, agent: "B", clock: 2)
      try store.write("ops/agent-B-150.jsonl", included + stranded)
      try store.write("ops/agent-B-150.jsonl.through", "\(included.utf8.count)\n")
      // A retired WAL whose lines were all carried over contributes nothing.
      try store.write("ops/agent-C-150.jsonl", setLine("c", 1, agent: "C", clock: 1))
      try store.write("ops/agent-C-150.jsonl.through", "\(setLine("c", 1, agent: "C", clock: 1).utf8.count)")
      let (files, contents) = try await store.read()
      #expect(files.wals.map(\.path) == ["ops/agent-A-200.jsonl", "ops/agent-B-150.jsonl"])
      #expect(files.wals.last?.isRetired == true)
      #expect(files.wals.last?.agent == "B")
      #expect(ids(contents) == ["b-new", "a"])
    }
  }

  @Test func inventoryTellsCurrentPreviousAndGarbageApart() async throws {
    let reader = try await StoreReader.open(ReaderFixture.store("archived"))
    let files = try await reader.files()
    let inventory = try await reader.inventory(of: files)
    try await reader.close()
    let roles = Dictionary(uniqueKeysWithValues: inventory.map { ($0.path, $0.role) })
    #expect(roles["manifest.json"] == .manifest)
    #expect(roles["snapshots/snap-1795353326745.jsonl"] == .snapshot)
    #expect(roles["ops/ops-1795353326745.jsonl"] == .wal)
    #expect(roles["snapshots/snap-1795353326744.jsonl"] == .previousGeneration)
    #expect(roles["ops/ops-1795353326744.jsonl"] == .previousGeneration)
    #expect(roles["snapshots/snap-1795353326742.jsonl"] == .garbage)
    #expect(roles["ops/ops-1795353326735.jsonl"] == .garbage)
    #expect(roles["archive/archive-2024.json"] == .archiveSegment)
    let manifestSize =
      try FileManager.default.attributesOfItem(
        atPath: ReaderFixture.store("archived") + "/manifest.json")[.size] as? Int
    #expect(inventory.first { $0.path == "manifest.json" }?.size == manifestSize)
  }

  @Test func inventoryKeepsTheNodeLayoutsPreviousGeneration() async throws {
    // opslog for Node names a checkpoint's WAL a few milliseconds after its snapshot.
    let reader = try await StoreReader.open(ReaderFixture.store("checkpointed"))
    let inventory = try await reader.inventory(of: try await reader.files())
    try await reader.close()
    let roles = Dictionary(uniqueKeysWithValues: inventory.map { ($0.path, $0.role) })
    #expect(roles["snapshots/snap-1795353326674.jsonl"] == .previousGeneration)
    #expect(roles["ops/ops-1795353326678.jsonl"] == .previousGeneration)
    #expect(roles["ops/ops-1795353326697.jsonl"] == .wal)
    #expect(!roles.values.contains(.garbage))
  }

  @Test func temporaryFilesAndOrphanMarkersAreGarbageUnlistedArchivesAreNot() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      try store.write("ops/ops-100.jsonl", "")
      try store.write("manifest.json.tmp", "{")
      try store.write("ops/agent-Z-50.jsonl.through", "10")
      try store.write("archive/archive-2020.json", "{}")
      let reader = try await StoreReader.open(store.location)
      let inventory = try await reader.inventory(of: try await reader.files())
      try await reader.close()
      let roles = Dictionary(uniqueKeysWithValues: inventory.map { ($0.path, $0.role) })
      #expect(roles["manifest.json.tmp"] == .garbage)
      #expect(roles["ops/agent-Z-50.jsonl.through"] == .garbage)
      #expect(roles["archive/archive-2020.json"] == .unlistedArchive)
    }
  }

  @Test func aMissingStoreIsNotFoundAndAManifestlessOneIsCorrupted() async throws {
    try await withTemporaryDirectory { root in
      let missing = await thrownError { _ = try await StoreReader.open(root + "/nothing") }
      guard case .storeNotFound? = missing as? OpsLogError else {
        Issue.record("expected storeNotFound, got \(String(describing: missing))")
        return
      }
      let store = try HandWrittenStore(root: root)
      // A WAL with data and no manifest (a header-only snapshot and empty WAL are what a cut
      // short first open leaves, and open as a fresh store).
      try store.write("ops/ops-100.jsonl", setLine("a", 1))
      try FileManager.default.removeItem(atPath: store.location + "/manifest.json")
      let reader = try await StoreReader.open(store.location)
      let error = await thrownError { _ = try await reader.files() }
      guard case .corrupted(let path, _)? = error as? OpsLogError else {
        Issue.record("expected corrupted, got \(String(describing: error))")
        return
      }
      #expect(path == "manifest.json")
      try await reader.close()
    }
  }

  @Test func aMissingWALIsReportedAndReadAsEmpty() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      let (_, contents) = try await store.read()
      #expect(contents.operations.missingFiles == ["ops/ops-100.jsonl"])
      #expect(contents.records.isEmpty)
    }
  }

  @Test func aMissingSnapshotIsCorrupted() async throws {
    try await withTemporaryDirectory { root in
      let store = try HandWrittenStore(root: root)
      try store.write("ops/ops-100.jsonl", "")
      try FileManager.default.removeItem(atPath: store.location + "/snapshots/snap-100.jsonl")
      let error = await thrownError { _ = try await store.read() }
      guard case .corrupted(let path, _)? = error as? OpsLogError else {
        Issue.record("expected corrupted, got \(String(describing: error))")
        return
      }
      #expect(path == "snapshots/snap-100.jsonl")
    }
  }

  @Test func fileNamesYieldTheirTimesAndAgents() {
    #expect(StoreFileName.milliseconds(of: "snapshots/snap-123.jsonl.gz") == 123)
    #expect(StoreFileName.milliseconds(of: "ops/agent-a-b-77.jsonl") == 77)
    #expect(StoreFileName.milliseconds(of: "archive/archive-2025-Q4.json") == nil)
    #expect(StoreFileName.milliseconds(of: "manifest.json") == nil)
    #expect(StoreFileName.agent(ofWAL: "ops/agent-a-b-77.jsonl") == "a-b")
    #expect(StoreFileName.agent(ofWAL: "ops/ops-77.jsonl") == nil)
  }
}
