import Foundation
import OpsLogCodec
import OpsLogMultiWriter
import OpsLogTestSupport
import Testing

@testable import OpsLogEngine

/// Agents in one process (several stores on one directory) writing, undoing, refreshing and
/// compacting at random from a seed: after each agent's refresh, its state equals a fresh
/// read-only open, and what its change feed delivered rebuilds that state.
@Suite("Agents: feeds and refreshes never diverge")
struct AgentFeedPropertyTests {
  static func apply(_ changes: [StoreChange<Note>], to model: inout [String: Note]?) {
    for change in changes {
      switch change {
      case .applied(let operations):
        for operation in operations { model?[operation.id] = operation.data }
      case .undone(let operations):
        for operation in operations {
          if case .record(let previous) = operation.previous {
            model?[operation.id] = previous
          } else {
            model?[operation.id] = nil
          }
        }
      case .reloaded:
        model = nil
      }
    }
  }

  @Test(arguments: Array(UInt64(1)...UInt64(8)))
  func agentsInOneProcessAgreeWithAFreshOpen(seed: UInt64) async throws {
    var generator = TortureRandom(seed: seed)
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let names = ["agent-a", "agent-b", "agent-c"]
    var agents: [Store<Note>] = []
    for name in names { agents.append(try await Store<Note>.open(location, agentId: name, options: agentOptions())) }
    let feeds = agents.map { $0.subscribeToChanges() }
    var models: [[String: Note]?] = try agents.map { agent in
      Dictionary(uniqueKeysWithValues: try agent.entries().map { ($0.id, $0.record) })
    }
    for step in 0..<80 {
      let which = Int.random(in: 0..<agents.count, using: &generator)
      let agent = agents[which]
      switch Int.random(in: 0..<100, using: &generator) {
      case 0..<45:
        let key =
          Bool.random(using: &generator)
          ? "shared-\(Int.random(in: 0..<4, using: &generator))" : "\(names[which])-\(step % 5)"
        try await agent.set(key, Note(text: "\(names[which]) step \(step)"))
      case 45..<55:
        if let id = try agent.entries().map(\.id).filter({ $0.hasPrefix(names[which]) }).randomElement(
          using: &generator)
        {
          try await agent.delete(id)
        }
      case 55..<70:
        try await agent.undo()
      case 70..<80:
        try await agent.compact()
      default:
        try await agent.refresh()
        let reader = try await Store<Note>.open(
          location, agentId: "reader", options: agentOptions { $0.readOnly = true })
        let expected = try reader.entries().map { "\($0.id)=\($0.record.text)" }.sorted()
        try await reader.close()
        let actual = try agent.entries().map { "\($0.id)=\($0.record.text)" }.sorted()
        #expect(actual == expected, "seed \(seed), step \(step), \(names[which])")
        if actual != expected { return }
      }
      var model = models[which]
      Self.apply(feeds[which].takeQueued(), to: &model)
      let state = Dictionary(uniqueKeysWithValues: try agent.entries().map { ($0.id, $0.record) })
      if let model { #expect(model == state, "seed \(seed), step \(step), feed of \(names[which])") }
      models[which] = state
    }
    for agent in agents { try await agent.close() }
  }
}
