import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("Open, read-only, skipLoad, locks")
struct OpenModesTests {
  @Test(arguments: BackendKind.allCases)
  func readOnlyAndSkipLoadDoNotCreateAStore(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    await #expect(throws: OpsLogError.storeNotFound(location: location.path)) {
      try await location.open(Todo.self, { $0.readOnly = true })
    }
    await #expect(throws: OpsLogError.storeNotFound(location: location.path)) {
      try await location.open(Todo.self, { $0.skipLoad = true })
    }
    let inspector = try await location.inspector()
    #expect(try await inspector.list("").isEmpty, "nothing was created")
    try await inspector.shutdown()
    if kind == .filesystem { #expect(!FileManager.default.fileExists(atPath: location.path)) }
  }

  @Test(arguments: BackendKind.allCases)
  func readOnlyTakesNoLockAndRefusesMutations(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(Todo.self)
    try await writer.set("a", Todo(title: "A", status: "active"))
    let reader = try await location.open(Todo.self, { $0.readOnly = true })
    #expect(try reader.get("a")?.title == "A")
    await #expect(throws: OpsLogError.readOnly) { try await reader.set("b", Todo(title: "B", status: "")) }
    await #expect(throws: OpsLogError.readOnly) { try await reader.delete("a") }
    await #expect(throws: OpsLogError.readOnly) { try await reader.undo() }
    await #expect(throws: OpsLogError.readOnly) { try await reader.compact() }
    await #expect(throws: OpsLogError.readOnly) { try await reader.batch { $0.set("c", Todo(title: "", status: "")) } }
    try await reader.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aSecondWriterIsLockedOut(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let first = try await location.open(Todo.self)
    await #expect {
      try await location.open(Todo.self)
    } throws: { error in
      guard case OpsLogError.locked(let holder) = error else { return false }
      return !holder.isEmpty
    }
    try await first.close()
    let second = try await location.open(Todo.self)  // released on close
    try await second.close()
  }

  @Test(arguments: BackendKind.allCases)
  func skipLoadWritesButNeverCompacts(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(Todo.self)
    try await writer.set("a", Todo(title: "A", status: "active"))
    try await writer.close()
    let fast = try await location.open(Todo.self, { $0.skipLoad = true })
    #expect(try fast.count() == 0, "skipLoad loads nothing")
    try await fast.set("b", Todo(title: "B", status: "active"))
    await #expect(throws: OpsLogError.self) { try await fast.compact() }
    try await fast.close()
    let reopened = try await location.open(Todo.self)
    #expect(try reopened.entries().map(\.id) == ["a", "b"])
    try await reopened.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aManifestlessStoreWithFilesIsCorruptedNotFresh(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.set("a", Todo(title: "A", status: "active"))
    try await store.close()
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.remove("manifest.json")
    try await backend.shutdown()
    await #expect {
      try await location.open(Todo.self)
    } throws: { error in
      guard case OpsLogError.corrupted(let path, _) = error else { return false }
      return path == "manifest.json"
    }
    // A failed open leaves no lock behind: a read-only check sees no .lock.
    let inspector = try await location.inspector()
    #expect(try await inspector.read(".lock") == nil)
    try await inspector.shutdown()
  }

  @Test(arguments: BackendKind.allCases)
  func damagedManifestOrMissingSnapshotIsCorrupted(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    let snapshot = try store.manifest().currentSnapshot
    try await store.close()
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    let goodManifest = try await backend.read("manifest.json")!
    var bad: [UInt8]? = Array(#"{"version": 1, "currentSnap"#.utf8)
    try await backend.replace("manifest.json") {
      defer { bad = nil }
      return bad
    }
    await #expect(throws: OpsLogError.self) { try await location.open(Todo.self) }
    var good: [UInt8]? = goodManifest
    try await backend.replace("manifest.json") {
      defer { good = nil }
      return good
    }
    try await backend.remove(snapshot)
    await #expect {
      try await location.open(Todo.self)
    } throws: { error in
      guard case OpsLogError.corrupted(let path, _) = error else { return false }
      return path == snapshot
    }
    #expect(try await backend.read(".lock") == nil, "a failed open leaves no lock")
    try await backend.shutdown()
  }

  @Test func typedStoreOverMismatchedRecordsFailsClearly() async throws {
    let location = TestLocation(.memory)
    let documents = try await location.open(JSONValue.self)
    try await documents.set("x", ["unrelated": true])
    try await documents.close()
    await #expect {
      try await location.open(Todo.self)
    } throws: { error in
      // The data is intact: the error names the record and the type, and advises ways to
      // open it that cannot destroy anything.
      guard case OpsLogError.recordTypeMismatch(let id, let type, _) = error else { return false }
      let advice = (error as? OpsLogError)?.description ?? ""
      return id == "x" && type == "Todo" && advice.contains("Store<JSONValue>") && !advice.contains("remove")
    }
  }
}

@Suite("Hostile manifests")
struct HostileManifestTests {
  @Test(arguments: ["../../etc/passwd", "/etc/passwd", "snapshots/../../outside.jsonl"])
  func aManifestPointingOutsideTheStoreIsCorrupted(path: String) async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self)
    try await store.set("keep", true)
    try await store.close()
    let backend = FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    var manifest = try #require(try await backend.readManifest())
    let good = manifest
    manifest.currentSnapshot = path
    var bytes: [UInt8]? = ManifestCodec.encode(manifest)
    try await backend.replace("manifest.json") {
      defer { bytes = nil }
      return bytes
    }
    await #expect {
      try await location.open(JSONValue.self)
    } throws: { error in
      guard case OpsLogError.corrupted(let file, let reason) = error else { return false }
      return file == "manifest.json" && reason.contains("currentSnapshot")
    }
    // Nothing was written over the good data: restoring the manifest restores the store.
    try await backend.writeManifest(good)
    try await backend.shutdown()
    let restored = try await location.open(JSONValue.self)
    #expect(try restored.get("keep") == true)
    try await restored.close()
  }
}
