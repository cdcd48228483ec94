import Foundation
import OpsLogStorage
import OpsLogTypes

/// A ``StorageBackend`` that forwards every call to another one, with hooks that see each
/// call before and after it is forwarded.
///
/// Tests need a backend that behaves exactly like a real one except for one small thing:
/// counting the reads of a path, counting write-like calls and their failures, holding one
/// call until the test lets it go on, or running another store's work just before a read.
/// Writing that as a conforming type of its own repeats the whole protocol each time, and each
/// copy is one more place where a forwarded call can drift from the backend it wraps. This
/// type forwards each requirement once, faithfully, so a test states only its behaviour, in a
/// hook:
///
/// ```swift
/// // Every append fails as on a full disk; every other call works as on `disk`.
/// let full = ForwardingBackend(MemoryBackend(disk: disk)) { call in
///   if case .append(let path, _, _) = call { throw OpsLogError.io(path: path, errno: ENOSPC, reason: "full") }
/// }
/// ```
///
/// The hooks are `@Sendable` and may run concurrently: state they share with the test
/// (counters, pause gates) belongs in a `Mutex` (held by a `Sendable` final class the hook
/// captures) or in an actor.
///
/// What is forwarded, and what is not:
/// - Every requirement without a default implementation is forwarded to ``inner`` unchanged,
///   with ``before`` called first and ``after`` once the inner call has returned or thrown.
/// - `readBlobRange(_:offset:length:)` and `listBlobs(_:)` are not forwarded: they keep the
///   protocol's default implementations, which call this backend's
///   `read(_:offset:length:)` and `list(_:)`, so they reach the hooks as ``Call/readRange(_:offset:length:)``
///   and ``Call/list(_:)``. The hand-written wrappers this type replaced did the same.
/// - `taskExecutor` is not forwarded either: it stays the protocol's `nil`, as for those
///   wrappers, so a store never runs this backend's calls (and its hooks) in place on the
///   inner backend's I/O thread.
public final class ForwardingBackend: StorageBackend {
  /// One call of the ``StorageBackend`` protocol, with its arguments (the chunks of a
  /// `replace` are not included: they are produced while the inner backend writes).
  public enum Call: Sendable, Hashable {
    case initialize(location: String, readOnly: Bool)
    case shutdown
    /// A whole-file `read(_:)`.
    case read(String)
    /// A ranged `read(_:offset:length:)`, and a `readBlobRange(_:offset:length:)`.
    case readRange(String, offset: Int, length: Int)
    case size(String)
    case changeToken(String)
    /// A `list(_:)` of a directory, and a `listBlobs(_:)`.
    case list(String)
    case replace(String)
    case create(String, durability: Durability)
    case append(String, bytes: [UInt8], durability: Durability)
    case truncate(String, length: Int, durability: Durability)
    case remove(String)
    case acquireLock(String)
    case releaseLock(String)
    case writeBlob(String, content: Data)
    case readBlob(String)
    case deleteBlob(String)
    case deleteBlobDir(String)
  }

  /// The backend every call is forwarded to.
  public let inner: any StorageBackend
  /// Called before each call is forwarded. Throwing fails the call without forwarding it (a
  /// fault); suspending holds it (a pause).
  public let before: @Sendable (Call) async throws -> Void
  /// Called once the forwarded call has returned (`nil`) or thrown (its error, which is then
  /// rethrown). Not called when ``before`` threw.
  public let after: @Sendable (Call, _ error: (any Error)?) -> Void

  /// Forwards to `inner`, calling `before` and `after` around each call.
  public init(
    _ inner: any StorageBackend,
    before: @escaping @Sendable (Call) async throws -> Void = { _ in },
    after: @escaping @Sendable (Call, _ error: (any Error)?) -> Void = { _, _ in }
  ) {
    self.inner = inner
    self.before = before
    self.after = after
  }

  private func forward<Result>(_ call: Call, _ body: () async throws -> Result) async throws -> Result {
    try await before(call)
    do {
      let result = try await body()
      after(call, nil)
      return result
    } catch {
      after(call, error)
      throw error
    }
  }

  public func initialize(location: String, readOnly: Bool) async throws {
    try await forward(.initialize(location: location, readOnly: readOnly)) {
      try await inner.initialize(location: location, readOnly: readOnly)
    }
  }

  public func shutdown() async throws {
    try await forward(.shutdown) { try await inner.shutdown() }
  }

  public func read(_ path: String) async throws -> [UInt8]? {
    try await forward(.read(path)) { try await inner.read(path) }
  }

  public func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
    try await forward(.readRange(path, offset: offset, length: length)) {
      try await inner.read(path, offset: offset, length: length)
    }
  }

  public func size(of path: String) async throws -> Int? {
    try await forward(.size(path)) { try await inner.size(of: path) }
  }

  public func changeToken(of path: String) async throws -> FileChangeToken? {
    try await forward(.changeToken(path)) { try await inner.changeToken(of: path) }
  }

  public func list(_ directory: String) async throws -> [String] {
    try await forward(.list(directory)) { try await inner.list(directory) }
  }

  /// Not through `forward`: `nextChunk` is `sending`, and is handed on from here directly.
  public func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws {
    let call = Call.replace(path)
    try await before(call)
    do {
      try await inner.replace(path, chunks: nextChunk)
      after(call, nil)
    } catch {
      after(call, error)
      throw error
    }
  }

  public func create(_ path: String, durability: Durability) async throws {
    try await forward(.create(path, durability: durability)) {
      try await inner.create(path, durability: durability)
    }
  }

  public func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws {
    try await forward(.append(path, bytes: bytes, durability: durability)) {
      try await inner.append(path, bytes, durability: durability)
    }
  }

  public func truncate(_ path: String, toLength length: Int, durability: Durability) async throws {
    try await forward(.truncate(path, length: length, durability: durability)) {
      try await inner.truncate(path, toLength: length, durability: durability)
    }
  }

  public func remove(_ path: String) async throws {
    try await forward(.remove(path)) { try await inner.remove(path) }
  }

  public func acquireLock(_ name: String) async throws {
    try await forward(.acquireLock(name)) { try await inner.acquireLock(name) }
  }

  public func releaseLock(_ name: String) async throws {
    try await forward(.releaseLock(name)) { try await inner.releaseLock(name) }
  }

  public func writeBlob(_ path: String, _ content: Data) async throws {
    try await forward(.writeBlob(path, content: content)) { try await inner.writeBlob(path, content) }
  }

  public func readBlob(_ path: String) async throws -> Data {
    try await forward(.readBlob(path)) { try await inner.readBlob(path) }
  }

  public func deleteBlob(_ path: String) async throws {
    try await forward(.deleteBlob(path)) { try await inner.deleteBlob(path) }
  }

  public func deleteBlobDir(_ prefix: String) async throws {
    try await forward(.deleteBlobDir(prefix)) { try await inner.deleteBlobDir(prefix) }
  }
}
