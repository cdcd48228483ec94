import Foundation
import OpsLogS3
import OpsLogTestSupport
import OpsLogTypes
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The backends the contract suite runs against.
enum BackendKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
  case fs
  case memory
  /// `S3Backend` against the S3-compatible test server (Tests/S3Support).
  case s3

  var testDescription: String { rawValue }
}

/// One medium per test: a fresh temporary directory, or a fresh ``MemoryDisk``. Backends made
/// from one medium see the same files, as two processes on one filesystem do.
final class Medium: Sendable {
  let kind: BackendKind
  /// The store's location; not created until a backend writes.
  let location: String
  let disk = MemoryDisk()
  /// The temporary directory to remove afterwards (file system only).
  let root: String?

  init(_ kind: BackendKind) {
    self.kind = kind
    let unique = UUID().uuidString
    switch kind {
    case .fs:
      let root = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-storage-\(unique)").path
      self.root = root
      location = root + "/store"
    case .memory:
      root = nil
      location = "/memory/\(unique)/store"
    case .s3:
      root = nil
      location = "contract/\(unique)/store"
    }
  }

  func makeBackend() throws -> any StorageBackend {
    switch kind {
    case .fs: return FsBackend()
    case .memory: return MemoryBackend(disk: disk)
    case .s3:
      let endpoint = try S3TestServer.endpoint()
      var configuration = S3Configuration(
        endpoint: endpoint.proxy, region: "us-east-1", bucket: endpoint.bucket,
        credentials: .fixed(accessKeyID: "opslog-test-key", secretAccessKey: "opslog-test-secret"))
      configuration.leaseDuration = .seconds(20)
      return S3Backend(configuration)
    }
  }

  func open(readOnly: Bool = false) async throws -> any StorageBackend {
    let backend = try makeBackend()
    try await backend.initialize(location: location, readOnly: readOnly)
    return backend
  }

  /// Whether the location directory exists on the medium.
  func locationExists() async -> Bool {
    switch kind {
    case .s3:
      // An object store has no directories: the location exists once an object is under it.
      guard let backend = try? makeBackend(), (try? await backend.initialize(location: location, readOnly: true)) != nil
      else { return false }
      defer { Task { try? await backend.shutdown() } }
      return !((try? await backend.list("")) ?? []).isEmpty
    case .fs:
      return FileManager.default.fileExists(atPath: location)
    case .memory:
      return disk.contents.withLock { $0.directories.contains(location) || $0.files[location] != nil }
    }
  }

  func cleanUp() {
    if let root { try? FileManager.default.removeItem(atPath: root) }
  }
}

/// Runs `body` with a fresh medium and removes it afterwards, whether `body` throws or not.
func withMedium(_ kind: BackendKind, _ body: (Medium) async throws -> Void) async throws {
  let medium = Medium(kind)
  do {
    try await body(medium)
  } catch {
    medium.cleanUp()
    throw error
  }
  medium.cleanUp()
}

/// A fresh temporary directory for file-system-only tests, removed after `body`.
func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-storage-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  do {
    try await body(root)
  } catch {
    try? FileManager.default.removeItem(atPath: root)
    throw error
  }
  try? FileManager.default.removeItem(atPath: root)
}

/// The `errno` of an ``OpsLogError/io(path:errno:reason:)``, `nil` for any other error.
func ioErrno(_ error: (any Error)?) -> Int32? {
  if case .io(_, let code, _)? = error as? OpsLogError { return code }
  return nil
}

/// The path of an ``OpsLogError/io(path:errno:reason:)``.
func ioPath(_ error: (any Error)?) -> String? {
  if case .io(let path, _, _)? = error as? OpsLogError { return path }
  return nil
}

func isInvalidArgument(_ error: (any Error)?) -> Bool {
  if case .invalidArgument? = error as? OpsLogError { return true }
  return false
}

/// The holder of an ``OpsLogError/locked(holder:)``.
func lockHolder(_ error: (any Error)?) -> String? {
  if case .locked(let holder)? = error as? OpsLogError { return holder }
  return nil
}

/// Calls `body` and returns what it threw, or `nil`.
func thrownError(_ body: () async throws -> Void) async -> (any Error)? {
  do {
    try await body()
    return nil
  } catch {
    return error
  }
}

/// A `replace` chunk source yielding `chunks` one by one.
func chunked(_ chunks: [[UInt8]]) -> () throws -> [UInt8]? {
  var remaining = chunks[...]
  return { remaining.popFirst() }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
