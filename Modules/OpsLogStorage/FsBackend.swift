import Dispatch
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

/// Stores files in a directory of the local filesystem, in the layout opslog for Node uses.
///
/// Every blocking system call runs on a thread owned by the backend, never on Swift's
/// cooperative thread pool, so a slow disk stalls only this backend's calls. Calls are carried
/// out one at a time, in the order they reach that thread; the one exception is the temporary
/// file of ``replace(_:chunks:)`` (a whole snapshot), written on a dispatch queue so that WAL
/// appends never wait for a checkpoint. Its rename takes its turn on the I/O thread.
///
/// The I/O thread stays awake for a moment after each call, and a caller of an append
/// without fsync watches for its result for a moment before suspending (see `IOThread`):
/// an append then costs a few microseconds instead of two thread wake-ups.
///
/// Appends keep the file open between calls, so a WAL append costs one `write` (and one
/// `fdatasync` with `Durability.disk`). The handle is dropped when this backend replaces,
/// truncates or removes the file; another process that replaces the file while this backend
/// appends to it is not noticed, which the store's lock rules out.
///
/// Locks are lock files holding the holder's PID as decimal text, as in opslog for Node, and
/// in addition `flock`ed for as long as they are held, so two processes (or two backends in
/// one process) can never both hold one, even when they race to take over a stale lock.
///
/// Errors of system calls are `OpsLogError.io(path:errno:reason:)` naming the full path
/// (the location joined with the relative path) and the `errno` of the failed call.
public final class FsBackend: StorageBackend {
  /// What the backend knows between calls. Only the I/O thread changes it after
  /// initialization; the mutex makes that visible to the compiler, and is never contended
  /// except by `deinit`.
  struct State: ~Copyable {
    /// The store's directory while serving, without a trailing slash.
    var location: String?
    var readOnly = false
    /// Open descriptors for appending, by relative path.
    var appendHandles: [String: Int32] = [:]
    /// Files this backend created whose directory entries may not be on the disk yet, by
    /// relative path, with the directories created for them (full paths, outermost first).
    /// The first ``Durability/disk`` append to such a file syncs them, or a power loss could
    /// lose the whole file. Kept apart from the append handles, which are evicted and dropped
    /// after errors, so that no later append forgets to sync them.
    var unsyncedEntries: [String: [String]] = [:]
    /// Held lock files' descriptors (each `flock`ed), by lock name.
    var locks: [String: Int32] = [:]

    /// The location being served, for a call that may go ahead: ``OpsLogError/closed`` when
    /// none is, ``OpsLogError/readOnly`` for a write to a read-only store.
    func servingLocation(writing: Bool) throws -> String {
      guard let location else { throw OpsLogError.closed }
      if writing && readOnly { throw OpsLogError.readOnly }
      return location
    }

    /// Closes and forgets the append handles of `path` and of everything below it.
    mutating func dropAppendHandles(under path: String) {
      for key in appendHandles.keys where key == path || path.isEmpty || key.hasPrefix(path + "/") {
        Posix.close(appendHandles.removeValue(forKey: key)!)
      }
    }

    mutating func dropAppendHandle(_ path: String) {
      if let descriptor = appendHandles.removeValue(forKey: path) { Posix.close(descriptor) }
    }

    /// Forgets the unsynced entries of `path` and of everything below it, once removed.
    mutating func forgetUnsyncedEntries(under path: String) {
      for key in unsyncedEntries.keys where key == path || key.hasPrefix(path + "/") {
        unsyncedEntries[key] = nil
      }
    }

    /// Closes every file and releases every lock (removing the lock files), and stops serving.
    mutating func releaseAll() {
      dropAppendHandles(under: "")
      unsyncedEntries = [:]
      if let location {
        for (name, descriptor) in locks {
          FsBackend.releaseLockFile(StoragePath.join(location, name), descriptor: descriptor)
        }
      }
      locks = [:]
      location = nil
      readOnly = false
    }
  }

  /// Bounds the append handles kept open; a store appends to one WAL at a time (one per
  /// agent in a multi-writer store), so this is generous.
  static let maximumAppendHandles = 16
  /// How many times a lock acquisition starts over when the lock file changes under it.
  static let lockAttempts = 16

