import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogTypes
import Testing

@Suite("Agents and retainedGenerations")
struct AgentRetentionTests {
  /// Another agent may be loading any recent generation, and no lock says so: agents remove
  /// nothing, whatever retainedGenerations says (the torture of agent processes found a
  /// reload failing on a snapshot another agent's compaction had removed).
  @Test func agentsRemoveNoSupersededFiles() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    #expect(StoreOptions().retainedGenerations == 1)
    let agent = try await Store<Note>.open(location, agentId: "agent-A", options: agentOptions())
    let other = try await Store<Note>.open(location, agentId: "agent-B", options: agentOptions())
    for round in 0..<4 {
      try await agent.set("a\(round)", Note(text: "\(round)"))
      try await other.set("b\(round)", Note(text: "\(round)"))
      try await (round.isMultiple(of: 2) ? agent : other).compact()
    }
    let snapshots = try FileManager.default.contentsOfDirectory(atPath: location + "/snapshots")
    #expect(snapshots.count == 5, "\(snapshots)")
    try await other.refresh()
    #expect(try other.count() == 8)
    try await agent.close()
    try await other.close()
  }
}
