import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import Synchronization
import Testing

/// Counts the reads a backend serves, by path: ``count(_:)`` is a `ForwardingBackend`'s
/// `before` hook.
final class ReadCounter: Sendable {
  private let counts = Mutex<[String: Int]>([:])

  /// The reads of `path` (whole or ranged) since the last reset.
  func reads(of path: String) -> Int { counts.withLock { $0[path, default: 0] } }
  func reset() { counts.withLock { $0 = [:] } }

  func count(_ call: ForwardingBackend.Call) {
    switch call {
    case .read(let path), .readRange(let path, _, _): counts.withLock { $0[path, default: 0] += 1 }
    default: return
    }
  }
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

    let counter = ReadCounter()
    let counting = ForwardingBackend(MemoryBackend(disk: disk), before: counter.count)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = counting })
    // prepare (under the lock), Store.open, and loadAll after taking the change token.
    #expect(counter.reads(of: "manifest.json") == 3)
    #expect(counter.reads(of: walA) == 1)

    try await a.set("a2", Note(text: "2"))
    counter.reset()
    try await b.refresh()
    // The check that A did not cut what was merged, then the new lines.
    #expect(counter.reads(of: walA) == 2)
    #expect(counter.reads(of: "manifest.json") == 0)
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

    let counter = ReadCounter()
    let counting = ForwardingBackend(MemoryBackend(disk: disk), before: counter.count)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = counting })
    #expect(try b.get("a1") == Note(text: "1"))
    counter.reset()
    for _ in 0..<3 { try await b.refresh() }
    // Each idle refresh checks A's last valid line where it is, then reads what follows
    // the lines it consumed: two reads. A wrong place would look like a cut and reload
    // everything, reading the manifest and every WAL from the start each time.
    #expect(counter.reads(of: "manifest.json") == 0)
    #expect(counter.reads(of: walA) == 6)
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

    let counter = ReadCounter()
    let counting = ForwardingBackend(MemoryBackend(disk: disk), before: counter.count)
    let reopened = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = counting })
    #expect(try reopened.get("stranded") == Note(text: "s"))
    // Once to find the stranded line, once under .compact-lock (a compaction may have folded
    // it in meanwhile); the load after the rescue does not read this agent's markers.
    #expect(counter.reads(of: oldWAL + ".through") == 2)
    try await reopened.close()

    // Carried: the next open reads the marker once and finds nothing to do.
    let again = ReadCounter()
    let third = try await Store<Note>.open(
      location, agentId: "B",
      options: agentOptions { $0.backend = ForwardingBackend(MemoryBackend(disk: disk), before: again.count) })
    #expect(again.reads(of: oldWAL + ".through") == 1)
    #expect(try third.operations().filter { $0.id == "stranded" }.count == 1)
    try await third.close()
    try await a.close()
  }
}
