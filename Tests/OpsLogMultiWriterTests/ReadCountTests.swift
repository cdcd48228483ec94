import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import Synchronization
import Testing

/// A ``MemoryBackend`` that counts the reads it serves, by path.
final class ReadCountingBackend: StorageBackend {
  let base: MemoryBackend
  let counts = Mutex<[String: Int]>([:])

  init(disk: MemoryDisk) { base = MemoryBackend(disk: disk) }

  /// The reads of `path` (whole or ranged) since the last reset.
  func reads(of path: String) -> Int { counts.withLock { $0[path, default: 0] } }
  func reset() { counts.withLock { $0 = [:] } }
  private func count(_ path: String) { counts.withLock { $0[path, default: 0] += 1 } }

  func initialize(location: String, readOnly: Bool) async throws {
    try await base.initialize(location: location, readOnly: readOnly)
  }
  func shutdown() async throws { try await base.shutdown() }
  func read(_ path: String) async throws -> [UInt8]? {
    count(path)
    return try await base.read(path)
  }
  func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
    count(path)
    return try await base.read(path, offset: offset, length: length)
  }
  func size(of path: String) async throws -> Int? { try await base.size(of: path) }
  func changeToken(of path: String) async throws -> FileChangeToken? { try await base.changeToken(of: path) }
  func list(_ directory: String) async throws -> [String] { try await base.list(directory) }
  func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws {
    try await base.replace(path, chunks: nextChunk)
  }
  func create(_ path: String, durability: Durability) async throws {
    try await base.create(path, durability: durability)
  }
  func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws {
    try await base.append(path, bytes, durability: durability)
  }
  func truncate(_ path: String, toLength length: Int, durability: Durability) async throws {
    try await base.truncate(path, toLength: length, durability: durability)
  }
  func remove(_ path: String) async throws { try await base.remove(path) }
  func acquireLock(_ name: String) async throws { try await base.acquireLock(name) }
  func releaseLock(_ name: String) async throws { try await base.releaseLock(name) }
  func writeBlob(_ path: String, _ content: Data) async throws { try await base.writeBlob(path, content) }
  func readBlob(_ path: String) async throws -> Data { try await base.readBlob(path) }
  func deleteBlob(_ path: String) async throws { try await base.deleteBlob(path) }
  func deleteBlobDir(_ prefix: String) async throws { try await base.deleteBlobDir(prefix) }
}

/// What an agent reads on open and on refresh, counted: each file once, and the manifest only
/// where it may have changed (under `.compact-lock`, and after the change token).
@Suite("Multi-writer agents: reads on open and refresh")
struct MultiWriterReadCountTests {
  @Test func openAndRefreshReadEachFileOnce() async throws {
    let disk = MemoryDisk()
    let location = "/store"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    try await a.set("a1", Note(text: "1"))
    let walA = try #require(try a.manifest().agentWAL("A"))
    let first = try await Store<Note>.open(
      location, agentId: "B", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    try await first.close()

    let counting = ReadCountingBackend(disk: disk)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = counting })
    // prepare (under the lock), Store.open, and loadAll after taking the change token.
    #expect(counting.reads(of: "manifest.json") == 3)
    #expect(counting.reads(of: walA) == 1)

    try await a.set("a2", Note(text: "2"))
    counting.reset()
    try await b.refresh()
    // The check that A did not cut what was merged, then the new lines.
    #expect(counting.reads(of: walA) == 2)
    #expect(counting.reads(of: "manifest.json") == 0)
    #expect(try b.get("a2") == Note(text: "2"))
    try await b.close()
    try await a.close()
  }

  @Test func aMalformedLastLineDoesNotMakeEveryRefreshAReload() async throws {
    let disk = MemoryDisk()
    let location = "/store"
    let writerBackend = MemoryBackend(disk: disk)
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions { $0.backend = writerBackend })
    try await a.set("a1", Note(text: "1"))
    let walA = try #require(try a.manifest().agentWAL("A"))
    // A complete line that is no operation, after A's last valid one: skipped by readers.
    try await writerBackend.append(walA, Array("not an operation\n".utf8), durability: .process)

    let counting = ReadCountingBackend(disk: disk)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = counting })
    #expect(try b.get("a1") == Note(text: "1"))
    counting.reset()
    for _ in 0..<3 { try await b.refresh() }
    // Each idle refresh checks A's last valid line where it is, then reads what follows
    // the lines it consumed: two reads. A wrong place would look like a cut and reload
    // everything, reading the manifest and every WAL from the start each time.
    #expect(counting.reads(of: "manifest.json") == 0)
    #expect(counting.reads(of: walA) == 6)
    try await a.set("a2", Note(text: "2"))
    try await b.refresh()
    #expect(try b.entries().map(\.id) == ["a1", "a2"])
    try await b.close()
    try await a.close()
  }

  @Test func aRetiredWALsMarkerIsReadToFindStrandedLinesAndAgainUnderTheLockToCarryThem() async throws {
    let disk = MemoryDisk()
    let location = "/store"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let crashed = MemoryBackend(disk: disk)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = crashed })
    try await b.set("before", Note(text: "1"))
    let oldWAL = try #require(try b.manifest().agentWAL("B"))
    try await a.compact()
    try await crashed.append(
      oldWAL,
      Array(
        (#"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"stranded","prev":null,"data":{"text":"s"},"agent":"B","clock":2}"#
          + "\n").utf8), durability: .process)

    let counting = ReadCountingBackend(disk: disk)
    let reopened = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = counting })
    #expect(try reopened.get("stranded") == Note(text: "s"))
    // Once to find the stranded line, once under .compact-lock (a compaction may have folded
    // it in meanwhile); the load after the rescue does not read this agent's markers.
    #expect(counting.reads(of: oldWAL + ".through") == 2)
    try await reopened.close()

    // Carried: the next open reads the marker once and finds nothing to do.
    let again = ReadCountingBackend(disk: disk)
    let third = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = again })
    #expect(again.reads(of: oldWAL + ".through") == 1)
    #expect(try third.operations().filter { $0.id == "stranded" }.count == 1)
    try await third.close()
    try await a.close()
  }
}
