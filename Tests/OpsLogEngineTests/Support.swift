import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

struct Todo: Codable, Sendable, Equatable {
  var title: String
  var status: String
  var priority: Int = 1
  var notes: String = ""
}

/// Where a test's store lives: a fresh temporary directory on disk, or a fresh memory disk.
enum BackendKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case filesystem, memory
  var testDescription: String { rawValue }
}

/// A store location plus what opens it, so a test can reopen "the same disk".
struct TestLocation: Sendable {
  let kind: BackendKind
  let path: String
  let disk: MemoryDisk

  init(_ kind: BackendKind) {
    self.kind = kind
    disk = MemoryDisk()
    switch kind {
    case .filesystem:
      path =
        FileManager.default.temporaryDirectory
        .appendingPathComponent("opslog-engine-\(UUID().uuidString)").path
    case .memory:
      path = "/memory/store-\(UUID().uuidString)"
    }
  }

  func options(_ configure: (inout StoreOptions) -> Void = { _ in }) -> StoreOptions {
    var options = StoreOptions()
    if kind == .memory { options.backend = MemoryBackend(disk: disk) }
    configure(&options)
    return options
  }

  func open<Record: Codable & Sendable>(
    _ type: Record.Type = Record.self, _ configure: (inout StoreOptions) -> Void = { _ in }
  ) async throws -> Store<Record> {
    try await Store<Record>.open(path, options: options(configure))
  }

  /// A backend on the same medium, for looking at the files directly.
  func inspector() async throws -> any StorageBackend {
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: disk) : FsBackend()
    try await backend.initialize(location: path, readOnly: true)
    return backend
  }

  func cleanUp() {
    if kind == .filesystem { try? FileManager.default.removeItem(atPath: path) }
  }
}

/// The directory holding the reference fixtures copied from opslog 0.8.1.
let fixturesDirectory = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Copies a fixture's store to a fresh temporary directory (tests never write into fixtures)
/// that the caller removes. A copy that fails part way is removed here.
func copyFixture(_ name: String) throws -> String {
  let destination = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-fixture-\(UUID().uuidString)")
  do {
    try FileManager.default.copyItem(
      at: fixturesDirectory.appendingPathComponent(name).appendingPathComponent("store"), to: destination)
  } catch {
    try? FileManager.default.removeItem(at: destination)
    throw error
  }
  return destination.path
}

func walLines(_ location: TestLocation, _ store: Store<some Codable & Sendable>) async throws -> [String] {
  let backend = try await location.inspector()
  defer { Task { try? await backend.shutdown() } }
  let path = try store.manifest().activeOps
  let bytes = try await backend.read(path) ?? []
  return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
}