  let state = Mutex(State())
  let ioThread = IOThread()
  /// Writes the temporary files of ``replace(_:chunks:)``: a snapshot takes a while to encode
  /// and write, and WAL appends on ``ioThread`` must not wait for it.
  let bulkQueue = DispatchQueue(label: "OpsLog.FsBackend.bulk", qos: .userInitiated)
  let ioExecutor: IOTaskExecutor

  /// A backend serving no store yet: every call but ``initialize(location:readOnly:)`` and
  /// ``shutdown()`` throws `OpsLogError.closed` until it is initialized. Touches no file.
  public init() {
    ioExecutor = IOTaskExecutor(thread: ioThread)
  }

  /// The I/O thread as a task executor; see ``StorageBackend/taskExecutor``.
  public var taskExecutor: (any TaskExecutor)? { ioExecutor }

  deinit {
    // A backend dropped without `shutdown()` still must not leave its locks looking held:
    // this process stays alive, so its PID in the lock file would keep other writers out.
    state.withLock { $0.releaseAll() }
  }

  // MARK: The I/O thread

  /// Runs `body` on the I/O thread with the serving state and location, after the closed and
  /// read-only checks. `quick` is for calls that are done in microseconds (an append without
  /// fsync), whose caller watches for the result before suspending.
  private func perform<Result: Sendable>(
    writing: Bool, quick: Bool = false, _ body: @escaping @Sendable (inout State, String) throws -> Result
  ) async throws -> Result {
    try await performAnyState(quick: quick) { state in
      let location = try state.servingLocation(writing: writing)
      return try body(&state, location)
    }
  }

  /// Runs `body` on the I/O thread with the state, serving or not.
  private func performAnyState<Result: Sendable>(
    quick: Bool = false, _ body: @escaping @Sendable (inout State) throws -> Result
  ) async throws -> Result {
    // A task that prefers the I/O executor is on the I/O thread already: this method is
    // nonisolated, so it runs on the task's preferred executor.
    if ioExecutor.isCurrent {
      precondition(ioThread.isCurrent, "a task preferring the I/O executor runs on the I/O thread")
      return try state.withLock { state in try body(&state) }
    }
    return try await ioThread.run(expectingQuickWork: quick) {
      try self.state.withLock { state in try body(&state) }
    }
  }

  // MARK: Lifecycle

