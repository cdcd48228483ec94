import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTypes
import Testing

@Suite("Multi-writer agents")
struct MultiWriterTests {
  @Test func referenceFixtureOpensAsItsExpectedRecordsInOrder() async throws {
    let expected = try JSONValue(
      parsing: Array(try Data(contentsOf: fixturesDirectory.appendingPathComponent("multi-writer/expected.json"))))
    guard case .object(let records)? = expected["records"] else { Issue.record("no records"); return }
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    try FileManager.default.copyItem(
      at: fixturesDirectory.appendingPathComponent("multi-writer/store"), to: URL(fileURLWithPath: location))
    let before = try fileTree(location)

    let reader = try await Store<JSONValue>.open(
      location, agentId: "agent-C", options: agentOptions { $0.readOnly = true })
    let entries = try reader.entries()
    #expect(entries.map(\.id) == records.map(\.key))
    #expect(entries.map(\.record) == records.map(\.value))
    #expect(try reader.count() == expected["recordCount"]?.intValue.map(Int.init))
    try await reader.refresh()
    try await reader.close()
    #expect(try fileTree(location) == before, "a read-only agent wrote nothing")

    // A writing agent starts its clock at the largest one seen (agent-B's 15).
    let writer = try await Store<JSONValue>.open(location, agentId: "agent-C", options: agentOptions())
    #expect(try writer.entries().map(\.id) == records.map(\.key))
    try await writer.set("c", ["from": "C"])
    let last = try writer.operations().last
    #expect(last?.clock == 16)
    #expect(last?.agent == "agent-C")
    #expect(try writer.manifest().activeAgentOps?.map(\.agent).sorted() == ["agent-A", "agent-B", "agent-C"])
    try await writer.close()
  }

