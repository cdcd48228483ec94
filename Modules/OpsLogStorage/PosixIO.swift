import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Thin wrappers over the system calls ``FsBackend`` makes. Each one retries `EINTR`, loops over
/// partial transfers and turns a failure into ``OpsLogError/io(path:errno:reason:)`` naming the
/// full path, so the backend reads as a sequence of steps.
enum Posix {
  /// The error for a failed call, with the current `errno` unless one is given.
  static func error(_ path: String, _ action: String, errno code: Int32 = errno) -> OpsLogError {
    .io(path: path, errno: code, reason: "\(action) failed: \(String(cString: strerror(code)))")
  }

  static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644, action: String) throws -> Int32 {
    while true {
      let descriptor = path.withCString { systemOpen($0, flags | O_CLOEXEC, mode) }
      if descriptor >= 0 { return descriptor }
      if errno == EINTR { continue }
      throw error(path, action)
    }
  }

  /// Like ``open(_:_:mode:action:)``, but `nil` instead of an error when the file is missing.
  static func openIfPresent(_ path: String, _ flags: Int32, action: String) throws -> Int32? {
    do {
      return try open(path, flags, action: action)
    } catch OpsLogError.io(_, ENOENT, _) {
      return nil
    }
  }

  /// Closes a descriptor, ignoring errors: by the time it is closed every byte the caller
  /// cares about has been written (and synced when asked), and Linux releases the descriptor
  /// even when close reports an error, so retrying would be wrong.
  static func close(_ descriptor: Int32) {
    _ = systemClose(descriptor)
  }

  /// The signature of `write(2)`, so tests can substitute a failing one.
  typealias Writer = (Int32, UnsafeRawPointer, Int) -> Int

  /// Writes every byte, looping over partial writes and `EINTR`. On an error the bytes already
  /// written stay written; callers that need all or nothing cut them off themselves.
  static func writeAll(
    _ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String, writer: Writer = { systemWrite($0, $1, $2) }
  ) throws {
    var written = 0
    try writeAll(descriptor, bytes, path: path, written: &written, writer: writer)
  }

  /// ``writeAll(_:_:path:writer:)``, counting in `written` the bytes written, which is how
  /// many a caller must cut off when it throws.
  static func writeAll(
    _ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String, written: inout Int,
    writer: Writer = { systemWrite($0, $1, $2) }
  ) throws {
    guard var pointer = bytes.baseAddress else { return }
    var remaining = bytes.count
    while remaining > 0 {
      let count = writer(descriptor, pointer, remaining)
      if count < 0 {
        if errno == EINTR { continue }
        throw error(path, "write")
      }
      if count == 0 {
        // A zero-byte write of a non-empty buffer would loop forever; the disk is full in
        // every case seen in practice.
        throw error(path, "write", errno: ENOSPC)
      }
      pointer += count
      remaining -= count
      written += count
    }
  }

  static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws {
    try bytes.withUnsafeBytes { try writeAll(descriptor, $0, path: path) }
  }

  /// Reads up to `length` bytes from `offset`; fewer only at the end of the file, as it was
  /// when the read began (bytes appended meanwhile may or may not be included).
  static func readAll(_ descriptor: Int32, offset: Int, length: Int, path: String) throws -> [UInt8] {
    // The size bounds the buffer, so a caller asking for "everything" (a huge length) does
    // not allocate it.
    let size = Int(try status(descriptor, path: path).st_size)
    let wanted = min(length, max(0, size - offset))
    guard wanted > 0 else { return [] }
    var done = 0
    return try [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialized in
      defer { initialized = done }
      while done < wanted {
        let count = pread(descriptor, buffer.baseAddress! + done, wanted - done, off_t(offset + done))
        if count < 0 {
          if errno == EINTR { continue }
          throw error(path, "read")
        }
        if count == 0 { break }
        done += count
      }
    }
  }

  /// Reads the whole file.
  static func readToEnd(_ descriptor: Int32, path: String) throws -> [UInt8] {
    try readAll(descriptor, offset: 0, length: Int.max, path: path)
  }

  static func status(_ descriptor: Int32, path: String) throws -> stat {
    var info = stat()
    if fstat(descriptor, &info) != 0 { throw error(path, "fstat") }
    return info
  }

  /// The file's status, or `nil` when the path does not exist.
  static func status(_ path: String) throws -> stat? {
    var info = stat()
    if path.withCString({ systemStat($0, &info) }) == 0 { return info }
    if errno == ENOENT { return nil }
    throw error(path, "stat")
  }

  /// Like ``status(_:)`` without following a final symbolic link, so a recursive delete
  /// removes a link instead of what it points to.
  static func linkStatus(_ path: String) throws -> stat? {
    var info = stat()
    if path.withCString({ lstat($0, &info) }) == 0 { return info }
    if errno == ENOENT { return nil }
    throw error(path, "lstat")
  }

  static func isDirectory(_ info: stat) -> Bool {
    (info.st_mode & S_IFMT) == S_IFDIR
  }

  static func truncate(_ descriptor: Int32, toLength length: Int, path: String) throws {
    while ftruncate(descriptor, off_t(length)) != 0 {
      if errno == EINTR { continue }
      throw error(path, "ftruncate")
    }
  }

  /// Sets the file's modification (and access) time to now, read from the fine real-time
  /// clock.
  ///
  /// A replaced file's change token (``FsBackend/changeToken(of:)``) is its inode, size and
  /// modification time. The next temporary file often gets the inode the replaced one freed
  /// (ext4 alternates between two), and some kernels and file systems stamp times from a
  /// clock that moves every few milliseconds or every second (HFS+): two replacements of
  /// equal size within one tick would then give the token of the file before them, and a
  /// follower comparing tokens would miss both.
  static func stampModificationTime(_ descriptor: Int32, path: String) throws {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    // Both times given: UTIME_OMIT, to leave the access time alone, is a C macro Swift does
    // not import, and nothing reads the access time of a store's files.
    var times = [now, now]
    if futimens(descriptor, &times) != 0 { throw error(path, "futimens") }
  }

  /// Flushes the file's data (and the metadata needed to read it back) to the disk.
  static func syncData(_ descriptor: Int32, path: String) throws {
    #if canImport(Darwin)
      // Darwin declares no fdatasync, and its fsync stops short of the drive's cache.
      try sync(descriptor, path: path)
    #else
      while fdatasync(descriptor) != 0 {
        if errno == EINTR { continue }
        throw error(path, "fdatasync")
      }
    #endif
  }

  static func sync(_ descriptor: Int32, path: String) throws {
    #if canImport(Darwin)
      // Darwin's fsync only hands the data to the drive, which may keep it in its cache, out
      // of order, through a power loss; F_FULLFSYNC makes the drive write it. File systems
      // that do not support it fail it, and get the plain fsync.
      if fcntl(descriptor, F_FULLFSYNC) == 0 { return }
    #endif
    while fsync(descriptor) != 0 {
      if errno == EINTR { continue }
      throw error(path, "fsync")
    }
  }

  /// Makes a directory's entries (a rename, a new file) durable. Some file systems cannot
  /// fsync a directory and say `EINVAL`; there is nothing more to do on those.
  static func syncDirectory(_ path: String) throws {
    let descriptor = try open(path, O_RDONLY | O_DIRECTORY, action: "open directory to fsync")
    defer { close(descriptor) }
    #if canImport(Darwin)
      // As in sync(_:path:): only F_FULLFSYNC gets the new entries out of the drive's cache.
      if fcntl(descriptor, F_FULLFSYNC) == 0 { return }
    #endif
    while fsync(descriptor) != 0 {
      if errno == EINTR { continue }
      if errno == EINVAL { return }
      throw error(path, "fsync directory")
    }
  }

  /// `mkdir -p`. Returns the directories it created, outermost first, so a durable caller can
  /// fsync their parents. One system call when the directory already exists (the common case).
  @discardableResult
  static func makeDirectories(_ path: String) throws -> [String] {
    if path.withCString({ mkdir($0, 0o755) }) == 0 { return [path] }
    switch errno {
    case EEXIST:
      return []
    case ENOENT:
      let parent = parentDirectory(of: path)
      guard parent != path else { throw error(path, "mkdir", errno: ENOENT) }
      var created = try makeDirectories(parent)
      if path.withCString({ mkdir($0, 0o755) }) == 0 {
        created.append(path)
      } else if errno != EEXIST {
        throw error(path, "mkdir")
      }
      return created
    default:
      throw error(path, "mkdir")
    }
  }

  /// The directory holding `path`: `.` for a bare name, `/` for a top-level absolute one.
  static func parentDirectory(of path: String) -> String {
    guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
    if slash == path.utf8.startIndex { return "/" }
    return String(path[..<slash])
  }

  /// Names of the entries of a directory (without `.` and `..`), sorted by their UTF-8 bytes;
  /// `[]` when it does not exist.
  static func listDirectory(_ path: String) throws -> [String] {
    guard let directory = path.withCString({ opendir($0) }) else {
      if errno == ENOENT { return [] }
      throw error(path, "opendir")
    }
    defer { closedir(directory) }
    var names: [String] = []
    while true {
      errno = 0
      guard let entry = readdir(directory) else {
        if errno != 0 { throw error(path, "readdir") }
        break
      }
      let name = withUnsafePointer(to: &entry.pointee.d_name) {
        String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
      }
      if name == "." || name == ".." { continue }
      names.append(name)
    }
    return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  /// Removes a file, or an empty directory; a missing path is no error.
  static func removeEntry(_ path: String) throws {
    if path.withCString({ unlink($0) }) == 0 { return }
    switch errno {
    case ENOENT:
      return
    case EISDIR, EPERM:
      // Linux says EISDIR, POSIX allows EPERM, for unlink on a directory.
      if path.withCString({ rmdir($0) }) == 0 || errno == ENOENT { return }
      throw error(path, "rmdir")
    default:
      throw error(path, "unlink")
    }
  }

  /// `rm -r`: removes a directory and everything in it, without following symbolic links. A
  /// missing path is no error; a file is removed on its own.
  static func removeTree(_ path: String) throws {
    guard let info = try linkStatus(path) else { return }
    if isDirectory(info) {
      for name in try listDirectory(path) {
        try removeTree(path + "/" + name)
      }
      if path.withCString({ rmdir($0) }) != 0 && errno != ENOENT { throw error(path, "rmdir") }
    } else if path.withCString({ unlink($0) }) != 0 && errno != ENOENT {
      throw error(path, "unlink")
    }
  }

  static func rename(_ from: String, to: String) throws {
    let result = from.withCString { source in to.withCString { systemRename(source, $0) } }
    if result != 0 { throw error(to, "rename from \(from)") }
  }

  /// Whether a process with this ID exists and has not exited. `EPERM` means it exists but
  /// belongs to another user, which is alive as far as a lock is concerned.
  ///
  /// A process that has exited but is not reaped yet (a zombie) still answers `kill(pid, 0)`;
  /// it holds nothing any more, so on Linux its state in `/proc/<pid>/stat` decides.
  static func processIsAlive(_ pid: pid_t) -> Bool {
    guard pid > 0 else { return false }
    if kill(pid, 0) != 0 { return errno != ESRCH }
    #if os(Linux)
      if let state = processState(pid), state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") { return false }
    #endif
    return true
  }

  #if os(Linux)
    /// The state letter of `/proc/<pid>/stat` (`R`, `S`, `Z`, …), or `nil` when it cannot be
    /// read. The letter follows the command name in parentheses, which may itself hold spaces
    /// and parentheses, so it is found after the last `)`.
    static func processState(_ pid: pid_t) -> UInt8? {
      let descriptor = "/proc/\(pid)/stat".withCString { systemOpen($0, O_RDONLY | O_CLOEXEC, 0) }
      guard descriptor >= 0 else { return nil }
      defer { _ = systemClose(descriptor) }
      // The file reports size 0, so it is read until the end, not to a length from fstat.
      var bytes: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: 512)
      while bytes.count < 4096 {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { break }
        bytes += buffer[..<count]
      }
      guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count else { return nil }
      return bytes[close + 2]
    }
  #endif
}

// The module-level names of the system calls, reachable from inside `Posix` whose own
// functions shadow some of them.
private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
  open(path, flags, mode)
}
private func systemClose(_ descriptor: Int32) -> Int32 { close(descriptor) }
func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, pointer, count)
}
private func systemStat(_ path: UnsafePointer<CChar>, _ info: UnsafeMutablePointer<stat>) -> Int32 {
  stat(path, info)
}
private func systemRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 {
  rename(from, to)
}