  /// Starts serving the store at `location` (a directory path, absolute or relative to the
  /// working directory). Creates nothing.
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` while this backend still serves a store, and
  ///   when `location` (or a directory above it) is a regular file rather than a directory.
  public func initialize(location: String, readOnly: Bool) async throws {
    let normalized = try BackendArguments.location(location)
    do {
      if let info = try Posix.status(normalized), !Posix.isDirectory(info) {
        throw BackendArguments.locationIsFile(location)
      }
    } catch OpsLogError.io(_, ENOTDIR, _) {
      throw BackendArguments.locationIsFile(location, ancestor: "a directory above it")
    }
    try await performAnyState { state in
      if let serving = state.location {
        throw OpsLogError.invalidArgument(
          "this backend already serves the store at \(serving); shut it down before opening another")
      }
      state.location = normalized
      state.readOnly = readOnly
    }
  }

  /// Closes every open file and releases every lock this backend holds (removing the lock
  /// files). Calling it again, or before ``initialize(location:readOnly:)``, does nothing.
  public func shutdown() async throws {
    try await performAnyState { $0.releaseAll() }
  }

  // MARK: Reading

  /// The whole file, or `nil` when it does not exist.
  public func read(_ path: String) async throws -> [UInt8]? {
    try StoragePath.validate(path)
    return try await perform(writing: false) { _, location in
      let full = try Self.resolved(location, path)
      guard let descriptor = try Posix.openIfPresent(full, O_RDONLY | O_NOFOLLOW, action: "open for reading") else {
        return nil
      }
      defer { Posix.close(descriptor) }
      return try Posix.readToEnd(descriptor, path: full)
    }
  }

  /// Up to `length` bytes from `offset`, read with `pread`: fewer, or none, at the end of the
  /// file. A missing file is `OpsLogError.io(path:errno:reason:)` with `ENOENT`.
  public func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
    try StoragePath.validate(path)
    try BackendArguments.checkRange(offset: offset, length: length)
    return try await perform(writing: false) { _, location in
      let full = try Self.resolved(location, path)
      let descriptor = try Posix.open(full, O_RDONLY | O_NOFOLLOW, action: "open for reading")
      defer { Posix.close(descriptor) }
      return try Posix.readAll(descriptor, offset: offset, length: length, path: full)
    }
  }

  /// The file's size in bytes, or `nil` when it does not exist.
  public func size(of path: String) async throws -> Int? {
    try StoragePath.validate(path)
    return try await perform(writing: false) { _, location in
      try Self.inspected(location, path).status.map { Int($0.st_size) }
    }
  }

  /// Built from `stat`: the inode and device (so a replaced file changes it), the size and the
  /// modification time in nanoseconds. `nil` when the file does not exist.
  public func changeToken(of path: String) async throws -> FileChangeToken? {
    try StoragePath.validate(path)
    return try await perform(writing: false) { _, location in
      try Self.inspected(location, path).status.map(Self.changeToken)
    }
  }

  /// Names of the files and directories in `directory`, sorted by their UTF-8 bytes; `[]` when
  /// it does not exist. `""` lists the location.
  public func list(_ directory: String) async throws -> [String] {
    try StoragePath.validate(directory, allowingLocation: true)
    return try await perform(writing: false) { _, location in
      try Posix.listDirectory(Self.resolved(location, directory))
    }
  }

  // MARK: Writing

  /// Writes the chunks to `path.tmp`, fsyncs it, renames it over `path` and fsyncs the
  /// directory, so a crash leaves the old file or the new one. On any error, including one
  /// thrown by `nextChunk` (rethrown as is), the temporary file is removed and `path` is
  /// untouched. Creates parent directories.
  public func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws {
    try StoragePath.validate(path)
    let source = ChunkSource(nextChunk)
    // 1. The temporary file, on the bulk queue, holding no lock: appends go on meanwhile.
    let (full, temporary, directory, created) = try await withUnsafeThrowingContinuation {
      (continuation: UnsafeContinuation<(String, String, String, [String]), any Error>) in
      bulkQueue.async {
        continuation.resume(
          with: Swift.Result {
            let location = try self.state.withLock { state in try state.servingLocation(writing: true) }
            let full = try Self.resolved(location, path)
            let temporary = try Self.resolved(location, path + ".tmp")
            let directory = Posix.parentDirectory(of: full)
            let created = try Posix.makeDirectories(directory)
            let descriptor = try Posix.open(
              temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, action: "create temporary file")
            do {
              guard let next = source.take() else {
                throw OpsLogError.invalidArgument("replace's chunks were consumed")
              }
              while let chunk = try next() {
                try Posix.writeAll(descriptor, chunk, path: temporary)
              }
              // Every replacement's change token must be new (see stampModificationTime).
              try Posix.stampModificationTime(descriptor, path: temporary)
              try Posix.sync(descriptor, path: temporary)
              Posix.close(descriptor)
            } catch {
              Posix.close(descriptor)
              _ = temporary.withCString { unlink($0) }
              throw error
            }
            return (full, temporary, directory, created)
          })
      }
    }
    // 2. The rename, in order with every other call on the I/O thread.
    do {
      try await perform(writing: true) { state, _ in
        // The cached handle points at the inode the rename is about to unlink.
        state.dropAppendHandle(path)
        try Posix.rename(temporary, to: full)
        try Self.syncCreatedDirectories(created, containing: directory)
        state.unsyncedEntries[path] = nil
      }
    } catch {
      _ = temporary.withCString { unlink($0) }
      throw error
    }
  }

  /// Creates an empty file with `O_EXCL`, and its parent directories. With `Durability.disk`
  /// the new directory entries are fsynced before it returns; otherwise the first
  /// `Durability.disk` append to the file fsyncs them.
  public func create(_ path: String, durability: Durability) async throws {
    try StoragePath.validate(path)
    try await perform(writing: true) { state, location in
      let full = try Self.resolved(location, path)
      let descriptor = try Self.createFile(
        &state, path: path, full: full, O_WRONLY | O_CREAT | O_EXCL, action: "create")
      Posix.close(descriptor)
      if durability == .disk { try Self.syncUnsyncedEntries(&state, path: path, full: full) }
    }
  }

  /// Appends `bytes` with one `write` (looping only over a partial write), creating the file
  /// and its parent directories when missing. Returns once the bytes are in the kernel
  /// (`Durability.process`) or on the disk (`Durability.disk`, after `fdatasync`, and after
  /// fsyncing the directory entries of the file and its parent directories when this backend
  /// created them and has not synced them yet). A failed append cuts the file back to its
  /// previous length, so no partial line stays behind.
  public func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws {
    try StoragePath.validate(path)
    try await perform(writing: true, quick: durability == .process) { state, location in
      let full = StoragePath.join(location, path)
      let descriptor = try Self.appendHandle(&state, path: path, location: location)
      do {
        try Self.appendAll(descriptor, bytes, path: full)
        if durability == .disk {
          do {
            try Posix.syncData(descriptor, path: full)
            try Self.syncUnsyncedEntries(&state, path: path, full: full)
          } catch {
            // The bytes reached the file but not the disk, and the store rolls their
            // operations back: take them out of the file too, so that a reopen does not show
            // writes whose callers were told they failed. Best effort, as in appendAll.
            if let info = try? Posix.status(descriptor, path: full) {
              _ = ftruncate(descriptor, info.st_size - off_t(bytes.count))
            }
            throw error
          }
        }
      } catch {
        // The handle may be the reason (a file system gone bad); the next append reopens.
        state.dropAppendHandle(path)
        throw error
      }
    }
  }

  /// Cuts the file to `length` bytes with `ftruncate`; with `Durability.disk` it is fsynced.
  /// A missing file is `OpsLogError.io(path:errno:reason:)` with `ENOENT`; `length` beyond
  /// the end is `OpsLogError.invalidArgument(_:)`.
  public func truncate(_ path: String, toLength length: Int, durability: Durability) async throws {
    try StoragePath.validate(path)
    try BackendArguments.checkTruncateLength(length)
    try await perform(writing: true, quick: durability == .process) { _, location in
      let full = try Self.resolved(location, path)
      // A descriptor of its own rather than the append handle: the append handle stays valid,
      // since O_APPEND writes go to the new end.
      let descriptor = try Posix.open(full, O_WRONLY | O_NOFOLLOW, action: "open for truncating")
      defer { Posix.close(descriptor) }
      let size = Int(try Posix.status(descriptor, path: full).st_size)
      guard length <= size else {
        throw OpsLogError.invalidArgument("cannot truncate \(path) to \(length) bytes: it has only \(size)")
      }
      try Posix.truncate(descriptor, toLength: length, path: full)
      if durability == .disk { try Posix.sync(descriptor, path: full) }
    }
  }

  /// Removes a file (`unlink`) or an empty directory (`rmdir`); a missing one is no error, a
  /// non-empty directory is `OpsLogError.io(path:errno:reason:)` with `ENOTEMPTY`.
  public func remove(_ path: String) async throws {
    try StoragePath.validate(path)
    try await perform(writing: true) { state, location in
      state.dropAppendHandle(path)
      try Posix.removeEntry(Self.resolved(location, path))
      state.unsyncedEntries[path] = nil
    }
  }

  // MARK: Locks

  /// Takes the lock file `name` in the location (creating the location directory): creates it
  /// exclusively, `flock`s it for as long as it is held, and writes this process's PID into it.
  ///
  /// An existing lock file is refused with `OpsLogError.locked(holder:)` (`"process N"`)
  /// when another backend holds its `flock`, or when the PID in it is a live process other than
  /// this one (a writer that does not `flock`, such as opslog for Node). Otherwise, when the PID
  /// is dead, missing or unreadable, the lock is stale and taken over. A lock this backend
  /// already holds is refused with the holder `"this process"`.
  public func acquireLock(_ name: String) async throws {
    try StoragePath.validateLockName(name)
    try await perform(writing: true) { state, location in
      if state.locks[name] != nil { throw OpsLogError.locked(holder: "this process") }
      try Posix.makeDirectories(location)
      let descriptor = try Self.takeLockFile(Self.resolved(location, name))
      state.locks[name] = descriptor
    }
  }

  /// Removes the lock file while still holding its `flock`, then closes it, so a process that
  /// opened the old file sees it is no longer the lock file and starts over.
  public func releaseLock(_ name: String) async throws {
    try StoragePath.validateLockName(name)
    try await perform(writing: false) { state, location in
      guard let descriptor = state.locks.removeValue(forKey: name) else { return }
      Self.releaseLockFile(StoragePath.join(location, name), descriptor: descriptor)
    }
  }

  // MARK: Blobs

  /// Writes the blob to a temporary file, fsyncs it and renames it into place, as
  /// ``replace(_:chunks:)`` does, creating parent directories.
  public func writeBlob(_ path: String, _ content: Data) async throws {
    try await replace(path, bytes: [UInt8](content))
  }

  /// The whole blob; a missing one is `OpsLogError.io(path:errno:reason:)` with `ENOENT`.
  public func readBlob(_ path: String) async throws -> Data {
    try StoragePath.validate(path)
    return try await perform(writing: false) { _, location in
      let full = try Self.resolved(location, path)
      let descriptor = try Posix.open(full, O_RDONLY | O_NOFOLLOW, action: "open blob")
      defer { Posix.close(descriptor) }
      return Data(try Posix.readToEnd(descriptor, path: full))
    }
  }

  /// Removes a blob file; a missing one is no error.
  public func deleteBlob(_ path: String) async throws {
    try StoragePath.validate(path)
    try await perform(writing: true) { state, location in
      state.dropAppendHandle(path)
      let full = try Self.resolved(location, path)
      if full.withCString({ unlink($0) }) != 0 && errno != ENOENT { throw Posix.error(full, "unlink") }
      state.unsyncedEntries[path] = nil
    }
  }

  /// Removes the directory `prefix` and everything in it (without following symbolic links);
  /// a missing one is no error. `""`, the whole location, is refused.
  public func deleteBlobDir(_ prefix: String) async throws {
    try StoragePath.validate(prefix)
    try await perform(writing: true) { state, location in
      state.dropAppendHandles(under: prefix)
      try Posix.removeTree(Self.resolved(location, prefix))
      state.forgetUnsyncedEntries(under: prefix)
    }
  }

  // MARK: Internals

  /// `path` joined to `location`, once every entry on the way from the location to it (the
  /// file itself included, when it exists) is a regular file or a directory. The store follows
  /// no symbolic link beneath its location, so that no file placed there, by hand or by a
  /// hostile copy of a store, can lead a read or a write outside it (the location itself may
  /// be a link); and it opens no FIFO, socket or device. Opens also pass `O_NOFOLLOW`, for a
  /// link made after this check.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` naming the first such entry.
  static func resolved(_ location: String, _ path: String) throws -> String {
    try inspected(location, path).full
  }

