import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTypes
import Testing

/// Agents in separate processes (the `agent-write` helper) writing one store at once.
@Suite("Multi-writer agents in several processes", .serialized)
struct ProcessTests {
  @Test(arguments: [2, 4])
  func concurrentAgentsConvergeOnTheDeterministicMerge(agents: Int) async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let count = 150
    // A reader follows the writers incrementally while they write.
    let ids = (0..<agents).map { "agent-\($0)" }
    let runs = try HelperRun.start(ids.map { ["agent-write", location, $0, "\(count)", "own-\($0)", "0"] })
    defer { for run in runs { run.stop() } }
    var follower: Store<JSONValue>? = nil
    for run in runs where run.process.isRunning {
      if follower == nil, FileManager.default.fileExists(atPath: location + "/manifest.json") {
        follower = try? await Store<JSONValue>.open(
          location, agentId: "follower", options: agentOptions { $0.readOnly = true })
      }
      try await follower?.refresh()
      try await Task.sleep(for: .milliseconds(5))
    }
    for run in runs {
      let (status, output) = try await run.finish()
      #expect(status == 0)
      #expect(output.hasPrefix("done "))
    }
    let merge = try deterministicMerge(location)
    #expect(merge.count > 5 * agents)
    for id in ids {
      let own = expectedOwnRecords(agent: id, prefix: "own-\(id)", count: count)
      let merged = asDictionary(merge).filter { $0.key.hasPrefix("own-\(id)-") }
      #expect(merged == own, "every write of \(id) is in the merge")
    }
    // Every agent, reopened, sees the merge, in its order.
    for id in ids {
      let store = try await Store<JSONValue>.open(location, agentId: id, options: agentOptions())
      try await store.refresh()
      let entries = try store.entries()
      #expect(entries.map(\.id) == merge.map(\.id))
      #expect(entries.map(\.record) == merge.map(\.record))
      try await store.close()
    }
    // The follower that refreshed incrementally holds the same values.
    let reader: Store<JSONValue>
    if let follower {
      reader = follower
    } else {
      reader = try await Store<JSONValue>.open(
        location, agentId: "follower", options: agentOptions { $0.readOnly = true })
    }
    try await reader.refresh()
    #expect(asDictionary(try reader.entries()) == asDictionary(merge))
    try await reader.close()
  }

  @Test func compactionByOneAgentWhileOthersWriteLosesNothing() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let count = 200
    let ids = ["agent-0", "agent-1", "agent-2"]
    let runs = try HelperRun.start(
      ids.enumerated().map { index, id in
        ["agent-write", location, id, "\(count)", "own-\(id)", index == 0 ? "20" : "0"]
      })
    defer { for run in runs { run.stop() } }
    for run in runs {
      let (status, _) = try await run.finish()
      #expect(status == 0)
    }
    let store = try await Store<JSONValue>.open(
      location, agentId: "checker", options: agentOptions { $0.readOnly = true })
    let view = asDictionary(try store.entries())
    for id in ids {
      let own = expectedOwnRecords(agent: id, prefix: "own-\(id)", count: count)
      #expect(view.filter { $0.key.hasPrefix("own-\(id)-") } == own, "nothing \(id) wrote was lost")
    }
    for i in 0..<5 { #expect(view["shared-\(i)"] != nil) }
    #expect(
      try FileManager.default.contentsOfDirectory(atPath: location + "/snapshots").count > 1, "a compaction happened")
    try await store.close()
  }
}
