import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import Testing

/// Issue 13: a full load reads the manifest first and the `.through` markers of retired WALs
/// after it. A marker that another agent moved in between (its carry of stranded lines into a
/// new WAL, or a compaction that folded them in) hid lines that the manifest read does not
/// account for: the load kept neither copy, and a refresh made after every write was
/// acknowledged showed a view older than the store (the agent torture's "last view differs
/// from a fresh open", seed 428836731789).
@Suite("Multi-writer agents: a load that races a carry or a fold")
struct LoadRaceTests {
  /// What moves B's marker while F's load is between its manifest and the markers.
  enum RacingChange: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// B, alive, notices the compaction and carries its stranded line into a new WAL.
    case carry
    /// Another agent compacts and folds the stranded line into its snapshot.
    case fold
    var testDescription: String { rawValue }
  }

  @Test(arguments: RacingChange.allCases)
  func aRefreshKeepsStrandedLinesWhoseMarkerMovesWhileItLoads(_ change: RacingChange) async throws {
    let disk = MemoryDisk()
    let location = "/memory/load-race-\(UUID().uuidString)"
    func open(_ agent: String, backend: any StorageBackend, readOnly: Bool = false) async throws -> Store<Note> {
      try await Store<Note>.open(
        location, agentId: agent,
        options: agentOptions {
          $0.backend = backend
          $0.readOnly = readOnly
        })
    }
    let a = try await open("A", backend: MemoryBackend(disk: disk))
    let bBackend = MemoryBackend(disk: disk)
    let b = try await open("B", backend: bBackend)
    let pause = CallPause()
    let pausing = ForwardingBackend(MemoryBackend(disk: disk), before: pause.hold)
    let f = try await open("F", backend: pausing)
    try await b.set("before", Note(text: "before"))
    try await f.set("f", Note(text: "f"))
    let oldWAL = try #require(try b.manifest().agentWAL("B"))
    // A retires B's and F's WALs; B's next write raced the compaction and landed after the
    // marker, so it is stranded: acknowledged, in no snapshot, part of the store.
    try await a.compact()
    try await bBackend.append(
      oldWAL, StrandedWriteTests.strandedLine(id: "stranded", clock: 2), durability: .process)

    // F's refresh finds its WAL retired, registers a new one and loads everything; it is held
    // where the load lists the retired WALs, after it read the manifest.
    pause.pauseNext { $0 == .list("ops") }
    let refresh = Task { try await f.refresh() }
    try await within(.seconds(30), "F's load reaching the retired WALs") { try await pause.waitUntilPaused() }
    let c: Store<Note>?
    switch change {
    case .carry:
      try await b.set("after", Note(text: "after"))
      c = nil
    case .fold:
      let compactor = try await open("C", backend: MemoryBackend(disk: disk))
      try await compactor.compact()
      c = compactor
    }
    pause.resume()
    try await within(.seconds(30), "F's refresh") { try await refresh.value }

    #expect(try f.get("stranded") == Note(text: "stranded"), "acknowledged before F's refresh began")
    let fresh = try await open("R", backend: MemoryBackend(disk: disk), readOnly: true)
    #expect(try f.entries().map(\.id).sorted() == fresh.entries().map(\.id).sorted())
    try await fresh.close()
    for store in [a, b, f] + (c.map { [$0] } ?? []) { try await store.close() }
  }
}
