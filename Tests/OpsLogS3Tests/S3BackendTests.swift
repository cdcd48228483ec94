import Foundation
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

@testable import OpsLogS3

#if canImport(Glibc)
  import Glibc
#endif

/// The `StorageBackend` contract on S3 (the parts an object store can keep: no empty
/// directories), against the test server.
@Suite("S3 backend contract")
struct S3BackendTests {
  func open(_ location: String, readOnly: Bool = false, leaseDuration: Duration = .seconds(20)) async throws
    -> S3Backend
  {
    let backend = S3Backend(try s3Configuration(leaseDuration: leaseDuration))
    try await backend.initialize(location: location, readOnly: readOnly)
    return backend
  }

  @Test func absentFilesReadAsNil() async throws {
    let location = freshLocation()
    let backend = try await open(location)
    #expect(try await backend.read("missing.json") == nil)
    #expect(try await backend.size(of: "missing.json") == nil)
    #expect(try await backend.changeToken(of: "missing.json") == nil)
    #expect(try await backend.list("") == [])
    let error = await thrownError { _ = try await backend.read("missing.json", offset: 0, length: 1) }
    #expect(ioErrno(error) == ENOENT)
    #expect("\(error!)".contains(location + "/missing.json"))
    try await backend.shutdown()
  }

  @Test func createAppendTruncateAndRangesKeepTheBytes() async throws {
    let backend = try await open(freshLocation())
    try await backend.create("ops/a.jsonl", durability: .process)
    #expect(ioErrno(await thrownError { try await backend.create("ops/a.jsonl", durability: .process) }) == EEXIST)
    try await backend.append("ops/a.jsonl", bytes("one\n"), durability: .process)
    try await backend.append("ops/a.jsonl", bytes("two\n"), durability: .disk)
    try await backend.append("ops/a.jsonl", [], durability: .process)
    try await backend.append("ops/a.jsonl", bytes("three\n"), durability: .process)
    #expect(try await backend.read("ops/a.jsonl") == bytes("one\ntwo\nthree\n"))
    #expect(try await backend.size(of: "ops/a.jsonl") == 14)
    #expect(try await backend.read("ops/a.jsonl", offset: 2, length: 5) == bytes("e\ntwo"))
    #expect(try await backend.read("ops/a.jsonl", offset: 12, length: 100) == bytes("e\n"))
    #expect(try await backend.read("ops/a.jsonl", offset: 14, length: 100) == [])
    let before = try await backend.changeToken(of: "ops/a.jsonl")
    try await backend.truncate("ops/a.jsonl", toLength: 8, durability: .process)
    #expect(try await backend.read("ops/a.jsonl") == bytes("one\ntwo\n"))
    #expect(try await backend.changeToken(of: "ops/a.jsonl") != before)
    #expect(await thrownError { try await backend.truncate("ops/a.jsonl", toLength: 9, durability: .process) } != nil)
    try await backend.append("ops/a.jsonl", bytes("four\n"), durability: .process)
    #expect(try await backend.read("ops/a.jsonl") == bytes("one\ntwo\nfour\n"))
    try await backend.shutdown()
  }

