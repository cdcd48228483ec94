import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The `StorageBackend` contract, run against every bundled backend: whatever passes here for
/// one backend must pass for the other, so the store above can swap them.
@Suite("Storage backend contract")
struct BackendContractTests {
  // MARK: Reading and writing files

  @Test(arguments: BackendKind.allCases)
  func readingAbsentFilesGivesNil(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      #expect(try await backend.read("missing.json") == nil)
      #expect(try await backend.read("no/such/dir/file") == nil)
      #expect(try await backend.size(of: "missing.json") == nil)
      #expect(try await backend.changeToken(of: "missing.json") == nil)
      let error = await thrownError { _ = try await backend.read("missing.json", offset: 0, length: 1) }
      #expect(ioErrno(error) == ENOENT)
      #expect(ioPath(error) == medium.location + "/missing.json")
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func replaceWritesAllChunksAndCreatesParents(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.replace("snapshots/2026/snap-1.jsonl", chunks: chunked([bytes("one\n"), [], bytes("two\n")]))
      #expect(try await backend.read("snapshots/2026/snap-1.jsonl") == bytes("one\ntwo\n"))
      #expect(try await backend.list("snapshots") == ["2026"])
      // The temporary file is gone once the rename is done.
      #expect(try await backend.list("snapshots/2026") == ["snap-1.jsonl"])

      try await backend.replace("snapshots/2026/snap-1.jsonl", chunks: chunked([bytes("three\n")]))
      #expect(try await backend.read("snapshots/2026/snap-1.jsonl") == bytes("three\n"))

      // An empty replacement is an empty file, not a missing one.
      try await backend.replace("empty", chunks: chunked([]))
      #expect(try await backend.read("empty") == [])
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func replaceWithBytesWritesThemWhole(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.replace("dir/file", bytes: bytes("first"))
      #expect(try await backend.read("dir/file") == bytes("first"))
      try await backend.replace("dir/file", bytes: bytes("second"))
      #expect(try await backend.read("dir/file") == bytes("second"))
      try await backend.replace("dir/file", bytes: [])
      #expect(try await backend.read("dir/file") == [])
      #expect(try await backend.list("dir") == ["file"])
      try await backend.shutdown()
      let readOnly = try await medium.open(readOnly: true)
      #expect(
        await thrownError { try await readOnly.replace("dir/file", bytes: bytes("x")) } as? OpsLogError == .readOnly)
      try await readOnly.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func replaceFailingInTheChunksLeavesTheOldFile(kind: BackendKind) async throws {
    struct ChunkFailure: Error {}
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.replace("manifest.json", chunks: chunked([bytes("old")]))
      let error = await thrownError {
        var calls = 0
        try await backend.replace("manifest.json") {
          calls += 1
          if calls == 2 { throw ChunkFailure() }
          return bytes("new")
        }
      }
      #expect(error is ChunkFailure)
      #expect(try await backend.read("manifest.json") == bytes("old"))
      #expect(try await backend.list("") == ["manifest.json"])
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func createIsExclusive(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.create("wal/ops-1.jsonl", durability: .disk)
      #expect(try await backend.read("wal/ops-1.jsonl") == [])
      try await backend.append("wal/ops-1.jsonl", bytes("a\n"), durability: .process)
      let error = await thrownError { try await backend.create("wal/ops-1.jsonl", durability: .process) }
      #expect(ioErrno(error) == EEXIST)
      #expect(try await backend.read("wal/ops-1.jsonl") == bytes("a\n"))
      try await backend.create("top", durability: .process)
      #expect(try await backend.size(of: "top") == 0)
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func appendWritesManyLinesInOneCall(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let lines = (0..<500).map { "{\"op\":\"set\",\"id\":\"\($0)\"}\n" }.joined()
      try await backend.append("ops.jsonl", bytes(lines), durability: .process)
      #expect(try await backend.read("ops.jsonl") == bytes(lines))
      try await backend.append("ops.jsonl", bytes("last\n"), durability: .disk)
      try await backend.append("ops.jsonl", [], durability: .disk)
      #expect(try await backend.read("ops.jsonl") == bytes(lines + "last\n"))
      #expect(try await backend.size(of: "ops.jsonl") == lines.utf8.count + 5)

      // A second file appended in turn: each keeps its own bytes.
      for round in 0..<20 {
        try await backend.append("a/one", bytes("\(round)\n"), durability: .process)
        try await backend.append("a/two", bytes("\(round * 2)\n"), durability: .disk)
      }
      #expect(try await backend.read("a/one") == bytes((0..<20).map { "\($0)\n" }.joined()))
      #expect(try await backend.read("a/two") == bytes((0..<20).map { "\($0 * 2)\n" }.joined()))
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func appendAfterReplaceOrRemoveGoesToTheNewFile(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.append("ops.jsonl", bytes("old\n"), durability: .process)
      try await backend.replace("ops.jsonl", chunks: chunked([bytes("fresh\n")]))
      try await backend.append("ops.jsonl", bytes("next\n"), durability: .process)
      #expect(try await backend.read("ops.jsonl") == bytes("fresh\nnext\n"))
      try await backend.remove("ops.jsonl")
      try await backend.append("ops.jsonl", bytes("again\n"), durability: .process)
      #expect(try await backend.read("ops.jsonl") == bytes("again\n"))
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func truncateCutsAndRefusesToGrow(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.append("ops.jsonl", bytes("line1\nline2\n"), durability: .process)
      try await backend.truncate("ops.jsonl", toLength: 6, durability: .disk)
      #expect(try await backend.read("ops.jsonl") == bytes("line1\n"))
      // Appends after a truncate go to the new end.
      try await backend.append("ops.jsonl", bytes("line3\n"), durability: .process)
      #expect(try await backend.read("ops.jsonl") == bytes("line1\nline3\n"))

      #expect(
        isInvalidArgument(
          await thrownError { try await backend.truncate("ops.jsonl", toLength: 13, durability: .process) }))
      #expect(
        isInvalidArgument(
          await thrownError { try await backend.truncate("ops.jsonl", toLength: -1, durability: .process) }))
      #expect(try await backend.read("ops.jsonl") == bytes("line1\nline3\n"))
      try await backend.truncate("ops.jsonl", toLength: 12, durability: .process)
      try await backend.truncate("ops.jsonl", toLength: 0, durability: .process)
      #expect(try await backend.read("ops.jsonl") == [])
      let missing = await thrownError { try await backend.truncate("missing", toLength: 0, durability: .process) }
      #expect(ioErrno(missing) == ENOENT)
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func rangeReadsAreShortAtTheEnd(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.replace("data", chunks: chunked([bytes("0123456789")]))
      #expect(try await backend.read("data", offset: 2, length: 3) == bytes("234"))
      #expect(try await backend.read("data", offset: 7, length: 100) == bytes("789"))
      #expect(try await backend.read("data", offset: 10, length: 5) == [])
      #expect(try await backend.read("data", offset: 50, length: 5) == [])
      #expect(try await backend.read("data", offset: 0, length: 0) == [])
      #expect(try await backend.read("data", offset: 0, length: Int.max / 2) == bytes("0123456789"))
      #expect(isInvalidArgument(await thrownError { _ = try await backend.read("data", offset: -1, length: 2) }))
      #expect(isInvalidArgument(await thrownError { _ = try await backend.read("data", offset: 0, length: -2) }))
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func sizeAndChangeTokenFollowEveryWrite(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.append("ops.jsonl", bytes("a\n"), durability: .process)
      let first = try #require(try await backend.changeToken(of: "ops.jsonl"))
      #expect(first.size == 2)
      #expect(try await backend.changeToken(of: "ops.jsonl") == first)

      try await backend.append("ops.jsonl", bytes("b\n"), durability: .process)
      let afterAppend = try #require(try await backend.changeToken(of: "ops.jsonl"))
      #expect(afterAppend != first)
      #expect(afterAppend.size == 4)
      #expect(try await backend.size(of: "ops.jsonl") == 4)

      // Same size, new file: the identity tells them apart.
      try await backend.replace("ops.jsonl", chunks: chunked([bytes("c\nd\n")]))
      let afterReplace = try #require(try await backend.changeToken(of: "ops.jsonl"))
      #expect(afterReplace != afterAppend)
      #expect(afterReplace.identity != afterAppend.identity)
      #expect(afterReplace.size == 4)

      try await backend.truncate("ops.jsonl", toLength: 2, durability: .process)
      #expect(try await backend.changeToken(of: "ops.jsonl") != afterReplace)
      #expect(try await backend.size(of: "ops.jsonl") == 2)
      try await backend.shutdown()
    }
  }

  /// Replacements in a row, all of one size: no token comes back. On a file system the next
  /// temporary file often takes the inode the replaced one freed, so only the modification
  /// time tells the third file from the first; a follower that compared them would miss the
  /// two replacements between.
  @Test(arguments: BackendKind.allCases)
  func replacementsOfOneSizeNeverRepeatAToken(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      var tokens: [FileChangeToken] = []
      for round in 0..<(kind == .s3 ? 8 : 40) {
        let text = String(repeating: " ", count: 5 - String(round).count) + String(round) + "\n"
        try await backend.replace("manifest.json", chunks: chunked([bytes(text)]))
        tokens.append(try #require(try await backend.changeToken(of: "manifest.json")))
      }
      #expect(Set(tokens.map(\.size)) == [6])
      #expect(Set(tokens).count == tokens.count, "a token repeated: \(tokens)")
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func listIsSortedByBytesAndShowsDirectories(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      #expect(try await backend.list("") == [])
      #expect(try await backend.list("nothing/here") == [])
      for name in ["b", "a", "B", "é", "a0", "sub/x", "sub/deeper/y"] {
        try await backend.replace(name, chunks: chunked([bytes(name)]))
      }
      try await backend.create("emptydir/placeholder", durability: .process)
      try await backend.remove("emptydir/placeholder")
      // UTF-8 byte order: uppercase before lowercase, "é" (0xC3 0xA9) last.
      // An object store keeps no empty directories.
      let emptyDirectory = kind == .s3 ? [] : ["emptydir"]
      #expect(try await backend.list("") == ["B", "a", "a0", "b"] + emptyDirectory + ["sub", "é"])
      #expect(try await backend.list("sub") == ["deeper", "x"])
      #expect(try await backend.list("emptydir") == [])
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func removeDeletesFilesAndEmptyDirectories(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.remove("never-existed")
      try await backend.replace("dir/file", chunks: chunked([bytes("x")]))
      let notEmpty = await thrownError { try await backend.remove("dir") }
      #expect(ioErrno(notEmpty) == ENOTEMPTY)
      #expect(try await backend.read("dir/file") == bytes("x"))
      try await backend.remove("dir/file")
      #expect(try await backend.read("dir/file") == nil)
      #expect(try await backend.list("") == (kind == .s3 ? [] : ["dir"]))
      try await backend.remove("dir")
      #expect(try await backend.list("") == [])
      try await backend.remove("dir")
      try await backend.shutdown()
    }
  }

  // MARK: Path rules

  @Test(arguments: BackendKind.allCases)
  func pathsOutsideTheLocationAreRefused(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let bad = ["../x", "/etc/passwd", "a/../../b", "a//b", "a/", "./a", "a/./b", "..", "x\u{0}y"]
      for path in bad {
        #expect(isInvalidArgument(await thrownError { _ = try await backend.read(path) }), "read \(path)")
        #expect(
          isInvalidArgument(await thrownError { try await backend.append(path, bytes("x"), durability: .process) }),
          "append \(path)")
        #expect(
          isInvalidArgument(await thrownError { try await backend.replace(path, chunks: chunked([bytes("x")])) }),
          "replace \(path)")
        #expect(isInvalidArgument(await thrownError { try await backend.create(path, durability: .process) }))
        #expect(isInvalidArgument(await thrownError { try await backend.remove(path) }))
        #expect(isInvalidArgument(await thrownError { _ = try await backend.list(path) }))
        #expect(isInvalidArgument(await thrownError { try await backend.writeBlob(path, Data("x".utf8)) }))
        #expect(isInvalidArgument(await thrownError { try await backend.deleteBlobDir(path) }))
      }
      // "" is the location for listing, and nothing else.
      #expect(isInvalidArgument(await thrownError { _ = try await backend.read("") }))
      #expect(isInvalidArgument(await thrownError { try await backend.deleteBlobDir("") }))
      #expect(isInvalidArgument(await thrownError { try await backend.acquireLock("dir/.lock") }))
      // Names that merely contain dots are fine.
      try await backend.replace("...x/..y/a..b", chunks: chunked([bytes("ok")]))
      #expect(try await backend.read("...x/..y/a..b") == bytes("ok"))
      #expect(!FileManager.default.fileExists(atPath: medium.location + "/../x"))
      try await backend.shutdown()
    }
  }

  // MARK: Lifecycle and modes

  @Test(arguments: BackendKind.allCases)
  func readOnlyRefusesEveryWriteAndCreatesNothing(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open(readOnly: true)
      var calls: [(String, () async throws -> Void)] = []
      calls.append(("replace", { try await backend.replace("f", chunks: chunked([bytes("x")])) }))
      calls.append(("create", { try await backend.create("f", durability: .process) }))
      calls.append(("append", { try await backend.append("f", bytes("x"), durability: .disk) }))
      calls.append(("truncate", { try await backend.truncate("f", toLength: 0, durability: .process) }))
      calls.append(("remove", { try await backend.remove("f") }))
      calls.append(("acquireLock", { try await backend.acquireLock(".lock") }))
      calls.append(("writeBlob", { try await backend.writeBlob("blobs/b", Data("x".utf8)) }))
      calls.append(("deleteBlob", { try await backend.deleteBlob("blobs/b") }))
      calls.append(("deleteBlobDir", { try await backend.deleteBlobDir("blobs") }))
      for (name, call) in calls {
        #expect(await thrownError(call) as? OpsLogError == .readOnly, "\(name)")
      }
      #expect(await !medium.locationExists())
      // Reading still works and finds nothing.
      #expect(try await backend.read("f") == nil)
      #expect(try await backend.list("") == [])
      try await backend.releaseLock(".lock")
      try await backend.shutdown()
      #expect(await !medium.locationExists())
    }
  }

  @Test(arguments: BackendKind.allCases)
  func initializeCreatesNothing(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      #expect(await !medium.locationExists())
      try await backend.shutdown()
      #expect(await !medium.locationExists())
    }
  }

  @Test(arguments: BackendKind.allCases)
  func callsOutsideServingAreClosed(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try medium.makeBackend()
      #expect(await thrownError { _ = try await backend.read("f") } as? OpsLogError == .closed)
      #expect(
        await thrownError { try await backend.append("f", bytes("x"), durability: .process) } as? OpsLogError == .closed
      )
      #expect(await thrownError { try await backend.acquireLock(".lock") } as? OpsLogError == .closed)
      try await backend.shutdown()  // harmless before initialize

      try await backend.initialize(location: medium.location, readOnly: false)
      try await backend.append("f", bytes("x"), durability: .process)
      try await backend.shutdown()
      try await backend.shutdown()  // and twice
      #expect(await thrownError { _ = try await backend.read("f") } as? OpsLogError == .closed)
      #expect(await thrownError { _ = try await backend.list("") } as? OpsLogError == .closed)
      #expect(await thrownError { try await backend.writeBlob("b", Data()) } as? OpsLogError == .closed)
      #expect(await thrownError { _ = try await backend.readBlob("b") } as? OpsLogError == .closed)

      // After shutdown it may serve again, read-only this time.
      try await backend.initialize(location: medium.location, readOnly: true)
      #expect(try await backend.read("f") == bytes("x"))
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func secondInitializeWhileServingIsRefused(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let error = await thrownError {
        try await backend.initialize(location: medium.location + "-other", readOnly: false)
      }
      #expect(isInvalidArgument(error))
      // Still serving the first store.
      try await backend.append("f", bytes("x"), durability: .process)
      #expect(try await backend.read("f") == bytes("x"))
      try await backend.shutdown()
    }
  }

  // MARK: Locks

  @Test(arguments: BackendKind.allCases)
  func locksExcludeOtherBackends(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let first = try await medium.open()
      let second = try await medium.open()
      try await first.acquireLock(".lock")
      #expect(await medium.locationExists())
      #expect(try await second.list("") == [".lock"])

      let refused = await thrownError { try await second.acquireLock(".lock") }
      let expectedHolder: String
      switch kind {
      case .fs: expectedHolder = "process \(getpid())"
      case .memory: expectedHolder = "memory backend \((first as! MemoryBackend).id)"
      case .s3: expectedHolder = "\(ProcessInfo.processInfo.hostName) process \(getpid())"
      }
      #expect(lockHolder(refused) == expectedHolder)
      #expect(lockHolder(await thrownError { try await first.acquireLock(".lock") }) == "this process")

      // The compaction lock is separate.
      try await second.acquireLock(".compact-lock")
      #expect(lockHolder(await thrownError { try await first.acquireLock(".compact-lock") }) != nil)

      // Released, the lock file is gone and the other backend can take it.
      try await first.releaseLock(".lock")
      try await first.releaseLock(".lock")  // not held: no error
      #expect(try await second.list("") == [".compact-lock"])
      try await second.acquireLock(".lock")
      #expect(lockHolder(await thrownError { try await first.acquireLock(".lock") }) != nil)

      // Shutdown releases every lock still held.
      try await second.shutdown()
      #expect(try await first.list("") == [])
      try await first.acquireLock(".lock")
      try await first.acquireLock(".compact-lock")
      try await first.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func lockContendedByManyTasksHasOneWinner(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      var backends: [any StorageBackend] = []
      for _ in 0..<8 { backends.append(try await medium.open()) }
      let winners = await withTaskGroup(of: Bool.self) { group in
        for backend in backends {
          group.addTask { (try? await backend.acquireLock(".lock")) != nil }
        }
        return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      #expect(winners == 1)
      for backend in backends { try await backend.shutdown() }
    }
  }

  // MARK: Blobs

  @Test(arguments: BackendKind.allCases)
  func blobsRoundTripAndList(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let content = Data((0..<1000).map { UInt8($0 % 251) })
      try await backend.writeBlob("blobs/ab/cdef", content)
      #expect(try await backend.readBlob("blobs/ab/cdef") == content)
      try await backend.writeBlob("blobs/ab/cdef", Data("short".utf8))
      #expect(try await backend.readBlob("blobs/ab/cdef") == Data("short".utf8))
      try await backend.writeBlob("blobs/ab/empty", Data())
      #expect(try await backend.readBlob("blobs/ab/empty") == Data())
      try await backend.writeBlob("blobs/zz", Data("z".utf8))

      #expect(try await backend.readBlobRange("blobs/ab/cdef", offset: 1, length: 3) == Data("hor".utf8))
      #expect(try await backend.readBlobRange("blobs/ab/cdef", offset: 3, length: 10) == Data("rt".utf8))
      #expect(try await backend.readBlobRange("blobs/ab/cdef", offset: 5, length: 10) == Data())
      #expect(try await backend.readBlobRange("blobs/ab/cdef", offset: 99, length: 1) == Data())
      #expect(
        isInvalidArgument(
          await thrownError { _ = try await backend.readBlobRange("blobs/ab/cdef", offset: -1, length: 1) }))
      #expect(
        isInvalidArgument(
          await thrownError { _ = try await backend.readBlobRange("blobs/ab/cdef", offset: 0, length: -1) }))

      #expect(try await backend.listBlobs("blobs") == ["ab", "zz"])
      #expect(try await backend.listBlobs("blobs/ab") == ["cdef", "empty"])
      #expect(try await backend.listBlobs("nothing") == [])
      #expect(try await backend.listBlobs("") == ["blobs"])

      let missing = await thrownError { _ = try await backend.readBlob("blobs/missing") }
      #expect(ioErrno(missing) == ENOENT)
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func blobsAreDeletedOneByOneOrByDirectory(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.deleteBlob("blobs/missing")
      try await backend.deleteBlobDir("missing/dir")
      for path in ["blobs/a/1", "blobs/a/2", "blobs/a/deep/3", "blobs/b/4", "blobsibling"] {
        try await backend.writeBlob(path, Data(path.utf8))
      }
      try await backend.deleteBlob("blobs/a/1")
      try await backend.deleteBlob("blobs/a/1")
      #expect(ioErrno(await thrownError { _ = try await backend.readBlob("blobs/a/1") }) == ENOENT)
      #expect(try await backend.listBlobs("blobs/a") == ["2", "deep"])

      try await backend.deleteBlobDir("blobs/a")
      #expect(try await backend.listBlobs("blobs") == ["b"])
      #expect(try await backend.listBlobs("blobs/a") == [])
      // A sibling that shares the prefix as a string is not inside the directory.
      try await backend.deleteBlobDir("blobs")
      #expect(try await backend.listBlobs("") == ["blobsibling"])
      #expect(try await backend.readBlob("blobsibling") == Data("blobsibling".utf8))
      try await backend.shutdown()
    }
  }