  /// ``resolved(_:_:)``, with the entry's own status when it exists (the check's `lstat` of
  /// it, which equals its `stat` once it is no link): `size(of:)` and `changeToken(of:)`, which
  /// a follower calls on every poll, then need no second system call.
  static func inspected(_ location: String, _ path: String) throws -> (full: String, status: stat?) {
    var full = location
    var relative = ""
    var status: stat? = nil
    for component in path.split(separator: "/") {
      full = StoragePath.join(full, String(component))
      relative = relative.isEmpty ? String(component) : relative + "/" + component
      status = try Posix.linkStatus(full)
      guard let info = status else { break }  // nothing exists below a missing entry
      switch info.st_mode & S_IFMT {
      case S_IFREG, S_IFDIR: continue
      case S_IFLNK:
        throw OpsLogError.corrupted(
          path: relative,
          reason:
            "it is a symbolic link: the store follows none inside its location, so that no file there can lead it outside; put the file or directory itself there"
        )
      default:
        // Opening a FIFO waits for a writer forever; a device reads without end.
        throw OpsLogError.corrupted(
          path: relative, reason: "it is not a regular file or a directory (a FIFO, a socket or a device)")
      }
    }
    return (StoragePath.join(location, path), status)
  }

  static func changeToken(_ info: stat) -> FileChangeToken {
    #if canImport(Darwin)
      let modified = info.st_mtimespec
    #else
      let modified = info.st_mtim
    #endif
    return FileChangeToken(
      identity: UInt64(truncatingIfNeeded: info.st_ino) ^ UInt64(truncatingIfNeeded: info.st_dev),
      size: Int(info.st_size),
      modification: Int64(modified.tv_sec) * 1_000_000_000 + Int64(modified.tv_nsec))
  }