  @Test func clocksTickPerOperationAndMergeOnRefresh() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    for i in 0..<3 { try await a.set("a\(i)", Note(text: "\(i)")) }
    #expect(try a.operations().map(\.clock) == [1, 2, 3])
    #expect(try a.operations().map(\.agent) == ["A", "A", "A"])
    try await b.set("b", Note(text: "b"))
    #expect(try b.operations().last?.clock == 1, "B had not seen A's clocks yet")
    try await b.refresh()
    try await b.set("b2", Note(text: "b2"))
    #expect(try b.operations().last?.clock == 4, "the refresh merged A's clock 3")
    let line = try readText(location + "/" + (try b.manifest().agentWAL("B") ?? "")).split(separator: "\n").last ?? ""
    #expect(line.hasSuffix(#","agent":"B","clock":4}"#))
    try await a.close()
    try await b.close()
  }

  @Test func lastWriterWinsByClockThenAgentId() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "agent-A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "agent-B", options: agentOptions())
    // Same clock (1): the tie goes to the larger agent id.
    try await b.set("k", Note(text: "from B"))
    try await a.set("k", Note(text: "from A"))
    try await a.refresh()
    try await b.refresh()
    #expect(try a.get("k") == Note(text: "from B"))
    #expect(try b.get("k") == Note(text: "from B"))
    // A writes again after seeing B: its clock is now larger.
    try await a.set("k", Note(text: "A again"))
    try await a.delete("k")
    try await b.refresh()
    #expect(try b.get("k") == nil)
    #expect(try a.get("k") == nil)
    let reopened = try await Store<Note>.open(
      location, agentId: "agent-C", options: agentOptions { $0.readOnly = true })
    #expect(try reopened.get("k") == nil)
    try await reopened.close()
    try await a.close()
    try await b.close()
  }

  @Test func undoTakesBackOwnLastOperationAndRederivesItsKey() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    for i in 0..<4 { try await a.set("y", Note(text: "y\(i)")) }
    try await a.set("k", Note(text: "A's"))  // clock 5
    try await b.set("k", Note(text: "B's"))  // clock 1: B had not seen A
    try await b.set("z", Note(text: "B's z"))
    try await a.refresh()
    #expect(try a.get("k") == Note(text: "A's"), "B's clock-1 write loses to A's clock 5")
    let walPath = location + "/" + (try a.manifest().agentWAL("A") ?? "")
    let linesBefore = try readText(walPath).split(separator: "\n").count

    // A's last operation is followed by B's in A's journal: only key k is re-derived.
    #expect(try await a.undo())
    #expect(try a.get("k") == Note(text: "B's"), "with A's write gone, B's write wins")
    #expect(try a.get("z") == Note(text: "B's z"))
    #expect(try a.get("y") == Note(text: "y3"))
    #expect(try readText(walPath).split(separator: "\n").count == linesBefore - 1)
    #expect(try await a.undo())
    #expect(try a.get("y") == Note(text: "y2"))
    #expect(try await b.undo(), "B undoes its own z")
    #expect(try b.get("z") == nil)
    try await b.refresh()
    #expect(try b.get("y") == Note(text: "y2"))
    #expect(try b.get("k") == Note(text: "B's"))
    try await a.close()
    try await b.close()
  }

  @Test func refreshReadsOnlyWhatWasAppended() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    for i in 0..<3 { try await b.set("b\(i)", Note(text: "\(i)")) }
    #expect(try await a.tail().map(\.id) == ["b0", "b1", "b2"])
    #expect(try await a.tail().isEmpty)
    try await b.set("b3", Note(text: "3"))
    try await b.delete("b0")
    #expect(try await a.tail().map(\.id) == ["b3", "b0"])
    #expect(try a.entries().map(\.id) == ["b1", "b2", "b3"])
    // A line B is still writing is not consumed; it is read once complete.
    let path = location + "/" + (try b.manifest().agentWAL("B") ?? "")
    try appendRaw(#"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"half","prev":null,"#, to: path)
    #expect(try await a.tail().isEmpty)
    try appendRaw(#""data":{"text":"h"},"agent":"B","clock":99}"# + "\n", to: path)
    #expect(try await a.tail().map(\.id) == ["half"])
    try await a.close()
    try await b.close()
  }

  /// The log of a multi-writer store is every agent's WAL: streaming it gives every agent's
  /// operations in merge order, as opslog's `getWalOps` does, whichever agent streams it.
  @Test func walOperationsStreamsEveryAgentsWALInMergeOrder() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await a.set("a1", Note(text: "1"))
    _ = try await b.tail()
    try await b.set("b1", Note(text: "2"))
    _ = try await a.tail()
    try await a.set("a2", Note(text: "3"))
    let reader = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try reader.operations().map(\.id) == ["a1", "b1", "a2"])
    for store in [a, b, reader] {
      var streamed: [LogOperation<Note>] = []
      for try await operation in store.walOperations() { streamed.append(operation) }
      #expect(streamed.map(\.id) == ["a1", "b1", "a2"])
      #expect(streamed.map(\.clock) == [1, 2, 3])
      let since = streamed[0].timestamp
      var later: [String] = []
      for try await operation in store.walOperations(since: since) { later.append(operation.id) }
      #expect(later == streamed.filter { $0.timestamp > since }.map(\.id))
    }
    try await reader.close()
    try await a.close()
    try await b.close()
  }

  @Test func readOnlyAgentWritesNothing() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    try await a.set("x", Note(text: "x"))
    let before = try fileTree(location)
    let reader = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try reader.get("x") == Note(text: "x"))
    await #expect(throws: OpsLogError.self) { try await reader.set("y", Note(text: "y")) }
    try await a.set("z", Note(text: "z"))
    try await reader.refresh()
    #expect(try reader.get("z") == Note(text: "z"))
    await #expect(throws: OpsLogError.self) { try await reader.compact() }
    try await reader.close()
    #expect(!(try fileTree(location).keys.contains { $0.contains("agent-R") }))
    try await a.close()
    #expect(Set(try fileTree(location).keys) == Set(before.keys))
  }

  @Test(arguments: ["", ".", "..", "a/b", "a b", "é", "x\u{0}"])
  func invalidAgentIdsAreRefused(agentId: String) async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    await #expect(throws: OpsLogError.self) {
      _ = try await Store<Note>.open(location, agentId: agentId, options: agentOptions())
    }
    #expect(!FileManager.default.fileExists(atPath: location))
  }

  @Test func safeAgentIdsAreAccepted() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let store = try await Store<Note>.open(location, agentId: "Agent_1.x-2", options: agentOptions())
    try await store.set("k", Note(text: "k"))
    #expect(try store.manifest().agentWAL("Agent_1.x-2")?.hasPrefix("ops/agent-Agent_1.x-2-") == true)
    try await store.close()
  }

  @Test(arguments: [WriteMode.group, .async])
  func groupAndAsyncFallBackToImmediate(mode: WriteMode) async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let store = try await Store<Note>.open(
      location, agentId: "A",
      options: agentOptions {
        $0.writeMode = mode
        $0.groupCommitSize = 1000
        $0.groupCommitInterval = .seconds(3600)
      })
    try await store.set("k", Note(text: "k"))
    // Written when set returned, not buffered: another agent can merge it at once.
    let wal = try readText(location + "/" + (try store.manifest().agentWAL("A") ?? ""))
    #expect(wal.contains(#""id":"k""#))
    try await store.close()
  }

  @Test func compactionSkipsWhileAnotherAgentHoldsTheLockAndRecoversAStaleOne() async throws {
    let disk = MemoryDisk()
    let location = "/memory/multi-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let b = try await Store<Note>.open(
      location, agentId: "B", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    try await a.set("a", Note(text: "a"))
    try await b.set("b", Note(text: "b"))
    let snapshot = try a.manifest().currentSnapshot

    let holder = MemoryBackend(disk: disk)
    try await holder.initialize(location: location, readOnly: false)
    try await holder.acquireLock(".compact-lock")
    try await a.compact()
    #expect(try a.manifest().currentSnapshot == snapshot, "skipped: another agent holds .compact-lock")

    holder.simulateCrash()  // the holder died with the lock held
    try await a.compact()
    let compacted = try a.manifest()
    #expect(compacted.currentSnapshot != snapshot)
    #expect(compacted.activeAgentOps?.map(\.agent) == ["A"])
    #expect(compacted.stats.activeRecords == 2, "B's write is in A's snapshot")

    // B's WAL was retired: B registers a new one before its next write, and loses nothing.
    try await b.set("b2", Note(text: "b2"))
    #expect(try b.manifest().activeAgentOps?.map(\.agent).sorted() == ["A", "B"])
    try await a.refresh()
    #expect(try a.entries().map(\.id) == ["a", "b", "b2"])
    #expect(try b.entries().map(\.id) == ["a", "b", "b2"])
    try await a.close()
    try await b.close()
  }

  @Test func staleCompactLockFileOfADeadProcessIsTakenOver() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    try await a.set("a", Note(text: "a"))
    // A process that died holding the lock leaves its PID behind (the reference: forever).
    let dead = try HelperRun(["no-such-subcommand"])
    _ = try await dead.finish()
    try Data("\(dead.process.processIdentifier)".utf8).write(to: URL(fileURLWithPath: location + "/.compact-lock"))
    let snapshot = try a.manifest().currentSnapshot
    try await a.compact()
    #expect(try a.manifest().currentSnapshot != snapshot)
    try await a.close()
  }

  @Test func writeThatRacedACompactionIsCarriedIntoTheNewWAL() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("before", Note(text: "1"))
    let oldWAL = location + "/" + (try b.manifest().agentWAL("B") ?? "")
    try await a.compact()
    let lengthAtCompaction = try readText(oldWAL).utf8.count
    // B appended this after A's compaction had read B's WAL, before B noticed the switch:
    // the snapshot does not hold it, and B's WAL is no longer in the manifest.
    try appendRaw(
      #"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"raced","prev":null,"data":{"text":"r"},"agent":"B","clock":2}"#
        + "\n", to: oldWAL)
    #expect(
      try readText(oldWAL + ".through").trimmingCharacters(in: .whitespacesAndNewlines) == "\(lengthAtCompaction)")
    try await b.set("after", Note(text: "3"))
    try await a.refresh()
    let expected = ["before", "raced", "after"]
    #expect(try a.entries().map(\.id) == expected)
    #expect(try b.entries().map(\.id) == expected)
    let fresh = try await Store<Note>.open(location, agentId: "C", options: agentOptions { $0.readOnly = true })
    #expect(try fresh.entries().map(\.id) == expected)
    try await fresh.close()
    try await a.close()
    try await b.close()
  }

  @Test func writesAndUndoAfterAnotherAgentsCompactionReloadedTheState() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("one", Note(text: "1"))
    try await b.set("two", Note(text: "2"))
    try await a.compact()
    // B's WAL was retired: this write first reloads B's state from the new snapshot, and
    // its operation must still be the one that B's undo takes back.
    try await b.set("three", Note(text: "3"))
    try await b.set("four", Note(text: "4"))
    #expect(try await b.undo())
    #expect(try b.entries().map(\.id) == ["one", "two", "three"])
    try await b.set("five", Note(text: "5"))
    try await a.refresh()
    #expect(try a.entries().map(\.id) == ["one", "two", "three", "five"])
    try await a.close()
    try await b.close()
    let fresh = try await Store<Note>.open(location, agentId: "C", options: agentOptions { $0.readOnly = true })
    #expect(try fresh.entries().map(\.id) == ["one", "two", "three", "five"])
    try await fresh.close()
  }
}

