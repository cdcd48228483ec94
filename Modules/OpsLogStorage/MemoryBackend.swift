import OpsLogTypes
import Synchronization

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An in-memory medium shared by ``MemoryBackend``s: a filesystem of its own, holding any
/// number of locations, with faults that tests can inject.
///
/// Two backends on one disk behave like two processes on one filesystem: they see each other's
/// files and exclude each other through locks. Paths on the disk are the location joined with
/// the relative path, as ``FsBackend`` builds them, and errors name those paths.
public final class MemoryDisk: Sendable {
  /// A failure ``failWrite(_:after:)`` injects.
  public enum Fault: Sendable {
    /// `ENOSPC`: the disk is full.
    case diskFull
    /// `EIO`: the device failed.
    case ioError

    var errno: Int32 {
      switch self {
      case .diskFull: return ENOSPC
      case .ioError: return EIO
      }
    }
  }

  struct File {
    var bytes: [UInt8]
    /// Changes when the file is replaced, as an inode does.
    var identity: UInt64
    var modification: Int64
  }

  struct BackendState {
    var location: String?
    var readOnly = false
    /// Names of the locks this backend holds in its location.
    var locks: Set<String> = []
  }

  struct Contents: ~Copyable {
    var files: [String: File] = [:]
    /// Every directory, by full path. Creating a file creates its ancestors, as `mkdir -p`.
    var directories: Set<String> = []
    var pendingFault: (fault: Fault, remainingWrites: Int)?
    /// The backend holding each lock file, by the lock file's full path. A lock file with no
    /// entry here is stale: its holder shut down uncleanly or crashed.
    var lockHolders: [String: Int] = [:]
    var backends: [Int: BackendState] = [:]
    var nextBackendID = 1
    var nextIdentity: UInt64 = 1
    /// A logical clock standing in for modification times: unique per write, so change
    /// tokens always differ after one.
    var clock: Int64 = 0

    /// Counts one write-like step, throwing the injected fault when it is this step's turn.
    /// Called before the step changes anything, so a failed step changes nothing.
    mutating func consumeWrite(_ path: String) throws {
      guard let pending = pendingFault else { return }
      if pending.remainingWrites > 0 {
        pendingFault!.remainingWrites -= 1
        return
      }
      pendingFault = nil
      let reason = pending.fault == .diskFull ? "write failed: no space left on device" : "write failed: I/O error"
      throw OpsLogError.io(path: path, errno: pending.fault.errno, reason: reason)
    }

    /// Forgets the locks backend `id` holds. A clean release (`removingFiles`) removes the lock
    /// files too; a crash leaves them behind, stale, for another backend to take over.
    mutating func dropLocks(of id: Int, removingFiles: Bool) {
      guard let state = backends[id], let location = state.location else { return }
      for name in state.locks {
        let path = StoragePath.join(location, name)
        if removingFiles { files[path] = nil }
        lockHolders[path] = nil
      }
    }

    mutating func tick() -> Int64 {
      clock += 1
      return clock
    }

    mutating func newIdentity() -> UInt64 {
      defer { nextIdentity += 1 }
      return nextIdentity
    }

    func isDirectory(_ path: String) -> Bool { directories.contains(path) }

    /// Throws like `open` would for a file at `path` whose missing ancestors get created: an
    /// ancestor that is a file is `ENOTDIR`.
    func checkAncestors(_ path: String) throws {
      var ancestor = Posix.parentDirectory(of: path)
      while ancestor != "." && ancestor != "/" && !directories.contains(ancestor) {
        if files[ancestor] != nil {
          throw OpsLogError.io(path: path, errno: ENOTDIR, reason: "open failed: \(ancestor) is not a directory")
        }
        ancestor = Posix.parentDirectory(of: ancestor)
      }
    }

    mutating func makeAncestors(_ path: String) {
      makeDirectories(Posix.parentDirectory(of: path))
    }

    mutating func makeDirectories(_ directory: String) {
      var current = directory
      while current != "." && current != "/" && directories.insert(current).inserted {
        current = Posix.parentDirectory(of: current)
      }
    }

    /// The file at `path`: `ENOENT` when missing, `EISDIR` for a directory.
    func file(_ path: String, action: String) throws -> File {
      if let file = files[path] { return file }
      if isDirectory(path) {
        throw OpsLogError.io(path: path, errno: EISDIR, reason: "\(action) failed: is a directory")
      }
      throw OpsLogError.io(path: path, errno: ENOENT, reason: "\(action) failed: no such file or directory")
    }