  /// After a rename or a new file in `directory`: fsyncs it, and the parent of each directory
  /// that was just created, so the whole chain of new entries survives a power loss.
  static func syncCreatedDirectories(_ created: [String], containing directory: String) throws {
    for made in created {
      try Posix.syncDirectory(Posix.parentDirectory(of: made))
    }
    try Posix.syncDirectory(directory)
  }

  /// Opens `full` with `flags` (which include `O_CREAT`), creating its parent directories
  /// first, and records the new entries in ``State/unsyncedEntries`` for the caller to sync
  /// now or for a later ``Durability/disk`` append to sync. The directories are recorded
  /// before the open, so that they are still synced when the open fails and is retried.
  static func createFile(
    _ state: inout State, path: String, full: String, _ flags: Int32, action: String
  ) throws -> Int32 {
    let created = try Posix.makeDirectories(Posix.parentDirectory(of: full))
    if !created.isEmpty { state.unsyncedEntries[path, default: []].append(contentsOf: created) }
    let descriptor = try Posix.open(full, flags, action: action)
    if state.unsyncedEntries[path] == nil { state.unsyncedEntries[path] = [] }
    return descriptor
  }

  /// Makes the entries of `path` that ``createFile(_:path:full:_:action:)`` recorded durable.
  static func syncUnsyncedEntries(_ state: inout State, path: String, full: String) throws {
    guard let created = state.unsyncedEntries[path] else { return }
    try syncCreatedDirectories(created, containing: Posix.parentDirectory(of: full))
    state.unsyncedEntries[path] = nil
  }

