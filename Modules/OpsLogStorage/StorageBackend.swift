import OpsLogTypes

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Where a store keeps its files: the filesystem (``FsBackend``), memory (``MemoryBackend``),
/// or a backend of your own.
///
/// The protocol is byte-level on purpose. The store encodes every record once, into the bytes
/// of a WAL line or a snapshot chunk, and hands the backend those bytes; the file formats live
/// in `OpsLogCodec` and the store-level operations (manifest, snapshot, WAL, archive) are
/// built on these primitives in extensions, so every backend gets the same format rules.
///
/// Paths are relative to the location given to ``initialize(location:readOnly:)``, use `/`
/// separators, and may not be absolute or contain `..` components (`OpsLogError.invalidArgument(_:)`):
/// a damaged or hostile manifest can never make a backend read or write outside its store.
///
/// Conforming types must be safe to call from any task. ``FsBackend`` runs its blocking
/// system calls on a thread of its own, never on Swift's cooperative thread pool.
///
/// A backend instance serves one store at a time: ``initialize(location:readOnly:)`` while it
/// is serving another is `OpsLogError.invalidArgument(_:)`; after ``shutdown()`` it may serve
/// another.
public protocol StorageBackend: AnyObject, Sendable {
  /// Starts serving the store at `location`. Creates nothing: directories are made by the
  /// first write. With `readOnly`, every later write-like call throws `OpsLogError.readOnly`.
  func initialize(location: String, readOnly: Bool) async throws
  /// Closes open files and releases every lock this backend still holds. Calling it twice is
  /// harmless.
  func shutdown() async throws

  // MARK: Reading

  /// The whole file, or `nil` when it does not exist.
  func read(_ path: String) async throws -> [UInt8]?
  /// Up to `length` bytes from `offset`: fewer (or none) at the end of the file. A missing
  /// file is `OpsLogError.io(path:errno:reason:)` with `ENOENT`; a negative offset or
  /// length is `OpsLogError.invalidArgument(_:)`.
  func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8]
  /// The file's size in bytes, or `nil` when it does not exist.
  func size(of path: String) async throws -> Int?
  /// A cheap token that changes whenever the file is replaced or written; `nil` when absent.
  func changeToken(of path: String) async throws -> FileChangeToken?
  /// Names (not paths) of the direct children of `directory`, files and directories alike,
  /// sorted by their UTF-8 bytes; `[]` when the directory does not exist. `""` is the location.
  func list(_ directory: String) async throws -> [String]

  // MARK: Writing

  /// Atomically replaces (or creates) `path` with the bytes `nextChunk` returns until it
  /// returns `nil`: written to `path.tmp`, fsynced, renamed over `path`, and the directory
  /// fsynced. A crash at any point leaves the old file or the new one, never a torn one; on
  /// an error the old file is untouched and the temporary file removed. Creates parent
  /// directories. `nextChunk` is called on the backend's I/O thread, one call at a time.
  func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws
  /// Creates an empty file (and its parent directories). An existing file is
  /// `OpsLogError.io(path:errno:reason:)` with `EEXIST`.
  func create(_ path: String, durability: Durability) async throws
  /// Appends `bytes` in one write. Returns once they are in the kernel (`.process`) or on disk
  /// (`.disk`). All or nothing: a failed append (disk full, I/O error) leaves the file at its
  /// previous length and throws `OpsLogError.io(path:errno:reason:)`.
  func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws
  /// Cuts the file to `length` bytes (O(1)); `length` beyond the end is
  /// `OpsLogError.invalidArgument(_:)`.
  func truncate(_ path: String, toLength length: Int, durability: Durability) async throws
  /// Removes a file or an empty directory; a missing one is no error.
  func remove(_ path: String) async throws

  // MARK: Locks

  /// Takes the lock file `name` (`.lock` for the single writer, `.compact-lock` for a
  /// multi-writer compaction), creating the location directory if needed. A lock held by a
  /// live holder throws `OpsLogError.locked(holder:)`; a stale one (its holder is dead) is
  /// taken over. Two callers never both succeed.
  func acquireLock(_ name: String) async throws
  /// Releases a lock this backend holds; releasing one it does not hold is no error.
  func releaseLock(_ name: String) async throws

  // MARK: Blobs

  /// Writes (or overwrites) a blob, creating parent directories.
  func writeBlob(_ path: String, _ content: Data) async throws
  /// The whole blob; a missing one is `OpsLogError.io(path:errno:reason:)` with `ENOENT`.
  func readBlob(_ path: String) async throws -> Data
  /// Up to `length` bytes from `offset`: short or empty at the end; negative arguments are
  /// `OpsLogError.invalidArgument(_:)`.
  func readBlobRange(_ path: String, offset: Int, length: Int) async throws -> Data
  /// Names of the direct children of `prefix`, sorted; `[]` if it does not exist.
  func listBlobs(_ prefix: String) async throws -> [String]
  /// Removes a blob; a missing one is no error.
  func deleteBlob(_ path: String) async throws
  /// Removes a directory of blobs recursively; a missing one is no error.
  func deleteBlobDir(_ prefix: String) async throws

  // MARK: Executor

  /// The executor the backend does its blocking work on, when it has one a task may prefer.
  ///
  /// A task running with `withTaskExecutorPreference(backend.taskExecutor)` (or
  /// `Store.taskExecutor` in OpsLogEngine) executes on that thread, and the backend's calls
  /// then run in place instead of being handed over to it and waited for. `nil` (the default)
  /// when there is nothing to gain, as for ``MemoryBackend``.
  var taskExecutor: (any TaskExecutor)? { get }
}

extension StorageBackend {
  /// `nil`: the backend offers no executor, and a task gains nothing by preferring one. A
  /// backend whose calls hop to a thread of their own overrides it with that thread's
  /// executor, as ``FsBackend`` does.
  public var taskExecutor: (any TaskExecutor)? { nil }

  /// Atomically replaces (or creates) `path` with `bytes`: ``replace(_:chunks:)`` with a single
  /// chunk, with the same durability (a temporary file, fsynced, renamed over `path`, and the
  /// directory fsynced) and the same errors.
  public func replace(_ path: String, bytes: [UInt8]) async throws {
    var remaining: [UInt8]? = bytes
    try await replace(path) {
      defer { remaining = nil }
      return remaining
    }
  }

  /// ``read(_:offset:length:)`` as `Data`.
  public func readBlobRange(_ path: String, offset: Int, length: Int) async throws -> Data {
    Data(try await read(path, offset: offset, length: length))
  }

  /// ``list(_:)``: a blob directory is a directory.
  public func listBlobs(_ prefix: String) async throws -> [String] {
    try await list(prefix)
  }
}

/// Changes whenever a file is replaced or written. Compare tokens for equality only.
public struct FileChangeToken: Sendable, Hashable {
  /// Which file this is (inode and device on a filesystem): changes when the file is replaced.
  public var identity: UInt64
  /// Its length in bytes: changes when it is appended to or truncated.
  public var size: Int
  /// Its modification time (nanoseconds) or write counter.
  public var modification: Int64

  /// A token of these three parts, for a backend of your own: it must make every replacement
  /// or write of the file change at least one of them, since tokens are only compared for
  /// equality.
  public init(identity: UInt64, size: Int, modification: Int64) {
    self.identity = identity
    self.size = size
    self.modification = modification
  }
}