  // MARK: removeLastLine

  @Test(arguments: BackendKind.allCases)
  func removeLastLineCutsOneLine(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.create("empty", durability: .process)
      #expect(try await backend.removeLastLine("empty", durability: .process) == false)
      #expect(try await backend.removeLastLine("missing", durability: .process) == false)

      try await backend.append("wal", bytes("one\ntwo\nthree\n"), durability: .process)
      #expect(try await backend.removeLastLine("wal", durability: .disk))
      #expect(try await backend.read("wal") == bytes("one\ntwo\n"))

      // A torn tail (no final newline) is the last line.
      try await backend.append("wal", bytes("{\"torn"), durability: .process)
      #expect(try await backend.removeLastLine("wal", durability: .process))
      #expect(try await backend.read("wal") == bytes("one\ntwo\n"))

      #expect(try await backend.removeLastLine("wal", durability: .process))
      #expect(try await backend.removeLastLine("wal", durability: .process))
      #expect(try await backend.read("wal") == [])
      #expect(try await backend.removeLastLine("wal", durability: .process) == false)

      try await backend.append("single", bytes("only line without newline"), durability: .process)
      #expect(try await backend.removeLastLine("single", durability: .process))
      #expect(try await backend.size(of: "single") == 0)

      try await backend.append("blank", bytes("a\n\n"), durability: .process)
      #expect(try await backend.removeLastLine("blank", durability: .process))
      #expect(try await backend.read("blank") == bytes("a\n"))
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func removeLastLineHandlesLinesLongerThanOneChunk(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let head = "first\n" + String(repeating: "x", count: 10_000) + "\n"
      let long = String(repeating: "y", count: 70_000) + "\n"
      try await backend.append("wal", bytes(head + long), durability: .process)
      #expect(try await backend.removeLastLine("wal", durability: .process))
      #expect(try await backend.read("wal") == bytes(head))
      #expect(try await backend.removeLastLine("wal", durability: .process))
      #expect(try await backend.read("wal") == bytes("first\n"))
      try await backend.shutdown()
    }
  }
}
