import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Injected disk faults and crashes of ``MemoryBackend``: what tests of the layers above rely
/// on to check that a failed write loses nothing.
@Suite("MemoryBackend faults and crashes")
struct MemoryFaultTests {
  /// A write-like call, given a backend whose store already holds `ops.jsonl` ("a\nb\n") and
  /// `manifest.json` ("v1") and the blob `blobs/x` ("blob").
  struct WriteCall: Sendable, CustomTestStringConvertible {
    var name: String
    var call: @Sendable (MemoryBackend) async throws -> Void
    var testDescription: String { name }
  }

  static let writeCalls: [WriteCall] = [
    WriteCall(name: "append") { try await $0.append("ops.jsonl", bytes("c\n"), durability: .disk) },
    WriteCall(name: "replace") { try await $0.replace("manifest.json", chunks: chunked([bytes("v2")])) },
    WriteCall(name: "create") { try await $0.create("wal/new.jsonl", durability: .disk) },
    WriteCall(name: "truncate") { try await $0.truncate("ops.jsonl", toLength: 2, durability: .disk) },
    WriteCall(name: "writeBlob") { try await $0.writeBlob("blobs/x", Data("new blob".utf8)) },
  ]

  static let location = "/stores/faults"

  /// The files of a store before any fault.
  static func seed(_ backend: MemoryBackend) async throws {
    try await backend.append("ops.jsonl", bytes("a\nb\n"), durability: .disk)
    try await backend.replace("manifest.json", chunks: chunked([bytes("v1")]))
    try await backend.writeBlob("blobs/x", Data("blob".utf8))
  }

  static func expectSeedIntact(_ backend: MemoryBackend) async throws {
    #expect(try await backend.read("ops.jsonl") == bytes("a\nb\n"))
    #expect(try await backend.read("manifest.json") == bytes("v1"))
    #expect(try await backend.readBlob("blobs/x") == Data("blob".utf8))
    #expect(try await backend.list("") == ["blobs", "manifest.json", "ops.jsonl"])
    #expect(try await backend.list("blobs") == ["x"])
  }

  @Test(arguments: writeCalls, [MemoryDisk.Fault.diskFull, .ioError])
  func failedWriteChangesNothingAndTheNextOneWorks(call: WriteCall, fault: MemoryDisk.Fault) async throws {
    let disk = MemoryDisk()
    let backend = MemoryBackend(disk: disk)
    try await backend.initialize(location: Self.location, readOnly: false)
    try await Self.seed(backend)
    let tokenBefore = try await backend.changeToken(of: "ops.jsonl")

    disk.failWrite(fault)
    let error = await thrownError { try await call.call(backend) }
    #expect(ioErrno(error) == (fault == .diskFull ? ENOSPC : EIO))
    #expect(ioPath(error)?.hasPrefix(Self.location + "/") == true)
    try await Self.expectSeedIntact(backend)
    #expect(try await backend.changeToken(of: "ops.jsonl") == tokenBefore)

    // The fault fired once: the same call now succeeds.
    try await call.call(backend)
    try await backend.shutdown()
  }

