import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

/// Docs/FORMAT.md, `.through` (new rule): lines after a retired WAL's marker were acknowledged to
/// their agent and are part of the store until they are carried into a registered WAL, even
/// if that agent never opens again. Every open applies them; the next compaction by any
/// agent folds them in.
@Suite("Multi-writer agents: writes stranded by a compaction")
struct StrandedWriteTests {
  /// A line B acknowledged after A's compaction had read B's WAL, B dying before it noticed.
  static func strandedLine(id: String, clock: Int, agent: String = "B") -> [UInt8] {
    Array(
      (#"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"\#(id)","prev":null,"data":{"text":"\#(id)"},"agent":"\#(agent)","clock":\#(clock)}"#
        + "\n").utf8)
  }

  struct Setup {
    var disk = MemoryDisk()
    var location = "/memory/stranded-\(UUID().uuidString)"
    var a: Store<Note>
    var oldWAL: String

    func open(_ agent: String, readOnly: Bool = false) async throws -> Store<Note> {
      try await Store<Note>.open(
        location, agentId: agent,
        options: agentOptions {
          $0.backend = MemoryBackend(disk: disk)
          $0.readOnly = readOnly
        })
    }
  }

  /// A and B write; A compacts (retiring B's WAL); B appends a line past the marker and dies.
  static func strand() async throws -> Setup {
    let disk = MemoryDisk()
    let location = "/memory/stranded-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let crashed = MemoryBackend(disk: disk)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = crashed })
    try await b.set("before", Note(text: "before"))
    try await a.set("a", Note(text: "a"))
    let oldWAL = try #require(try b.manifest().agentWAL("B"))
    try await a.compact()
    try await crashed.append(oldWAL, strandedLine(id: "stranded", clock: 2), durability: .process)
    crashed.simulateCrash()
    return Setup(disk: disk, location: location, a: a, oldWAL: oldWAL)
  }

  @Test func everyOpenAppliesLinesNoAgentCarried() async throws {
    let setup = try await Self.strand()
    let reader = try await setup.open("R", readOnly: true)
    #expect(try reader.entries().map(\.id) == ["a", "before", "stranded"])
    try await reader.close()
    let writer = try await setup.open("C")
    #expect(try writer.get("stranded") == Note(text: "stranded"))
    try await writer.close()
    try await setup.a.close()
  }

  @Test func theCompactorThatRetiredTheWALSeesLinesAppendedAfterItsMarker() async throws {
    let setup = try await Self.strand()
    try await setup.a.refresh()
    #expect(try setup.a.entries().map(\.id) == ["a", "before", "stranded"])
    try await setup.a.close()
  }

  @Test func theNextCompactionByAnyAgentFoldsThemIn() async throws {
    let setup = try await Self.strand()
    let c = try await setup.open("C")
    try await c.compact()
    let manifest = try c.manifest()
    #expect(manifest.stats.activeRecords == 3, "C's snapshot holds the stranded write")
    let marker = setup.disk.bytes(at: setup.location + "/" + setup.oldWAL + ".through").map {
      String(decoding: $0, as: UTF8.self)
    }
    let size = setup.disk.bytes(at: setup.location + "/" + setup.oldWAL)?.count
    #expect(marker?.trimmingCharacters(in: .whitespacesAndNewlines) == size.map(String.init), "folded in")
    try await c.close()
    // Folded once: neither a reader nor B, reopening, applies or carries it a second time.
    let reader = try await setup.open("R", readOnly: true)
    #expect(try reader.entries().map(\.id) == ["a", "before", "stranded"])
    #expect(try reader.operations().isEmpty, "no WAL line left to apply")
    try await reader.close()
    let b = try await setup.open("B")
    #expect(try b.operations().isEmpty, "nothing carried")
    #expect(try b.entries().map(\.id) == ["a", "before", "stranded"])
    try await b.close()
    try await setup.a.refresh()
    #expect(try setup.a.entries().map(\.id) == ["a", "before", "stranded"])
    try await setup.a.close()
  }

  @Test func theCompactorsOwnNextCompactionFoldsThemInWithoutARefresh() async throws {
    let setup = try await Self.strand()
    try await setup.a.compact()
    #expect(try setup.a.manifest().stats.activeRecords == 3)
    let reader = try await setup.open("R", readOnly: true)
    #expect(try reader.entries().map(\.id) == ["a", "before", "stranded"])
    #expect(try reader.operations().isEmpty)
    try await reader.close()
    try await setup.a.close()
  }

  @Test func strandedLinesMergeWithTheGenerationsWritesByClock() async throws {
    let setup = try await Self.strand()
    // The stranded line writes k at clock 9; in the same generation A writes k at clock 3
    // (A's clock did not see it): B's write wins, in every view.
    let crashed = MemoryBackend(disk: setup.disk)
    try await crashed.initialize(location: setup.location, readOnly: false)
    try await crashed.append(setup.oldWAL, Self.strandedLine(id: "k", clock: 9), durability: .process)
    try await crashed.shutdown()
    let reader = try await setup.open("R", readOnly: true)
    let writer = try await setup.open("D")
    try await writer.set("k", Note(text: "D's"))
    #expect(try writer.operations().last?.clock == 10, "D's clock starts past the stranded lines'")
    try await reader.refresh()
    #expect(try reader.get("k") == Note(text: "D's"))
    let fresh = try await setup.open("F", readOnly: true)
    #expect(try fresh.get("k") == Note(text: "D's"))
    #expect(try fresh.entries().map(\.id) == reader.entries().map(\.id))
    try await fresh.close()
    try await reader.close()
    try await writer.close()
    try await setup.a.close()
  }

