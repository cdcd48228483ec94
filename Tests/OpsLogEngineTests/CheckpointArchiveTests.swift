import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Checkpoint, archive, gzip and the on-disk format")
struct CheckpointArchiveTests {
  @Test(arguments: BackendKind.allCases)
  func thresholdCheckpointsKeepEveryWrite(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.checkpointThreshold = 10 })
    let firstSnapshot = try store.manifest().currentSnapshot
    for index in 0..<95 {
      try await store.set("t\(index % 40)", Todo(title: "T\(index)", status: "active", priority: index))
    }
    try await store.compact()  // waits for a background checkpoint, then takes its own
    #expect(try store.manifest().currentSnapshot != firstSnapshot)
    #expect(try store.stats().opsCount == 0)
    let expected = try store.entries().map { "\($0.id)=\($0.record.priority)" }
    try await store.close()
    let reopened = try await location.open(Todo.self)
    #expect(try reopened.entries().map { "\($0.id)=\($0.record.priority)" } == expected)
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func writesDuringABackgroundCheckpointAreCarriedOver(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(
      JSONValue.self,
      {
        $0.checkpointThreshold = 50
        $0.checkpointOnClose = false
      })
    try await withThrowingTaskGroup(of: Void.self) { group in
      for writer in 0..<4 {
        group.addTask { for index in 0..<200 { try await store.set("w\(writer)-\(index)", .int(Int64(index))) } }
      }
      try await group.waitForAll()
    }
    try await store.close()
    let reopened = try await location.open(JSONValue.self, { $0.readOnly = true })
    #expect(try reopened.count() == 800, "no write is lost to a checkpoint")
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func archiveMovesRecordsAndMerges(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    for index in 0..<6 {
      try await store.set("t\(index)", Todo(title: "T\(index)", status: index < 3 ? "done" : "active"))
    }
    let moved = try await store.archive(segment: "2024") { record, _ in record.status == "done" }
    #expect(moved == 3)
    #expect(try store.entries().map(\.id) == ["t3", "t4", "t5"])
    #expect(try store.archiveSegments() == ["archive/archive-2024.json"])
    try await store.set("t3", Todo(title: "T3", status: "done"))
    #expect(try await store.archive(segment: "2024") { record, _ in record.status == "done" } == 1)
    #expect(try store.archiveSegments() == ["archive/archive-2024.json"], "listed once")
    let archived = try await store.loadArchive("2024")
    #expect(archived.keys.sorted() == ["t0", "t1", "t2", "t3"])
    #expect(try await store.loadArchive("archive/archive-2024.json").count == 4)
    #expect(try await store.archive(segment: "2024") { _, _ in false } == 0)
    let quarter = try await store.archive { _, id in id == "t4" }
    #expect(quarter == 1)
    #expect(try store.archiveSegments().last == "archive/archive-\(ISOTime.currentQuarter()).json")
    await #expect(throws: OpsLogError.archiveSegmentNotFound("1999")) { try await store.loadArchive("1999") }
    await #expect(throws: OpsLogError.self) { try await store.archive(segment: "../evil") { _, _ in true } }
    #expect(try store.manifest().stats.archivedRecords == 5)
    try await store.close()
    let reopened = try await location.open(Todo.self)
    #expect(try reopened.entries().map(\.id) == ["t5"])
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func gzipSnapshotsRoundTrip(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.snapshotCompression = .gzip(level: 6) })
    for index in 0..<50 { try await store.set("t\(index)", Todo(title: "T\(index)", status: "active")) }
    try await store.compact()
    let snapshot = try store.manifest().currentSnapshot
    #expect(snapshot.hasSuffix(".jsonl.gz"))
    try await store.close()
    let plain = try await location.open(Todo.self)  // any store opens whichever kind its manifest names
    #expect(try plain.count() == 50)
    try await plain.compact()
    #expect(try plain.manifest().currentSnapshot.hasSuffix(".jsonl"))
    try await plain.close()
    if kind == .filesystem {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/bin/gzip")
      process.arguments = ["-t", location.path + "/" + snapshot]
      try process.run()
      process.waitUntilExit()
      #expect(process.terminationStatus == 0, "gzip reads the snapshot")
    }
  }

  /// Every file the engine writes (without gzip) follows the reference's format rules.
  @Test(arguments: BackendKind.allCases)
  func writtenFilesFollowTheFormat(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self, { $0.checkpointThreshold = 7 })
    for index in 0..<30 {
      try await store.set(
        "k\(index % 9)", ["n": .int(Int64(index)), "text": .string(String(repeating: "x", count: index))])
      if index % 5 == 0 { try await store.delete("k\(index % 9)") }
    }
    _ = try await store.archive(segment: "old") { _, id in id == "k1" }
    try await store.close()
    let backend = try await location.inspector()
    let manifest = try #require(try await backend.readManifest())
    #expect(manifest.currentSnapshot.hasPrefix("snapshots/snap-") && manifest.currentSnapshot.hasSuffix(".jsonl"))
    #expect(manifest.activeOps.hasPrefix("ops/ops-") && manifest.activeOps.hasSuffix(".jsonl"))
    for name in try await backend.list("snapshots") {
      #expect(!name.hasSuffix(".tmp"), "no temporary file is left")
      let bytes = try #require(try await backend.read("snapshots/" + name))
      let lines = bytes.split(separator: UInt8(ascii: "\n"))
      let header = try JSONValue(parsing: lines[0])
      #expect(header.objectValue?.keys == ["version", "timestamp"])
      for line in lines.dropFirst() {
        let record = try JSONValue(parsing: line)
        #expect(record.objectValue?.keys == ["id", "data"])
      }
    }
    for name in try await backend.list("ops") {
      let bytes = try #require(try await backend.read("ops/" + name))
      #expect(bytes.isEmpty || bytes.last == UInt8(ascii: "\n"))
      for line in bytes.split(separator: UInt8(ascii: "\n")) {
        let operation = try OperationLine.decode(line)
        #expect(OperationLine.encode(operation) == Array(line), "reference key order")
      }
    }
    for path in manifest.archiveSegments {
      let segment = try #require(try await backend.readArchiveSegment(path))
      #expect(segment.period == "old")
    }
    try await backend.shutdown()
  }
}
