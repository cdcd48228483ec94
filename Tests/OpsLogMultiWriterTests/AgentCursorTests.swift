import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTypes
import Testing

/// Agents follow one another with the cursor a single writer's follower keeps
/// (``FollowCursor``), so the same files give the same answer: what the cursor cannot account
/// for reloads from the current snapshot, never a guess.
@Suite("Multi-writer agents: the follower's cursor")
struct AgentCursorTests {
  @Test func aFollowedWALThatIsGoneReloadsInsteadOfKeepingItsLines() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let writer = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    try await writer.set("a", Note(text: "1"))
    try await writer.set("b", Note(text: "2"))
    let reader = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try reader.entries().map(\.id) == ["a", "b"])
    let wal = try #require(try writer.manifest().agentWAL("A"))
    try await writer.set("c", Note(text: "3"))
    // The file goes (damage, or a hand's clean-up), the manifest still names it.
    try FileManager.default.removeItem(atPath: location + "/" + wal)
    try await reader.refresh()
    let fresh = try await Store<Note>.open(location, agentId: "F", options: agentOptions { $0.readOnly = true })
    #expect(try reader.entries().map(\.id) == fresh.entries().map(\.id), "the follower equals a fresh open")
    #expect(try reader.entries().isEmpty, "the lines of a WAL that is gone are no longer the state")
    try await fresh.close()
    try await reader.close()
    try await writer.close()
  }

  @Test func anUndoneLineWrittenAgainWithTheSameLengthReloads() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let writer = try await Store<Note>.open(location, agentId: "A", options: agentOptions())
    try await writer.set("a", Note(text: "1"))
    try await writer.set("b", Note(text: "2"))
    let reader = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try await writer.undo())
    try await writer.set("x", Note(text: "9"))  // the same length as b's line: the WAL did not shrink
    try await reader.refresh()
    #expect(try reader.entries().map(\.id) == ["a", "x"], "b taken back, x applied")
    try await reader.close()
    try await writer.close()
  }
}