  /// The cached append descriptor for `path`, opening (and if needed creating) the file.
  /// Creating it syncs nothing: that is the business of a ``Durability/disk`` append only.
  static func appendHandle(_ state: inout State, path: String, location: String) throws -> Int32 {
    if let descriptor = state.appendHandles[path] { return descriptor }
    let full = try resolved(location, path)
    let descriptor: Int32
    if let existing = try Posix.openIfPresent(full, O_WRONLY | O_APPEND | O_NOFOLLOW, action: "open for appending") {
      descriptor = existing
    } else {
      descriptor = try createFile(
        &state, path: path, full: full, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, action: "create for appending")
    }
    if state.appendHandles.count >= maximumAppendHandles {
      state.dropAppendHandles(under: "")
    }
    state.appendHandles[path] = descriptor
    return descriptor
  }

  /// Appends all of `bytes` to the `O_APPEND` descriptor, or none: when the write fails part
  /// way, the file is cut back to the length it had before. `writer` is the seam tests use to
  /// make a write fail after some bytes.
  static func appendAll(
    _ descriptor: Int32, _ bytes: [UInt8], path: String,
    writer: Posix.Writer = { systemWrite($0, $1, $2) }
  ) throws {
    guard !bytes.isEmpty else { return }
    var written = 0
    do {
      try bytes.withUnsafeBytes { try Posix.writeAll(descriptor, $0, path: path, written: &written, writer: writer) }
    } catch {
      // The store's lock makes this the only writer, so the file grew by exactly `written`
      // bytes: its length before is learnt here, on failure, rather than with an fstat before
      // every append. Best effort: if the fstat or the cut fails, the error of the write is
      // still the one to report, and the reader drops a torn last line anyway.
      if written > 0, let info = try? Posix.status(descriptor, path: path) {
        _ = ftruncate(descriptor, info.st_size - off_t(written))
      }
      throw error
    }
  }

  // MARK: Lock files

  /// The PID written into lock files, as decimal text without a newline (as opslog for Node).
  static var pidText: [UInt8] { Array(String(getpid()).utf8) }