  @Test func anotherProcessSeesAppendsAndReplacements() async throws {
    let location = freshLocation()
    let writer = try await open(location)
    let reader = try await open(location, readOnly: true)
    try await writer.append("ops/w.jsonl", bytes("a\n"), durability: .process)
    #expect(try await reader.read("ops/w.jsonl") == bytes("a\n"))
    try await writer.append("ops/w.jsonl", bytes("b\n"), durability: .process)
    #expect(try await reader.size(of: "ops/w.jsonl") == 4)
    #expect(try await reader.read("ops/w.jsonl", offset: 2, length: 10) == bytes("b\n"))
    try await writer.truncate("ops/w.jsonl", toLength: 2, durability: .process)
    #expect(try await reader.size(of: "ops/w.jsonl") == 2)
    try await writer.replace("manifest.json", bytes: bytes("{\"v\":1}"))
    #expect(try await reader.read("manifest.json") == bytes("{\"v\":1}"))
    try await writer.replace("manifest.json", bytes: bytes("{\"v\":2}"))
    try await writer.replace("manifest.json", bytes: bytes("{\"v\":3}"))
    #expect(try await reader.read("manifest.json") == bytes("{\"v\":3}"))
    #expect(try await reader.list("") == ["manifest.json", "ops"])
    #expect(try await reader.list("ops") == ["w.jsonl"])
    #expect(
      await thrownError { try await reader.append("ops/w.jsonl", bytes("x"), durability: .process) } as? OpsLogError
        == .readOnly)
    try await writer.remove("ops/w.jsonl")
    #expect(try await reader.read("ops/w.jsonl") == nil)
    #expect(try await reader.list("") == ["manifest.json"])
    try await writer.shutdown()
    try await reader.shutdown()
  }

  @Test func hostilePathsAreRefusedBeforeAnyRequest() async throws {
    let backend = try await open(freshLocation())
    for path in ["../outside", "/etc/passwd", "a/../../b", "a//b", "", "a/\u{0}"] {
      let error = await thrownError { _ = try await backend.read(path) }
      #expect(error as? OpsLogError != nil && "\(error!)".contains("invalid") || isInvalidArgument(error), "\(path)")
    }
    try await backend.shutdown()
  }

  @Test func manifestReplaceIsACompareAndSwap() async throws {
    let location = freshLocation()
    let first = try await open(location)
    let second = try await open(location)
    try await first.replace("manifest.json", bytes: bytes("{\"by\":\"first\"}"))
    #expect(try await second.read("manifest.json") == bytes("{\"by\":\"first\"}"))
    #expect(try await first.read("manifest.json") != nil)
    // Both read the same version; the first to write wins, the other changes nothing.
    try await first.replace("manifest.json", bytes: bytes("{\"by\":\"first again\"}"))
    let lost = await thrownError { try await second.replace("manifest.json", bytes: bytes("{\"by\":\"second\"}")) }
    #expect(isLocked(lost))
    #expect(try await second.read("manifest.json") == bytes("{\"by\":\"first again\"}"))
    // Having read the newest, the second may write.
    try await second.replace("manifest.json", bytes: bytes("{\"by\":\"second\"}"))
    #expect(try await first.read("manifest.json") == bytes("{\"by\":\"second\"}"))
    try await first.shutdown()
    try await second.shutdown()
  }

  @Test func concurrentManifestWritersHaveOneWinner() async throws {
    let location = freshLocation()
    let seed = try await open(location)
    try await seed.replace("manifest.json", bytes: bytes("{\"n\":0}"))
    var backends: [S3Backend] = []
    for _ in 0..<6 {
      let backend = try await open(location)
      _ = try await backend.read("manifest.json")
      backends.append(backend)
    }
    let wins = await withTaskGroup(of: Bool.self) { group in
      for (index, backend) in backends.enumerated() {
        group.addTask { (try? await backend.replace("manifest.json", bytes: bytes("{\"n\":\(index + 1)}"))) != nil }
      }
      var wins = 0
      for await won in group where won { wins += 1 }
      return wins
    }
    #expect(wins == 1)
    for backend in backends { try await backend.shutdown() }
    try await seed.shutdown()
  }

  @Test func leasesExcludeOthersAndAreTakenOverAfterExpiry() async throws {
    let location = freshLocation()
    let holder = try await open(location, leaseDuration: .seconds(4))
    let contender = try await open(location, leaseDuration: .seconds(4))
    try await holder.acquireLock(".lock")
    #expect(isLocked(await thrownError { try await contender.acquireLock(".lock") }))
    #expect(isLocked(await thrownError { try await holder.acquireLock(".lock") }))
    // Renewal keeps it held past its first expiry.
    try await Task.sleep(for: .seconds(5))
    #expect(isLocked(await thrownError { try await contender.acquireLock(".lock") }))
    try await holder.releaseLock(".lock")
    try await contender.acquireLock(".lock")
    try await contender.releaseLock(".lock")

    // A holder that stops renewing (killed, paused) loses the lease once it expires.
    try await holder.acquireLock(".lock")
    holder.suspendLeaseRenewalForTesting()
    try await Task.sleep(for: .seconds(5))
    try await contender.acquireLock(".lock")
    // The old holder acknowledges nothing more, and its release leaves the new lease alone.
    #expect(isLocked(await thrownError { try await holder.append("ops/x.jsonl", bytes("x\n"), durability: .process) }))
    try await holder.releaseLock(".lock")
    #expect(isLocked(await thrownError { try await holder.acquireLock(".lock") }))
    try await contender.shutdown()
    try await holder.shutdown()
  }

  /// The paused writer's first call after the takeover is each of its kinds of write in turn:
  /// an append, an undo's truncate, a checkpoint's manifest. None of them lands, and nothing it
  /// tries afterwards does either.
  @Test(arguments: ["append", "truncate", "manifest"])
  func aTakeoverFencesThePausedWriter(firstWrite: String) async throws {
    let location = freshLocation()
    let paused = try await open(location, leaseDuration: .seconds(6))
    try await paused.acquireLock(".lock")
    // The writer will pause past its lease: it stops renewing now, and its local clock does
    // not know, so it still writes (on a loaded machine the setup below may itself outlast
    // the lease).
    paused.suspendLeaseRenewalForTesting()
    paused.pretendLeasesValidForTesting()
    try await paused.create("ops/w.jsonl", durability: .process)
    try await paused.append("ops/w.jsonl", bytes("one\n"), durability: .process)
    let manifest =
      "{\"version\":1,\"currentSnapshot\":\"snapshots/s.jsonl\",\"activeOps\":\"ops/w.jsonl\",\"archiveSegments\":[],\"stats\":{\"activeRecords\":0,\"archivedRecords\":0,\"opsCount\":0,\"created\":\"2026-12-02T00:00:00.000Z\",\"lastCheckpoint\":\"2026-12-02T00:00:00.000Z\"}}"
    try await paused.replace("manifest.json", bytes: bytes(manifest))

    try await Task.sleep(for: .seconds(7))
    // The successor's own lease is long: only the paused writer's must expire here.
    let successor = try await open(location)
    try await successor.acquireLock(".lock")
    #expect(try await successor.read("ops/w.jsonl") == bytes("one\n"))

    let writes: [String: () async throws -> Void] = [
      "append": { try await paused.append("ops/w.jsonl", bytes("late\n"), durability: .process) },
      "truncate": { try await paused.truncate("ops/w.jsonl", toLength: 0, durability: .process) },
      "manifest": { try await paused.replace("manifest.json", bytes: bytes("{}")) },
    ]
    #expect(isLocked(await thrownError { try await writes[firstWrite]!() }))
    for (_, write) in writes { #expect(isLocked(await thrownError { try await write() })) }
    #expect(try await successor.read("ops/w.jsonl") == bytes("one\n"))
    #expect(try await successor.read("manifest.json") == bytes(manifest))
    try await successor.append("ops/w.jsonl", bytes("two\n"), durability: .process)
    #expect(try await successor.read("ops/w.jsonl") == bytes("one\ntwo\n"))
    try await successor.shutdown()
    try await paused.shutdown()
  }

  @Test func aMissingBucketIsAClearError() async throws {
    var configuration = try s3Configuration()
    configuration.bucket = "no-such-bucket-\(UUID().uuidString.prefix(8).lowercased())"
    let backend = S3Backend(configuration)
    let error = await thrownError { try await backend.initialize(location: "x", readOnly: false) }
    #expect(ioErrno(error) == ENOENT)
    #expect("\(error!)".contains(configuration.bucket))
  }
}

func isInvalidArgument(_ error: (any Error)?) -> Bool {
  if case .invalidArgument? = error as? OpsLogError { return true }
  return false
}
