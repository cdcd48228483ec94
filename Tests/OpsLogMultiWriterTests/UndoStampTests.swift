import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

/// Docs/API.md: undo takes back the undone operation's say in last-writer-wins. After an agent
/// takes a write back (undo, or a failed append rolled back), another agent's write to the
/// same key wins whatever its clock, in the undoing agent's view as in a fresh open.
@Suite("Multi-writer agents: an undone write no longer wins")
struct UndoStampTests {
  @Test func anUndoneWriteDoesNotOutrankALaterWriteWithALowerClock() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    for i in 0..<4 { try await a.set("y", Note(text: "y\(i)")) }
    try await a.set("k", Note(text: "A's"))  // clock 5
    #expect(try await a.undo())  // the last entry of A's journal: taken back in place
    try await b.set("k", Note(text: "B's"))  // clock 1: B has not seen A
    try await a.refresh()
    #expect(try a.get("k") == Note(text: "B's"), "the undone clock-5 write has no say any more")
    let fresh = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try fresh.get("k") == Note(text: "B's"))
    #expect(try a.entries().map(\.id) == fresh.entries().map(\.id))
    #expect(try a.entries().map(\.record) == fresh.entries().map(\.record))
    try await fresh.close()
    try await a.close()
    try await b.close()
  }

  @Test func anUndoneUpdateGivesTheSayBackToTheWriteItReplaced() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    try await b.set("k", Note(text: "B's first"))  // B clock 1
    try await a.refresh()
    try await a.set("k", Note(text: "A's"))  // A clock 2, over B's
    try await b.set("z", Note(text: "z"))  // B clock 2
    try await b.set("k", Note(text: "B's second"))  // B clock 3: later than A's 2
    #expect(try await a.undo())
    try await a.refresh()
    #expect(try a.get("k") == Note(text: "B's second"))
    let fresh = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try fresh.get("k") == Note(text: "B's second"))
    try await fresh.close()
    try await a.close()
    try await b.close()
  }

  @Test func aRolledBackWriteDoesNotOutrankALaterWriteWithALowerClock() async throws {
    let disk = MemoryDisk()
    let location = "/memory/undo-stamp-\(UUID().uuidString)"
    let a = try await Store<Note>.open(
      location, agentId: "A", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    let b = try await Store<Note>.open(
      location, agentId: "B", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    for i in 0..<4 { try await a.set("y", Note(text: "y\(i)")) }
    disk.failWrite(.diskFull)
    await #expect(throws: OpsLogError.self) { try await a.set("k", Note(text: "A's")) }  // clock 5, rolled back
    #expect(try a.get("k") == nil)
    try await b.set("k", Note(text: "B's"))  // clock 1
    try await a.refresh()
    #expect(try a.get("k") == Note(text: "B's"), "the rolled-back write has no say")
    try await a.close()
    try await b.close()
  }

  /// An undo that cuts lines off while another agent compacts, between that compaction's
  /// cut (which read them) and its switch: the lines would stay in its snapshot, and its
  /// `.through` marker would point into the line appended in their place.
  @Test func anUndoDuringAnotherAgentsCompactionTakesEffectEverywhereOrNowhere() async throws {
    let disk = MemoryDisk()
    let location = "/memory/undo-compaction-\(UUID().uuidString)"
    let pause = CallPause()
    let compactorBackend = ForwardingBackend(MemoryBackend(disk: disk), before: pause.hold)
    let a = try await Store<Note>.open(location, agentId: "A", options: agentOptions { $0.backend = compactorBackend })
    let b = try await Store<Note>.open(
      location, agentId: "B", options: agentOptions { $0.backend = MemoryBackend(disk: disk) })
    try await b.set("kept", Note(text: "kept"))
    try await b.set("undone", Note(text: "u"))

    // A's compaction has read B's WAL and is writing its snapshot.
    pause.pauseNext { if case .replace(let path) = $0 { path.hasPrefix("snapshots/") } else { false } }
    let compaction = Task { try await a.compact() }
    try await pause.waitUntilPaused()
    let undoAndWrite = Task { () -> Bool in
      let undone = try await b.undo()
      try await b.set("next", Note(text: "a longer record, written where the undone line was"))
      return undone
    }
    // B's undo waits for A's compaction (holding .compact-lock); without the lock it would
    // cut its line and write the next one now.
    try? await Task.sleep(for: .milliseconds(200))
    pause.resume()
    try await compaction.value
    let undone = try await undoAndWrite.value
    try await b.set("after", Note(text: "after"))
    try await a.refresh()
    try await b.refresh()
    let fresh = try await Store<Note>.open(
      location, agentId: "R",
      options: agentOptions {
        $0.readOnly = true; $0.backend = MemoryBackend(disk: disk)
      })
    for store in [a, b, fresh] {
      #expect(try store.get("undone") == (undone ? nil : Note(text: "u")), "the undo's outcome holds in every view")
      #expect(try store.get("next") != nil)
      #expect(try store.get("after") == Note(text: "after"))
      #expect(try store.get("kept") == Note(text: "kept"))
    }
    #expect(try a.entries().map(\.id) == fresh.entries().map(\.id))
    #expect(try b.entries().map(\.id) == fresh.entries().map(\.id))
    for store in [a, b, fresh] { try await store.close() }
  }
}