    /// Names of the direct children of `directory`, sorted by UTF-8 bytes.
    func children(of directory: String) -> [String] {
      let prefix = directory == "/" ? "/" : directory + "/"
      var names = Set<String>()
      for path in files.keys where path.hasPrefix(prefix) {
        let rest = path.dropFirst(prefix.count)
        if !rest.contains("/") { names.insert(String(rest)) }
      }
      for path in directories where path.hasPrefix(prefix) {
        let rest = path.dropFirst(prefix.count)
        if !rest.isEmpty && !rest.contains("/") { names.insert(String(rest)) }
      }
      return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
  }

  let contents = Mutex(Contents())

  /// An empty disk: no files, no directories, no locks, no fault pending.
  public init() {}

  /// Makes a later write-like call fail: the next `successfulWrites` such calls, on any backend
  /// using this disk, succeed, and the one after them throws `OpsLogError.io(path:errno:reason:)`
  /// with `ENOSPC` (``Fault/diskFull``) or `EIO` (``Fault/ioError``) having changed nothing.
  /// Later writes work again.
  ///
  /// Write-like calls are `append`, `create`, `truncate` and `writeBlob`, one step each, and
  /// `replace`, two steps: writing the temporary file, then renaming it over the old one.
  /// Calls that fail validation first (a bad path, a truncate beyond the end) count for
  /// nothing. A new call replaces a fault that has not fired yet.
  public func failWrite(_ fault: Fault, after successfulWrites: Int = 0) {
    contents.withLock { $0.pendingFault = (fault, max(0, successfulWrites)) }
  }

  /// The bytes of the file at a full path (location joined with relative path), for tests
  /// that look at the medium without a backend.
  public func bytes(at fullPath: String) -> [UInt8]? {
    contents.withLock { $0.files[fullPath]?.bytes }
  }

  func register() -> Int {
    contents.withLock { contents in
      let id = contents.nextBackendID
      contents.nextBackendID += 1
      contents.backends[id] = BackendState()
      return id
    }
  }
}

/// Keeps a store in a ``MemoryDisk``, with the semantics of ``FsBackend``: the same path rules,
/// errors, locks and lifecycle. Tests use it to run a store without a filesystem and to inject
/// faults and crashes.
///
/// Every call completes synchronously under the disk's mutex, so calls from any number of
/// tasks and backends are atomic with respect to each other.
///
/// Where it differs from ``FsBackend``:
/// - Durability is ignored: every write is on the disk the moment it returns, so a
///   `Durability.process` write survives ``simulateCrash()`` as a `Durability.disk` one does.
/// - ``size(of:)`` of a directory is `0` (a file system reports a size of its own choosing).
/// - ``changeToken(of:)`` of a directory is `nil`, as for a missing file (a file system gives
///   a token built from the directory's `stat`).
/// - ``replace(_:chunks:)`` calls `nextChunk` on the calling task; there is no I/O thread.
public final class MemoryBackend: StorageBackend {
  /// The medium this backend reads and writes; other backends on it see its files and locks.
  public let disk: MemoryDisk
  /// This backend's number on its disk, which lock conflicts report as
  /// `"memory backend <id>"`.
  public let id: Int

  /// A backend on `disk`, a fresh one unless given, serving no store yet: every call but
  /// ``initialize(location:readOnly:)``, ``shutdown()`` and ``simulateCrash()`` throws
  /// `OpsLogError.closed` until it is initialized. Takes the disk's next ``id``.
  public init(disk: MemoryDisk = MemoryDisk()) {
    self.disk = disk
    self.id = disk.register()
  }

  deinit {
    // As FsBackend: a backend dropped without shutdown releases its locks.
    let id = id
    disk.contents.withLock { contents in
      contents.dropLocks(of: id, removingFiles: true)
      contents.backends[id] = nil
    }
  }

  /// Runs `body` on the disk with the serving location, after the closed and read-only checks.
  private func withServing<Result>(
    writing: Bool, _ body: (inout MemoryDisk.Contents, String) throws -> Result
  ) throws -> Result {
    let id = id
    return try disk.contents.withLock { contents throws -> Result in
      guard let state = contents.backends[id], let location = state.location else { throw OpsLogError.closed }
      if writing && state.readOnly { throw OpsLogError.readOnly }
      return try body(&contents, location)
    }
  }

  // MARK: Lifecycle

