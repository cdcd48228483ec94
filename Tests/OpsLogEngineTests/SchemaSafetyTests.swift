import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogStorage
import Testing

/// Docs/API.md "Schema safety": fields the record type does not decode are kept.
@Suite("Schema safety: unknown fields are kept")
struct SchemaSafetyTests {
  /// An application that knows only some of the fields.
  struct Subset: Codable, Sendable, Equatable {
    var title: String
    var status: String
  }

  static let full: JSONValue = [
    "title": "T", "status": "active", "priority": 3, "notes": "kept", "nested": ["deep": [1, 2.5, "x"]],
  ]

  func plant(_ records: [String: JSONValue], at location: TestLocation, walToo: Bool = true) async throws {
    let documents = try await location.open(JSONValue.self) { $0.checkpointOnClose = false }
    for (id, value) in records.sorted(by: { $0.key < $1.key }) { try await documents.set(id, value) }
    if !walToo { try await documents.compact() }
    try await documents.close()
  }

  func stored(_ location: TestLocation) async throws -> [String: JSONValue] {
    let documents = try await location.open(JSONValue.self) { $0.readOnly = true }
    defer { Task { try? await documents.close() } }
    return Dictionary(uniqueKeysWithValues: try documents.entries().map { ($0.id, $0.record) })
  }

  @Test(arguments: BackendKind.allCases, [true, false])
  func aSubsetTypeRewritesNoRecordWithoutItsOtherFields(kind: BackendKind, fromWAL: Bool) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    try await plant(["a": Self.full, "b": Self.full, "c": Self.full], at: location, walToo: fromWAL)
    let store = try await location.open(Subset.self) { $0.checkpointOnClose = true }
    #expect(try store.get("a") == Subset(title: "T", status: "active"))
    try await store.set("a", Subset(title: "T2", status: "done"))
    try await store.delete("c")
    try await store.compact()
    try await store.set("d", Subset(title: "D", status: "new"))
    try await store.close()
    let after = try await stored(location)
    // Untouched: as stored, nested unknowns included.
    #expect(after["b"] == Self.full)
    // Updated: the type's fields, with the unknown top-level keys beside them.
    #expect(
      after["a"] == [
        "title": "T2", "status": "done", "priority": 3, "notes": "kept", "nested": ["deep": [1, 2.5, "x"]],
      ])
    #expect(after["c"] == nil)
    #expect(after["d"] == ["title": "D", "status": "new"])
  }

  @Test func untouchedRecordsStayByteForByteInEverySnapshot() async throws {
    let location = TestLocation(.memory)
    try await plant(["b": Self.full], at: location, walToo: false)
    let inspector = try await location.inspector()
    let manifest = try await inspector.readManifest()!
    let before = try await inspector.read(manifest.currentSnapshot)!
    let line = String(decoding: before, as: UTF8.self).split(separator: "\n")[1]
    try await inspector.shutdown()
    let store = try await location.open(Subset.self)
    try await store.set("x", Subset(title: "X", status: "s"))
    try await store.compact()
    try await store.close()
    let reader = try await location.inspector()
    let snapshot = try await reader.read(try await reader.readManifest()!.currentSnapshot)!
    #expect(String(decoding: snapshot, as: UTF8.self).split(separator: "\n").contains(line))
    try await reader.shutdown()
  }

  @Test func undoOfAnUpdatePutsTheStoredJSONBack() async throws {
    let location = TestLocation(.memory)
    try await plant(["a": Self.full], at: location, walToo: false)
    let store = try await location.open(Subset.self) { $0.checkpointOnClose = true }
    try await store.set("a", Subset(title: "T2", status: "done"))
    try await store.delete("a")
    #expect(try await store.undo())
    #expect(try await store.undo())
    try await store.batch { batch in
      batch.set("a", Subset(title: "B1", status: "s"))
      batch.set("a", Subset(title: "B2", status: "s"))
    }
    #expect(try await store.undo())
    try await store.close()
    #expect(try await stored(location)["a"] == Self.full)
  }

  /// A type whose optional property reads `null` as `nil` and writes `nil` as nothing.
  struct OptionalNote: Codable, Sendable, Equatable {
    var title: String
    var note: String?
  }

  /// Found by the differential run (Tests/differential.sh, typed turns): `{"note": null}`
  /// came back as `{}` from undo and from every checkpoint, with no write of the record,
  /// because the type reads the null as absent and encodes absent as nothing.
  @Test(arguments: BackendKind.allCases)
  func explicitNullsOfOptionalPropertiesStayUntilTheRecordIsWritten(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let withNull: JSONValue = ["title": "T", "note": nil]
    try await plant(["a": withNull, "b": withNull, "c": ["title": "C", "note": "n"]], at: location, walToo: false)
    let store = try await location.open(OptionalNote.self) { $0.checkpointOnClose = true }
    #expect(try store.get("a") == OptionalNote(title: "T", note: nil))
    try await store.set("a", OptionalNote(title: "T2", note: "written"))
    #expect(try await store.undo())
    try await store.set("c", OptionalNote(title: "C", note: nil))
    try await store.compact()
    try await store.close()
    let records = try await stored(location)
    #expect(records["a"] == withNull, "undo puts the stored JSON back, null included")
    #expect(records["b"] == withNull, "a record not written again keeps its null in every snapshot")
    #expect(records["c"] == ["title": "C"], "a record written again is the type's encoding")
    // Written again with nil: the type's encoding, which leaves the member out.
    let again = try await location.open(OptionalNote.self)
    try await again.set("b", OptionalNote(title: "T", note: nil))
    try await again.close()
    #expect(try await stored(location)["b"] == ["title": "T"])
  }

  @Test func anOlderApplicationKeepsANewerVersionsFields() async throws {
    // The store holds fields an older type does not know: archive and reopen keep them.
    let location = TestLocation(.memory)
    try await plant(["a": Self.full, "b": Self.full], at: location)
    let store = try await location.open(Subset.self)
    try await store.archive(segment: "old") { _, id in id == "a" }
    let archived = try await store.loadArchive("old")
    #expect(archived["a"] == Subset(title: "T", status: "active"))
    try await store.close()
    let inspector = try await location.inspector()
    let segment = try await inspector.readArchiveSegment("archive/archive-old.json")
    #expect(segment?.records["a"] == Self.full)
    try await inspector.shutdown()
    #expect(try await stored(location)["b"] == Self.full)
  }

  @Test func recordsThatMatchTheTypeKeepNothing() async throws {
    struct Full: Codable, Sendable {
      var title: String
      var status: String
    }
    let location = TestLocation(.memory)
    try await plant(["a": ["title": "T", "status": "s"]], at: location)
    let store = try await location.open(Full.self)
    try await store.set("a", Full(title: "U", status: "s"))
    try await store.close()
    #expect(try await stored(location)["a"] == ["title": "U", "status": "s"])
  }
}