  /// Takes the lock file at `path` (see ``acquireLock(_:)``) and returns its `flock`ed descriptor.
  static func takeLockFile(_ path: String) throws -> Int32 {
    for _ in 0..<lockAttempts {
      let created: Int32?
      do {
        created = try Posix.open(path, O_RDWR | O_CREAT | O_EXCL, action: "create lock file")
      } catch OpsLogError.io(_, EEXIST, _) {
        created = nil
      }
      if let descriptor = created {
        // Another process may open the new, still empty file and take it over as stale before
        // this one flocks it; then this one has lost and starts over.
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0, try isStillLockFile(descriptor, path: path) else {
          Posix.close(descriptor)
          continue
        }
        try writePID(descriptor, path: path)
        return descriptor
      }
      guard let descriptor = try Posix.openIfPresent(path, O_RDWR | O_NOFOLLOW, action: "open lock file") else {
        continue  // released between the two opens
      }
      if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
        let code = errno
        guard code == EWOULDBLOCK || code == EAGAIN else {
          Posix.close(descriptor)
          throw Posix.error(path, "flock", errno: code)
        }
        let holder = holderPID(descriptor)
        Posix.close(descriptor)
        throw OpsLogError.locked(holder: holder.map { "process \($0)" } ?? "another process")
      }
      // The holder may have released (unlinking the file) between the open and the flock.
      guard try isStillLockFile(descriptor, path: path) else {
        Posix.close(descriptor)
        continue
      }
      if let pid = readPID(descriptor), pid != getpid(), Posix.processIsAlive(pid) {
        // A live writer that does not flock (opslog for Node): its lock stands.
        Posix.close(descriptor)
        throw OpsLogError.locked(holder: "process \(pid)")
      }
      // Stale: the PID is dead, missing or garbage, or it is this process's own and no
      // backend of this process holds the flock. The flock keeps every other taker out.
      do {
        try Posix.truncate(descriptor, toLength: 0, path: path)
        try writePID(descriptor, path: path)
      } catch {
        Posix.close(descriptor)
        throw error
      }
      return descriptor
    }
    throw OpsLogError.locked(holder: "another process (the lock file kept changing)")
  }

  /// Whether the open descriptor is still the file at `path`, not one unlinked meanwhile.
  static func isStillLockFile(_ descriptor: Int32, path: String) throws -> Bool {
    let open = try Posix.status(descriptor, path: path)
    guard let current = try Posix.status(path) else { return false }
    return open.st_ino == current.st_ino && open.st_dev == current.st_dev
  }

  static func writePID(_ descriptor: Int32, path: String) throws {
    let text = pidText
    var written = 0
    while written < text.count {
      let count = text.withUnsafeBytes {
        pwrite(descriptor, $0.baseAddress! + written, text.count - written, off_t(written))
      }
      if count < 0 {
        if errno == EINTR { continue }
        throw Posix.error(path, "write lock file")
      }
      written += count
    }
  }

  /// The PID of the process holding the `flock` of a lock file. A holder that has just taken
  /// the lock may not have written its PID yet (the file is still empty, or still names the
  /// dead holder it is taking over from), so the file is read again for a short while until
  /// it names a live process.
  static func holderPID(_ descriptor: Int32) -> pid_t? {
    for _ in 0..<100 {
      if let pid = readPID(descriptor), Posix.processIsAlive(pid) { return pid }
      usleep(1000)
    }
    return nil
  }

  /// The PID in a lock file, or `nil` when it is empty or not a positive decimal number.
  static func readPID(_ descriptor: Int32) -> pid_t? {
    guard let bytes = try? Posix.readAll(descriptor, offset: 0, length: 32, path: "") else { return nil }
    let text = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace)
    guard text.count == 1, let pid = pid_t(text[0]), pid > 0 else { return nil }
    return pid
  }

  static func releaseLockFile(_ path: String, descriptor: Int32) {
    // Unlinking before closing is what makes a waiting taker's inode check fail; nothing
    // useful can be done if the unlink fails, the flock is released by the close regardless.
    _ = path.withCString { unlink($0) }
    Posix.close(descriptor)
  }
}

/// Hands the `sending` chunk closure of ``FsBackend/replace(_:chunks:)`` to the bulk queue: the
/// closure is not `Sendable`, but it was sent to the backend, so moving it once through a
/// mutex to the one thread that calls it is safe, and checked by the compiler.
final class ChunkSource: Sendable {
  private let next: Mutex<(() throws -> [UInt8]?)?>

  init(_ next: sending @escaping () throws -> [UInt8]?) {
    self.next = Mutex(next)
  }

  func take() -> (() throws -> [UInt8]?)? {
    next.withLock { stored in
      let taken = stored
      stored = nil
      return taken
    }
  }
}