  /// Starts serving `location` on the disk; creates nothing.
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` while still serving a store, and when
  ///   `location` (or a directory above it) is a file on the disk, as ``FsBackend`` does.
  public func initialize(location: String, readOnly: Bool) async throws {
    let normalized = try BackendArguments.location(location)
    let id = id
    try disk.contents.withLock { contents in
      if contents.files[normalized] != nil { throw BackendArguments.locationIsFile(location) }
      do {
        try contents.checkAncestors(normalized)
      } catch {
        throw BackendArguments.locationIsFile(location, ancestor: "a directory above it")
      }
      if let serving = contents.backends[id]?.location {
        throw OpsLogError.invalidArgument(
          "this backend already serves the store at \(serving); shut it down before opening another")
      }
      contents.backends[id] = MemoryDisk.BackendState(location: normalized, readOnly: readOnly)
    }
  }

  /// Releases every lock this backend holds (removing the lock files) and stops serving.
  /// Calling it again does nothing.
  public func shutdown() async throws {
    let id = id
    disk.contents.withLock { contents in
      guard contents.backends[id] != nil else { return }
      contents.dropLocks(of: id, removingFiles: true)
      contents.backends[id] = MemoryDisk.BackendState()
    }
  }

  /// Stops serving as a process killed with `SIGKILL` would: later calls throw
  /// `OpsLogError.closed`, files stay as they are, and this backend's lock files stay on the
  /// disk but become stale, so another backend's ``acquireLock(_:)`` takes them over. The
  /// backend may then be initialized again, like a restarted process.
  public func simulateCrash() {
    let id = id
    disk.contents.withLock { contents in
      guard contents.backends[id] != nil else { return }
      contents.dropLocks(of: id, removingFiles: false)
      contents.backends[id] = MemoryDisk.BackendState()
    }
  }

  // MARK: Reading

  public func read(_ path: String) async throws -> [UInt8]? {
    try StoragePath.validate(path)
    return try withServing(writing: false) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.files[full] == nil && !contents.isDirectory(full) { return nil }
      return try contents.file(full, action: "read").bytes
    }
  }

  public func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
    try StoragePath.validate(path)
    try BackendArguments.checkRange(offset: offset, length: length)
    return try withServing(writing: false) { contents, location in
      let bytes = try contents.file(StoragePath.join(location, path), action: "open for reading").bytes
      guard offset < bytes.count else { return [] }
      return Array(bytes[offset..<min(bytes.count, offset + min(length, bytes.count))])
    }
  }

  public func size(of path: String) async throws -> Int? {
    try StoragePath.validate(path)
    return try withServing(writing: false) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.isDirectory(full) { return 0 }
      return contents.files[full]?.bytes.count
    }
  }

  public func changeToken(of path: String) async throws -> FileChangeToken? {
    try StoragePath.validate(path)
    return try withServing(writing: false) { contents, location in
      contents.files[StoragePath.join(location, path)].map {
        FileChangeToken(identity: $0.identity, size: $0.bytes.count, modification: $0.modification)
      }
    }
  }

  public func list(_ directory: String) async throws -> [String] {
    try StoragePath.validate(directory, allowingLocation: true)
    return try withServing(writing: false) { contents, location in
      let full = StoragePath.join(location, directory)
      if contents.files[full] != nil {
        throw OpsLogError.io(path: full, errno: ENOTDIR, reason: "opendir failed: not a directory")
      }
      guard contents.isDirectory(full) else { return [] }
      return contents.children(of: full)
    }
  }

  // MARK: Writing

  /// Collects the chunks, then installs them in one step, so no reader ever sees a partial
  /// file. There is no I/O thread: `nextChunk` runs on the calling task, one call at a time.
  /// Counts as two write-like steps for ``MemoryDisk/failWrite(_:after:)``: the temporary
  /// file's write and the rename.
  public func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws {
    try StoragePath.validate(path)
    // Serving is checked before the chunks are produced, so a closed or read-only backend
    // does not run them, as FsBackend does not.
    _ = try withServing(writing: true) { _, _ in () }
    var bytes: [UInt8] = []
    while let chunk = try nextChunk() { bytes.append(contentsOf: chunk) }
    try install(path, bytes, writeSteps: 2)
  }

  public func create(_ path: String, durability: Durability) async throws {
    try StoragePath.validate(path)
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.files[full] != nil || contents.isDirectory(full) {
        throw OpsLogError.io(path: full, errno: EEXIST, reason: "create failed: file exists")
      }
      try contents.checkAncestors(full)
      try contents.consumeWrite(full)
      contents.makeAncestors(full)
      contents.files[full] = MemoryDisk.File(bytes: [], identity: contents.newIdentity(), modification: contents.tick())
    }
  }

  public func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws {
    try StoragePath.validate(path)
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.isDirectory(full) {
        throw OpsLogError.io(path: full, errno: EISDIR, reason: "open for appending failed: is a directory")
      }
      try contents.checkAncestors(full)
      if !bytes.isEmpty { try contents.consumeWrite(full) }
      let modification = contents.tick()
      if contents.files[full] == nil {
        contents.makeAncestors(full)
        contents.files[full] = MemoryDisk.File(bytes: [], identity: contents.newIdentity(), modification: modification)
      }
      contents.files[full]!.bytes.append(contentsOf: bytes)
      contents.files[full]!.modification = modification
    }
  }

  public func truncate(_ path: String, toLength length: Int, durability: Durability) async throws {
    try StoragePath.validate(path)
    try BackendArguments.checkTruncateLength(length)
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, path)
      let size = try contents.file(full, action: "open for truncating").bytes.count
      guard length <= size else {
        throw OpsLogError.invalidArgument("cannot truncate \(path) to \(length) bytes: it has only \(size)")
      }
      try contents.consumeWrite(full)
      contents.files[full]!.bytes.removeSubrange(length...)
      contents.files[full]!.modification = contents.tick()
    }
  }

  public func remove(_ path: String) async throws {
    try StoragePath.validate(path)
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.files.removeValue(forKey: full) != nil { return }
      guard contents.isDirectory(full) else { return }
      if !contents.children(of: full).isEmpty {
        throw OpsLogError.io(path: full, errno: ENOTEMPTY, reason: "rmdir failed: directory not empty")
      }
      contents.directories.remove(full)
    }
  }

  // MARK: Locks

  /// Takes the lock file `name`, writing this backend's ID into it. Refused with
  /// `OpsLogError.locked(holder:)` naming `"memory backend <id>"` while another serving
  /// backend holds it, or `"this process"` when this one does; a lock file without a live
  /// holder (left by ``simulateCrash()`` or written by hand) is taken over.
  public func acquireLock(_ name: String) async throws {
    try StoragePath.validateLockName(name)
    let id = id
    try withServing(writing: true) { contents, location in
      if contents.backends[id]!.locks.contains(name) { throw OpsLogError.locked(holder: "this process") }
      let full = StoragePath.join(location, name)
      if let holder = contents.lockHolders[full] {
        throw OpsLogError.locked(holder: "memory backend \(holder)")
      }
      if contents.isDirectory(full) {
        throw OpsLogError.io(path: full, errno: EISDIR, reason: "open lock file failed: is a directory")
      }
      contents.makeDirectories(location)
      contents.files[full] = MemoryDisk.File(
        bytes: Array(String(id).utf8), identity: contents.newIdentity(), modification: contents.tick())
      contents.lockHolders[full] = id
      contents.backends[id]!.locks.insert(name)
    }
  }

  public func releaseLock(_ name: String) async throws {
    try StoragePath.validateLockName(name)
    let id = id
    try withServing(writing: false) { contents, location in
      guard contents.backends[id]!.locks.remove(name) != nil else { return }
      let full = StoragePath.join(location, name)
      contents.files[full] = nil
      contents.lockHolders[full] = nil
    }
  }

  // MARK: Blobs

  /// Writes the blob in one write-like step, creating parent directories.
  public func writeBlob(_ path: String, _ content: Data) async throws {
    try StoragePath.validate(path)
    try install(path, [UInt8](content), writeSteps: 1)
  }

  public func readBlob(_ path: String) async throws -> Data {
    try StoragePath.validate(path)
    return try withServing(writing: false) { contents, location in
      Data(try contents.file(StoragePath.join(location, path), action: "open blob").bytes)
    }
  }

  public func deleteBlob(_ path: String) async throws {
    try StoragePath.validate(path)
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.isDirectory(full) {
        throw OpsLogError.io(path: full, errno: EISDIR, reason: "unlink failed: is a directory")
      }
      contents.files[full] = nil
    }
  }

  public func deleteBlobDir(_ prefix: String) async throws {
    try StoragePath.validate(prefix)
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, prefix)
      let inside = full + "/"
      contents.files[full] = nil
      contents.directories.remove(full)
      contents.files = contents.files.filter { !$0.key.hasPrefix(inside) }
      contents.directories = contents.directories.filter { !$0.hasPrefix(inside) }
    }
  }

  // MARK: Internals

  /// Puts a whole new file at `path`, as a rename of a finished temporary file would. With two
  /// write steps, the first stands for writing `path.tmp` and the second for the rename.
  private func install(_ path: String, _ bytes: [UInt8], writeSteps: Int) throws {
    try withServing(writing: true) { contents, location in
      let full = StoragePath.join(location, path)
      if contents.isDirectory(full) {
        throw OpsLogError.io(path: full, errno: EISDIR, reason: "rename failed: is a directory")
      }
      try contents.checkAncestors(full)
      if writeSteps == 2 { try contents.consumeWrite(full + ".tmp") }
      try contents.consumeWrite(full)
      contents.makeAncestors(full)
      contents.files[full] = MemoryDisk.File(
        bytes: bytes, identity: contents.newIdentity(), modification: contents.tick())
    }
  }
}