@Suite("Multi-writer agents: undo seen by others, crash recovery")
struct MultiWriterRecoveryTests {
  @Test func refreshNoticesAnotherAgentUndoingWhatWasMerged() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("k", Note(text: "1"))
    try await a.refresh()
    #expect(try a.get("k") == Note(text: "1"))
    // B takes k back and writes a line of the same length in its place.
    #expect(try await b.undo())
    try await b.set("j", Note(text: "1"))
    try await a.refresh()
    #expect(try a.get("k") == nil)
    #expect(try a.get("j") == Note(text: "1"))
    try await a.close()
    try await b.close()
  }

  @Test func linesStrandedByACrashAfterACompactionAreRescuedOnReopen() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("before", Note(text: "1"))
    let oldWAL = location + "/" + (try b.manifest().agentWAL("B") ?? "")
    try await a.compact()
    // B wrote after A's compaction read its WAL, then crashed before noticing the switch.
    try appendRaw(
      #"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"stranded","prev":null,"data":{"text":"s"},"agent":"B","clock":2}"#
        + "\n", to: oldWAL)
    let reopened = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    #expect(try reopened.get("stranded") == Note(text: "s"))
    try await a.refresh()
    #expect(try a.entries().map(\.id) == ["before", "stranded"])
    try await reopened.close()
    // Rescued once: a second reopen does not carry the line again.
    let again = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    #expect(try again.operations().filter { $0.id == "stranded" }.count == 1)
    try await again.close()
    try await a.close()
  }
}

