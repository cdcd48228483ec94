import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// How FsBackend reports system failures, and that a failed write leaves nothing behind.
@Suite("FsBackend failures")
struct FsBackendFailureTests {
  /// Permissions stop writes for an ordinary user; root bypasses them, so as root the same
  /// calls are made to fail with a parent path that is a regular file instead.
  @Test func writesIntoAnUnwritableDirectoryFailWithTheErrno() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      try await backend.replace("kept.json", chunks: chunked([bytes("kept")]))

      let directory: String
      let expected: Int32
      if getuid() == 0 {
        try await backend.replace("blocker", chunks: chunked([bytes("a file")]))
        directory = "blocker"
        expected = ENOTDIR
      } else {
        try await backend.create("locked/placeholder", durability: .process)
        #expect(chmod(root + "/locked", 0o500) == 0)
        directory = "locked"
        expected = EACCES
      }
      defer { _ = chmod(root + "/locked", 0o700) }

      let append = await thrownError {
        try await backend.append("\(directory)/ops.jsonl", bytes("x\n"), durability: .disk)
      }
      #expect(ioErrno(append) == expected)
      #expect(ioPath(append)?.hasPrefix(root + "/\(directory)") == true)
      let replace = await thrownError {
        try await backend.replace("\(directory)/manifest.json", chunks: chunked([bytes("m")]))
      }
      #expect(ioErrno(replace) == expected)
      let create = await thrownError { try await backend.create("\(directory)/new", durability: .disk) }
      #expect(ioErrno(create) == expected)
      let blob = await thrownError { try await backend.writeBlob("\(directory)/blob", Data("b".utf8)) }
      #expect(ioErrno(blob) == expected)