  @Test(arguments: writeCalls)
  func faultWaitsForTheGivenNumberOfWrites(call: WriteCall) async throws {
    let disk = MemoryDisk()
    let backend = MemoryBackend(disk: disk)
    try await backend.initialize(location: Self.location, readOnly: false)
    try await Self.seed(backend)

    disk.failWrite(.diskFull, after: 2)
    try await backend.append("other", bytes("1\n"), durability: .process)
    try await backend.append("other", bytes("2\n"), durability: .process)
    // Reads, removals and failed validations are not writes and do not count.
    _ = try await backend.read("ops.jsonl")
    try await backend.remove("missing")
    #expect(
      isInvalidArgument(await thrownError { try await backend.truncate("other", toLength: 99, durability: .process) }))
    #expect(ioErrno(await thrownError { try await call.call(backend) }) == ENOSPC)
    try await Self.expectSeedIntactIgnoring("other", backend)
    #expect(try await backend.read("other") == bytes("1\n2\n"))
    try await call.call(backend)
    try await backend.shutdown()
  }

  static func expectSeedIntactIgnoring(_ extra: String, _ backend: MemoryBackend) async throws {
    #expect(try await backend.read("ops.jsonl") == bytes("a\nb\n"))
    #expect(try await backend.read("manifest.json") == bytes("v1"))
    #expect(try await backend.readBlob("blobs/x") == Data("blob".utf8))
    #expect(try await backend.list("").filter { $0 != extra } == ["blobs", "manifest.json", "ops.jsonl"])
  }

  /// `replace` is two steps, the temporary file's write and the rename: a fault at either
  /// leaves the old file.
  @Test(arguments: [0, 1])
  func replaceFailingAtEitherStepKeepsTheOldFile(successfulWrites: Int) async throws {
    let disk = MemoryDisk()
    let backend = MemoryBackend(disk: disk)
    try await backend.initialize(location: Self.location, readOnly: false)
    try await Self.seed(backend)
    disk.failWrite(.ioError, after: successfulWrites)
    let error = await thrownError { try await backend.replace("manifest.json", chunks: chunked([bytes("v2")])) }
    #expect(ioErrno(error) == EIO)
    #expect(ioPath(error) == Self.location + (successfulWrites == 0 ? "/manifest.json.tmp" : "/manifest.json"))
    try await Self.expectSeedIntact(backend)
    try await backend.shutdown()
  }

  @Test func faultFiresOnAnyBackendOfTheDisk() async throws {
    let disk = MemoryDisk()
    let first = MemoryBackend(disk: disk)
    let second = MemoryBackend(disk: disk)
    try await first.initialize(location: "/stores/one", readOnly: false)
    try await second.initialize(location: "/stores/two", readOnly: false)
    disk.failWrite(.diskFull, after: 1)
    try await first.append("ops", bytes("1\n"), durability: .process)
    let error = await thrownError { try await second.append("ops", bytes("2\n"), durability: .process) }
    #expect(ioErrno(error) == ENOSPC)
    #expect(ioPath(error) == "/stores/two/ops")
    #expect(try await second.read("ops") == nil)
    try await second.append("ops", bytes("2\n"), durability: .process)
    #expect(disk.bytes(at: "/stores/two/ops") == bytes("2\n"))
    #expect(disk.bytes(at: "/stores/one/ops") == bytes("1\n"))
  }

  @Test func crashKeepsFilesAndLeavesItsLocksStale() async throws {
    let disk = MemoryDisk()
    let crashing = MemoryBackend(disk: disk)
    try await crashing.initialize(location: Self.location, readOnly: false)
    try await crashing.acquireLock(".lock")
    try await crashing.append("ops.jsonl", bytes("a\n"), durability: .process)

    let other = MemoryBackend(disk: disk)
    try await other.initialize(location: Self.location, readOnly: false)
    #expect(lockHolder(await thrownError { try await other.acquireLock(".lock") }) == "memory backend \(crashing.id)")

    crashing.simulateCrash()
    #expect(await thrownError { _ = try await crashing.read("ops.jsonl") } as? OpsLogError == .closed)
    #expect(await thrownError { try await crashing.releaseLock(".lock") } as? OpsLogError == .closed)
    // The lock file is still there, as a killed process leaves it, and the files are intact.
    #expect(try await other.list("") == [".lock", "ops.jsonl"])
    #expect(try await other.read("ops.jsonl") == bytes("a\n"))

    try await other.acquireLock(".lock")
    #expect(try await other.read(".lock") == bytes(String(other.id)))

    // Restarted, the crashed backend is refused like any other.
    try await crashing.initialize(location: Self.location, readOnly: false)
    #expect(lockHolder(await thrownError { try await crashing.acquireLock(".lock") }) == "memory backend \(other.id)")
    try await other.shutdown()
    try await crashing.acquireLock(".lock")
    try await crashing.shutdown()
    #expect(disk.bytes(at: Self.location + "/.lock") == nil)
    #expect(disk.bytes(at: Self.location + "/ops.jsonl") == bytes("a\n"))
  }

  @Test func locationsOnOneDiskAreSeparate() async throws {
    let disk = MemoryDisk()
    let first = MemoryBackend(disk: disk)
    let second = MemoryBackend(disk: disk)
    try await first.initialize(location: "/stores/a", readOnly: false)
    try await second.initialize(location: "/stores/b", readOnly: false)
    try await first.acquireLock(".lock")
    try await second.acquireLock(".lock")
    try await first.replace("manifest.json", chunks: chunked([bytes("a")]))
    #expect(try await second.read("manifest.json") == nil)
    #expect(try await second.list("") == [".lock"])
    try await first.shutdown()
    try await second.shutdown()
  }
}