extension MultiWriterRecoveryTests {
  @Test func linesStrandedAfterTheLastWriteAreCarriedOnClose() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("before", Note(text: "1"))
    let oldWAL = location + "/" + (try b.manifest().agentWAL("B") ?? "")
    try await a.compact()
    // B appended this after A's compaction had read its WAL, and writes nothing more: its
    // close is the last chance to carry the line out of the retired WAL.
    try appendRaw(
      #"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"raced","prev":null,"data":{"text":"r"},"agent":"B","clock":2}"#
        + "\n", to: oldWAL)
    try await b.close()
    #expect(
      try readText(oldWAL + ".through").trimmingCharacters(in: .whitespacesAndNewlines)
        == "\(try readText(oldWAL).utf8.count)")
    try await a.refresh()
    #expect(try a.entries().map(\.id) == ["before", "raced"])
    try await a.close()
  }
}

@Suite("Multi-writer agents: watch")
struct MultiWriterWatchTests {
  @Test func watchYieldsAnotherAgentsNewOperations() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    let stream = a.watch(interval: .milliseconds(20))
    try await b.set("w", Note(text: "watched"))
    var iterator = stream.makeAsyncIterator()
    let batch = try await iterator.next()
    #expect(batch?.map(\.id) == ["w"])
    #expect(batch?.first?.agent == "B")
    #expect(try a.get("w") == Note(text: "watched"))
    try await a.close()
    try await b.close()
  }
}
