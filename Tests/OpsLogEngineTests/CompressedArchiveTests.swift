import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Compressed archive segments (archive-<period>.json.gz)")
struct CompressedArchiveTests {
  func raw(_ location: TestLocation, _ path: String) async throws -> [UInt8]? {
    let backend = try await location.inspector()
    let bytes = try await backend.read(path)
    try await backend.shutdown()
    return bytes
  }

  func overwrite(_ location: TestLocation, _ path: String, with bytes: [UInt8]) async throws {
    let backend: any StorageBackend = location.kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.replace(path, bytes: bytes)
    try await backend.shutdown()
  }

  /// A store whose records t0…t5 alternate between "done" and "active".
  func filledStore(_ location: TestLocation, compression: SnapshotCompression) async throws -> Store<Todo> {
    let store = try await location.open(Todo.self, { $0.snapshotCompression = compression })
    for index in 0..<6 {
      try await store.set("t\(index)", Todo(title: "T\(index)", status: index.isMultiple(of: 2) ? "done" : "active"))
    }
    return store
  }

  @Test(arguments: BackendKind.allCases)
  func aCompressingStoreWritesGzipSegmentsThatEveryStoreReads(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await filledStore(location, compression: .gzip(level: 6))
    #expect(try await store.archive(segment: "2024") { todo, _ in todo.status == "done" } == 3)
    let path = "archive/archive-2024.json.gz"
    #expect(try store.archiveSegments() == [path])
    let bytes = try #require(try await raw(location, path))
    #expect(Gzip.hasMagic(bytes), "the segment is gzip-compressed")
    #expect(try await raw(location, "archive/archive-2024.json") == nil, "and there is no plain one beside it")
    let plain = try Gzip.decompress(bytes, path: path)
    #expect(String(decoding: plain, as: UTF8.self).hasPrefix("{\n  \"version\": 1,\n  \"period\": \"2024\""))
    #expect(try await store.loadArchive("2024").keys.sorted() == ["t0", "t2", "t4"])
    #expect(try await store.loadArchive(path).count == 3)

    // Archiving into it again merges and keeps it compressed.
    #expect(try await store.archive(segment: "2024") { _, id in id == "t1" } == 1)
    #expect(try store.archiveSegments() == [path], "listed once")
    #expect(try await store.loadArchive("2024").keys.sorted() == ["t0", "t1", "t2", "t4"])
    try await store.close()

    // A store that does not compress reads it, and merging into it keeps its kind.
    let plainStore = try await location.open(Todo.self)
    #expect(try await plainStore.loadArchive("2024")["t4"] == Todo(title: "T4", status: "done"))
    #expect(try await plainStore.archive(segment: "2024") { _, id in id == "t3" } == 1)
    #expect(try plainStore.archiveSegments() == [path])
    #expect(Gzip.hasMagic(try #require(try await raw(location, path))))
    // A new period follows the store's own option: plain.
    #expect(try await plainStore.archive(segment: "2025") { _, id in id == "t5" } == 1)
    #expect(try plainStore.archiveSegments() == [path, "archive/archive-2025.json"])
    #expect(!Gzip.hasMagic(try #require(try await raw(location, "archive/archive-2025.json"))))
    try await plainStore.close()

    // The engine-free reader reads both kinds.
    let reader = try await StoreReader.open(
      location.path, backend: kind == .memory ? MemoryBackend(disk: location.disk) : nil)
    let files = try await reader.files()
    #expect(try await reader.archiveSegment(path).records.keys.sorted() == ["t0", "t1", "t2", "t3", "t4"])
    #expect(try await reader.archiveSegment("archive/archive-2025.json").records.keys == ["t5"])
    #expect(try await reader.contents(of: files).records.isEmpty, "every record is archived")
    try await reader.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aPlainSegmentStaysPlainWhenTheStoreStartsCompressing(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await filledStore(location, compression: .none)
    #expect(try await store.archive(segment: "old") { _, id in id == "t0" } == 1)
    try await store.close()
    let compressing = try await location.open(Todo.self, { $0.snapshotCompression = .gzip(level: 1) })
    #expect(try await compressing.archive(segment: "old") { _, id in id == "t1" } == 1)
    #expect(try compressing.archiveSegments() == ["archive/archive-old.json"], "a period never has two files")
    #expect(try await compressing.loadArchive("old").count == 2)
    #expect(try await raw(location, "archive/archive-old.json.gz") == nil)
    try await compressing.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aTruncatedOrDamagedGzipSegmentIsAClearError(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await filledStore(location, compression: .gzip(level: 6))
    #expect(try await store.archive(segment: "2024") { todo, _ in todo.status == "done" } == 3)
    try await store.close()
    let path = "archive/archive-2024.json.gz"
    let good = try #require(try await raw(location, path))

    let damages: [(name: String, bytes: [UInt8], says: String)] = [
      ("truncated", Array(good.prefix(good.count / 2)), "truncated"),
      ("without its trailer", Array(good.dropLast(4)), "truncated"),
      ("with a damaged block", Array(good.prefix(12)) + good.dropFirst(12).map { $0 ^ 0x5A }, "damaged"),
    ]
    for damage in damages {
      try await overwrite(location, path, with: damage.bytes)
      let reopened = try await location.open(Todo.self, { $0.snapshotCompression = .gzip(level: 6) })
      #expect(try reopened.count() == 3, "the active records do not depend on the archive")
      let error = await #expect(throws: OpsLogError.self, "\(damage.name)") { try await reopened.loadArchive("2024") }
      guard case .corrupted(let errorPath, let reason)? = error else {
        Issue.record("\(damage.name): expected .corrupted, got \(String(describing: error))")
        try await reopened.close()
        continue
      }
      #expect(errorPath == path)
      #expect(reason.contains(damage.says), "\(damage.name): \(reason)")
      // Merging into a damaged segment would lose what it holds: refused, and left as it is.
      await #expect(throws: OpsLogError.self) { try await reopened.archive(segment: "2024") { _, _ in true } }
      #expect(try reopened.count() == 3)
      #expect(try await raw(location, path) == damage.bytes)
      try await reopened.close()

      let reader = try await StoreReader.open(
        location.path, backend: kind == .memory ? MemoryBackend(disk: location.disk) : nil)
      await #expect(throws: OpsLogError.corrupted(path: path, reason: error?.corruptedReason ?? "")) {
        _ = try await reader.archiveSegment(path)
      }
      try await reader.close()
    }
  }
}

extension OpsLogError {
  fileprivate var corruptedReason: String? {
    if case .corrupted(_, let reason) = self { return reason }
    return nil
  }
}