  @Test func anAgentThatCarriesItsLinesAfterAnotherFoldedThemCarriesNothing() async throws {
    let disk = MemoryDisk()
    let location = "/memory/stranded-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let bBackend = MemoryBackend(disk: disk)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = bBackend })
    try await b.set("before", Note(text: "before"))
    let oldWAL = try #require(try b.manifest().agentWAL("B"))
    try await a.compact()
    // B's write raced A's compaction and landed after the marker; B has not noticed yet.
    try await bBackend.append(oldWAL, Self.strandedLine(id: "raced", clock: 2), durability: .process)
    let c = try await Store<Note>.open(
      location, agentId: "C", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    try await c.compact()  // folds "raced" in
    try await b.set("after", Note(text: "after"))  // B notices now: nothing left to carry
    #expect(try b.operations().map(\.id) == ["after"])
    try await c.refresh()
    try await a.refresh()
    for store in [a, b, c] { #expect(try store.entries().map(\.id) == ["before", "raced", "after"]) }
    for store in [a, b, c] { try await store.close() }
  }

  /// B's line L is stranded in its retired WAL; B (alive) then carries it into a new WAL and
  /// undoes it there. A store that applied L from the retired WAL, or reads it from there
  /// after the carry, must not keep it.
  @Test(arguments: [true, false])
  func aCarriedLineThatItsAgentUndoesLeavesEveryView(readBeforeTheCarry: Bool) async throws {
    let disk = MemoryDisk()
    let location = "/memory/stranded-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let bBackend = MemoryBackend(disk: disk)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = bBackend })
    try await b.set("before", Note(text: "before"))
    let oldWAL = try #require(try b.manifest().agentWAL("B"))
    try await a.compact()
    try await bBackend.append(oldWAL, Self.strandedLine(id: "taken-back", clock: 2), durability: .process)
    let reader = try await Store<Note>.open(
      location, agentId: "R",
      options: agentOptions {
        $0.readOnly = true; $0.backend = MemoryBackend(disk: disk)
      })
    #expect(try reader.get("taken-back") != nil, "stranded, so part of the store")
    if readBeforeTheCarry { try await a.refresh() }
    // B's undo finds its WAL retired, carries the line into a new WAL, and takes it back there.
    #expect(try await b.undo())
    #expect(try b.get("taken-back") == nil)
    try await reader.refresh()
    #expect(try reader.get("taken-back") == nil, "the reader forgot the retired copy")
    try await a.compact()
    #expect(try a.get("taken-back") == nil, "the compactor neither kept nor read the retired copy")
    let fresh = try await Store<Note>.open(
      location, agentId: "F",
      options: agentOptions {
        $0.readOnly = true; $0.backend = MemoryBackend(disk: disk)
      })
    #expect(try fresh.entries().map(\.id) == ["before"])
    for store in [a, b, reader, fresh] { try await store.close() }
  }

  /// A full load that finds this agent's WAL retired (here: after noticing that another agent
  /// took back lines it had merged) registers a new WAL and carries the stranded lines into it.
  @Test func aFullLoadThatFindsItsWALRetiredCarriesItsStrandedLines() async throws {
    let disk = MemoryDisk()
    let location = "/memory/stranded-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let bPause = CallPause()
    let bBackend = ForwardingBackend(MemoryBackend(disk: disk), before: bPause.hold)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions { $0.backend = bBackend })
    let c = try await Store<Note>.open(
      location, agentId: "C", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    try await b.set("b", Note(text: "b"))
    try await c.set("c1", Note(text: "c1"))
    try await b.refresh()
    let oldWAL = try #require(try b.manifest().agentWAL("B"))
    // C takes back what B merged; B's next refresh will see it and load everything again.
    #expect(try await c.undo())
    try await c.set("c2", Note(text: "a longer line in its place"))
    // Hold B's refresh after its look at the manifest token (unchanged), in its check of
    // C's last line, while A compacts and B's earlier write that raced the compaction lands
    // after the marker.
    let cWAL = try #require(try c.manifest().agentWAL("C"))
    bPause.pauseNext { if case .readRange(cWAL, _, _) = $0 { true } else { false } }
    let refresh = Task { try await b.refresh() }
    try await bPause.waitUntilPaused()
    try await Task.sleep(for: .milliseconds(20))
    try await a.compact()
    try await bBackend.inner.append(oldWAL, Self.strandedLine(id: "raced", clock: 5), durability: .process)
    bPause.resume()
    try await refresh.value
    try await b.refresh()
    #expect(try b.get("raced") == Note(text: "raced"), "B's own acknowledged write is in its view")
    #expect(try b.operations().contains { $0.id == "raced" }, "and in the WAL it appends to")
    try await a.refresh()
    #expect(try a.get("raced") == Note(text: "raced"))
    for store in [a, b, c] { try await store.close() }
  }
}
