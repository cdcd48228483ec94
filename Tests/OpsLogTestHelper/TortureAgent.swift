// The agent of the multi-process torture (OpsLogMultiWriterTests, AgentTortureTests): one of
// several processes writing one store as multi-writer agents, choosing each step from a seed.
//
// torture-agent <location> <agentId> <seed> <steps> <compactWeight> <sharedKeys> <ownKeys>
//
// Each step is one of: set a shared key (every agent writes shared-0..), set or delete one of
// its own keys (own-<agentId>-0..), undo, refresh, compact (compactWeight times as likely as
// for a weight of 1). Every record is {"agent": <agentId>, "n": <step>}, so a value names the
// write that made it. Protocol on stdout, one line each, flushed at once:
//
//   begin <step> <set|delete|undo|refresh|compact> [<key>]   before the step
//   ack <step> set <key> <clock>                             the write is acknowledged
//   ack <step> delete <key> <clock>
//   ack <step> undo <clock of the undone operation | ->      `-`: nothing to undo
//   ack <step> refresh
//   ack <step> compact <yes|no>                              whether it compacted
//   finished                                                 every step is done
//
// Then it waits for a line on stdin (the parent sends one once every agent has finished),
// refreshes, prints its view and closes:
//
//   entry <id> <agent> <step>   one per record, in the store's order
//   view-end
//   closed

import Foundation
import OpsLog

/// A small, fast generator with a 64-bit state (SplitMix64): the same seed gives the same
/// steps on every platform.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

enum TortureStep: CaseIterable {
  case setShared, setOwn, deleteOwn, undo, refresh, compact

  /// How likely each step is, out of the sum of the weights.
  func weight(compactWeight: Int) -> Int {
    switch self {
    case .setShared: 28
    case .setOwn: 28
    case .deleteOwn: 10
    case .undo: 8
    case .refresh: 10
    case .compact: 3 * compactWeight
    }
  }
}

func runTortureAgent(_ arguments: [String]) async {
  guard arguments.count == 9, let seed = UInt64(arguments[4]), let steps = Int(arguments[5]),
    let compactWeight = Int(arguments[6]), let sharedKeys = Int(arguments[7]), let ownKeys = Int(arguments[8])
  else {
    fail(
      "usage: torture-agent <location> <agentId> <seed> <steps> <compactWeight> <sharedKeys> <ownKeys>", code: 2)
  }
  let location = arguments[2]
  let agentId = arguments[3]
  var random = SplitMix64(seed: seed)
  var options = StoreOptions()
  options.checkpointOnClose = false
  options.checkpointThreshold = 1_000_000
  let weights = TortureStep.allCases.map { $0.weight(compactWeight: compactWeight) }
  do {
    let store = try await Store<JSONValue>.open(location, agentId: agentId, options: options)
    func ownClock() throws -> String {
      try store.operations().last { $0.agent == agentId }?.clock.map(String.init) ?? "?"
    }
    for step in 0..<steps {
      var pick = Int.random(in: 0..<weights.reduce(0, +), using: &random)
      var kind = TortureStep.setShared
      for (candidate, weight) in zip(TortureStep.allCases, weights) {
        if pick < weight {
          kind = candidate
          break
        }
        pick -= weight
      }
      let value = JSONValue.object(["agent": .string(agentId), "n": .int(Int64(step))])
      let ownKey = "own-\(agentId)-\(Int.random(in: 0..<ownKeys, using: &random))"
      if kind == .deleteOwn, try !store.has(ownKey) { kind = .setOwn }
      switch kind {
      case .setShared, .setOwn:
        let key = kind == .setShared ? "shared-\(Int.random(in: 0..<sharedKeys, using: &random))" : ownKey
        say("begin \(step) set \(key)")
        try await store.set(key, value)
        say("ack \(step) set \(key) \(try ownClock())")
      case .deleteOwn:
        say("begin \(step) delete \(ownKey)")
        try await store.delete(ownKey)
        say("ack \(step) delete \(ownKey) \(try ownClock())")
      case .undo:
        say("begin \(step) undo")
        let target = try ownClock()
        let undone = try await store.undo()
        say("ack \(step) undo \(undone ? target : "-")")
      case .refresh:
        say("begin \(step) refresh")
        try await store.refresh()
        say("ack \(step) refresh")
      case .compact:
        say("begin \(step) compact")
        let before = try store.manifest().currentSnapshot
        try await store.compact()
        say("ack \(step) compact \(try store.manifest().currentSnapshot != before ? "yes" : "no")")
      }
      // Now and then a pause, so that the processes interleave in more ways than the
      // scheduler alone makes them.
      if Int.random(in: 0..<5, using: &random) == 0 {
        try await Task.sleep(for: .microseconds(Int.random(in: 0..<2_000, using: &random)))
      }
    }
    say("finished")
    _ = readLine()
    try await store.refresh()
    for (id, record) in try store.entries() {
      say("entry \(id) \(record["agent"]?.stringValue ?? "?") \(record["n"]?.intValue.map(String.init) ?? "?")")
    }
    say("view-end")
    try await store.close()
    say("closed")
  } catch {
    fail("error \(error)", code: 4)
  }
}