      // Nothing else was disturbed, and the backend keeps working.
      #expect(try await backend.read("kept.json") == bytes("kept"))
      try await backend.append("ops.jsonl", bytes("fine\n"), durability: .disk)
      #expect(try await backend.read("ops.jsonl") == bytes("fine\n"))
      try await backend.shutdown()
    }
  }

  @Test func replaceFailingAtTheRenameRemovesTheTemporaryFile() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      // A non-empty directory cannot be renamed over.
      try await backend.replace("target/inside", chunks: chunked([bytes("inside")]))
      let error = await thrownError { try await backend.replace("target", chunks: chunked([bytes("new")])) }
      #expect(ioErrno(error) == EISDIR || ioErrno(error) == ENOTEMPTY)
      #expect(try await backend.list("") == ["target"])
      #expect(try await backend.read("target/inside") == bytes("inside"))
      try await backend.shutdown()
    }
  }

  @Test func readingADirectoryAsAFileFails() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      try await backend.create("dir/file", durability: .process)
      #expect(ioErrno(await thrownError { _ = try await backend.read("dir") }) == EISDIR)
      #expect(ioErrno(await thrownError { _ = try await backend.list("dir/file") }) == ENOTDIR)
      try await backend.shutdown()
    }
  }

  /// A write that fails after part of the bytes went out must not leave half a line: the
  /// file is cut back to its length before the append.
  @Test func failedAppendIsCutBackToThePreviousLength() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-append-\(UUID().uuidString)").path
    defer { unlink(path) }
    let descriptor = try Posix.open(path, O_WRONLY | O_APPEND | O_CREAT, action: "create")
    defer { Posix.close(descriptor) }
    try FsBackend.appendAll(descriptor, bytes("line 1\n"), path: path)

    var calls = 0
    let error = #expect(throws: OpsLogError.self) {
      try FsBackend.appendAll(descriptor, bytes("line 2 is long\n"), path: path) { descriptor, pointer, count in
        calls += 1
        if calls == 1 { return systemWrite(descriptor, pointer, min(count, 5)) }
        errno = ENOSPC
        return -1
      }
    }
    #expect(ioErrno(error) == ENOSPC)
    #expect(calls == 2)
    #expect(FileManager.default.contents(atPath: path) == Data("line 1\n".utf8))

    // The next append lands right after the last whole line.
    try FsBackend.appendAll(descriptor, bytes("line 3\n"), path: path)
    #expect(FileManager.default.contents(atPath: path) == Data("line 1\nline 3\n".utf8))
  }

  /// The cut goes back by exactly the bytes written, however many partial writes went out.
  @Test func failedAppendAfterSeveralPartialWritesOrNoneIsCutBack() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-append-\(UUID().uuidString)").path
    defer { unlink(path) }
    let descriptor = try Posix.open(path, O_WRONLY | O_APPEND | O_CREAT, action: "create")
    defer { Posix.close(descriptor) }
    try FsBackend.appendAll(descriptor, bytes("line 1\n"), path: path)

    for failingCall in [1, 2, 4] {
      var calls = 0
      let error = #expect(throws: OpsLogError.self) {
        try FsBackend.appendAll(descriptor, bytes("a much longer line 2\n"), path: path) { descriptor, pointer, count in
          calls += 1
          if calls == failingCall {
            errno = EIO
            return -1
          }
          return systemWrite(descriptor, pointer, min(count, 3))
        }
      }
      #expect(ioErrno(error) == EIO)
      #expect(FileManager.default.contents(atPath: path) == Data("line 1\n".utf8), "failing call \(failingCall)")
    }
    try FsBackend.appendAll(descriptor, bytes("line 3\n"), path: path)
    #expect(FileManager.default.contents(atPath: path) == Data("line 1\nline 3\n".utf8))
  }

  @Test func appendLoopsOverPartialWritesAndInterruptions() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-append-\(UUID().uuidString)").path
    defer { unlink(path) }
    let descriptor = try Posix.open(path, O_WRONLY | O_APPEND | O_CREAT, action: "create")
    defer { Posix.close(descriptor) }
    var calls = 0
    try FsBackend.appendAll(descriptor, bytes("0123456789\n"), path: path) { descriptor, pointer, count in
      calls += 1
      if calls % 2 == 0 {
        errno = EINTR
        return -1
      }
      return systemWrite(descriptor, pointer, min(count, 3))
    }
    #expect(FileManager.default.contents(atPath: path) == Data("0123456789\n".utf8))
    #expect(calls == 7)  // four partial writes of 3, 3, 3 and 2 bytes, three interruptions
  }

  /// A power loss can lose a file whose directory entry was never fsynced, whatever was
  /// fdatasynced into it. fsync's effect cannot be seen without cutting the power, so this
  /// checks the backend's record of the entries still to sync: the first `.disk` append must
  /// sync them even when the handle that created the file is long gone (the handle used to
  /// carry that record, and lost it when evicted or dropped after an error).
  @Test func aDiskAppendSyncsTheEntriesOfAFileCreatedEarlier() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      func unsynced(_ path: String) -> [String]? { backend.state.withLock { $0.unsyncedEntries[path] } }

      // Created by a `.process` append, which syncs nothing.
      try await backend.append("ops/new/a.jsonl", bytes("1\n"), durability: .process)
      #expect(unsynced("ops/new/a.jsonl") == [root + "/ops", root + "/ops/new"])
      // Enough other files to evict every cached handle.
      for index in 0..<FsBackend.maximumAppendHandles {
        try await backend.append("ops/new/other-\(index)", bytes("x\n"), durability: .process)
      }
      #expect(backend.state.withLock { $0.appendHandles["ops/new/a.jsonl"] } == nil)
      #expect(unsynced("ops/new/a.jsonl") == [root + "/ops", root + "/ops/new"])
      try await backend.append("ops/new/a.jsonl", bytes("2\n"), durability: .disk)
      #expect(unsynced("ops/new/a.jsonl") == nil)

      // A file made by a `.process` create is synced by its first `.disk` append too.
      try await backend.create("ops/b.jsonl", durability: .process)
      #expect(unsynced("ops/b.jsonl") == [])
      try await backend.append("ops/b.jsonl", bytes("1\n"), durability: .disk)
      #expect(unsynced("ops/b.jsonl") == nil)

      // A `.disk` append or create that makes the file syncs it at once; removing a file, or
      // replacing it (which syncs its directory), leaves nothing to sync.
      try await backend.append("ops/c.jsonl", bytes("1\n"), durability: .disk)
      try await backend.create("ops/d.jsonl", durability: .disk)
      try await backend.create("ops/e.jsonl", durability: .process)
      try await backend.remove("ops/e.jsonl")
      try await backend.append("ops/f.jsonl", bytes("1\n"), durability: .process)
      try await backend.replace("ops/f.jsonl", chunks: chunked([bytes("2\n")]))
      try await backend.deleteBlobDir("ops/new")
      #expect(backend.state.withLock { $0.unsyncedEntries.isEmpty })
      try await backend.shutdown()
    }
  }

  @Test func lockFileNamesAreFileNames() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      for name in ["", "a/.lock", "../.lock", "/tmp/.lock"] {
        #expect(isInvalidArgument(await thrownError { try await backend.acquireLock(name) }), "\(name)")
      }
      try await backend.shutdown()
    }
  }

  /// A backend dropped without shutdown must not leave its PID in a lock file that would keep
  /// everyone out for as long as this process lives.
  @Test func droppedBackendReleasesItsLocks() async throws {
    try await withTemporaryDirectory { root in
      do {
        let backend = FsBackend()
        try await backend.initialize(location: root, readOnly: false)
        try await backend.acquireLock(".lock")
        #expect(FileManager.default.fileExists(atPath: root + "/.lock"))
      }
      // The I/O queue may hold the last reference for a moment after the call returned.
      let clock = ContinuousClock()
      let deadline = clock.now + .seconds(10)
      while FileManager.default.fileExists(atPath: root + "/.lock") && clock.now < deadline {
        try await Task.sleep(for: .milliseconds(5))
      }
      #expect(!FileManager.default.fileExists(atPath: root + "/.lock"))
      let next = FsBackend()
      try await next.initialize(location: root, readOnly: false)
      try await next.acquireLock(".lock")
      try await next.shutdown()
    }
  }

  @Test func relativeAndSlashEndedLocationsNameFullPaths() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root + "/", readOnly: false)
      let error = await thrownError { _ = try await backend.read("missing", offset: 0, length: 1) }
      #expect(ioPath(error) == root + "/missing")
      try await backend.shutdown()
    }
  }
}
