import Foundation
import OpsLogCodec
import OpsLogMultiWriter
import OpsLogTestSupport
import Synchronization
import Testing

@_spi(Testing) @testable import OpsLogEngine

/// Agents writing, undoing, refreshing and compacting at random from a seed, in one process
/// (several stores on one directory) and in separate processes (`feed-agent`, the test
/// helper): after each agent's refresh, its state equals a fresh read-only open, and what its
/// change feed delivered, applied to its state before each step, gives its state after.
///
/// CI runs a few seeds; more with `OPSLOG_AGENT_FEED_SEEDS=<n>` (in one process, default 8)
/// and `OPSLOG_AGENT_FEED_PROCESS_SEEDS=<n>` (separate processes, default 3).
@Suite("Agents: feeds and refreshes never diverge")
struct AgentFeedPropertyTests {
  static let environment = ProcessInfo.processInfo.environment
  static let seeds = environment["OPSLOG_AGENT_FEED_SEEDS"].flatMap { UInt64($0) } ?? 8
  static let processSeeds = environment["OPSLOG_AGENT_FEED_PROCESS_SEEDS"].flatMap { UInt64($0) } ?? 3

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

  @Test(arguments: Array(1...max(1, AgentFeedPropertyTests.seeds)))
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

  /// The same in separate processes, each agent a `feed-agent` child stepped by this test:
  /// one step at a time, or now and then a step for every agent at once (writes, undos and
  /// compactions racing in different processes). The children check their own feeds; this
  /// test compares each refreshed agent's state with a fresh read-only open of its own.
  @Test(arguments: Array(1...max(1, AgentFeedPropertyTests.processSeeds)))
  func agentsInSeparateProcessesAgreeWithAFreshOpen(seed: UInt64) async throws {
    var generator = TortureRandom(seed: seed &+ 1_000)
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let names = ["agent-a", "agent-b", "agent-c"]
    var agents: [FeedAgentProcess] = []
    defer { for agent in agents { agent.kill() } }
    for name in names {
      // One at a time: the first creates the store, the others find it.
      let agent = try FeedAgentProcess(location: location, agentId: name)
      agents.append(agent)
      _ = try await agent.waitForLine("ready")
    }
    func randomStep(for which: Int, step: Int, generator: inout TortureRandom) -> String {
      switch Int.random(in: 0..<100, using: &generator) {
      case 0..<50:
        let key =
          Bool.random(using: &generator)
          ? "shared-\(Int.random(in: 0..<4, using: &generator))" : "own-\(names[which])-\(step % 5)"
        return "set \(key) \(names[which])-step-\(step)"
      case 50..<62: return "delete-own \(Int.random(in: 0..<5, using: &generator))"
      case 62..<82: return "undo"
      default: return "compact"
      }
    }
    var refreshes = 0
    for step in 0..<60 {
      let roll = Int.random(in: 0..<100, using: &generator)
      if roll < 15 {
        // Every agent at once; no refresh among them, so that nothing is compared while
        // another process writes.
        let steps = agents.indices.map { randomStep(for: $0, step: step, generator: &generator) }
        for (agent, line) in zip(agents, steps) { try agent.send(line) }
        for (agent, line) in zip(agents, steps) {
          let reply = try await agent.reply()
          #expect(reply.feed == "feed ok", "seed \(seed), step \(step), \(agent.agentId) after \(line)")
        }
        continue
      }
      let which = Int.random(in: 0..<agents.count, using: &generator)
      let agent = agents[which]
      let line = roll < 40 ? "refresh" : randomStep(for: which, step: step, generator: &generator)
      try agent.send(line)
      let reply = try await agent.reply()
      #expect(reply.feed == "feed ok", "seed \(seed), step \(step), \(agent.agentId) after \(line)")
      guard line == "refresh" else { continue }
      refreshes += 1
      let reader = try await Store<Note>.open(location, agentId: "reader", options: agentOptions { $0.readOnly = true })
      let expected = try reader.entries().map { "\($0.id)=\($0.record.text)" }.sorted()
      try await reader.close()
      let actual = reply.entries.map { "\($0.id)=\($0.text)" }.sorted()
      #expect(actual == expected, "seed \(seed), step \(step), \(agent.agentId) after a refresh")
      if actual != expected { return }
    }
    for agent in agents {
      try agent.send("quit")
      _ = try await agent.waitForLine("closed")
      #expect(try await agent.wait(timeout: .seconds(30)) == 0, "\(agent.agentId) exit status")
    }
    #expect(refreshes > 0, "seed \(seed): no refresh was compared")
  }
}

/// One `feed-agent` child process, stepped through its stdin, its replies read as they come.
final class FeedAgentProcess: Sendable {
  /// What the child prints after a step.
  struct Reply {
    /// `feed ok`, or `feed mismatch …`.
    var feed: String
    var entries: [(id: String, text: String)]
  }

  let agentId: String
  let process: Process
  private let input: Pipe
  private let output = TortureAgentProcess.OutputBuffer()
  /// How many of the child's lines the test has read.
  private let consumed = Mutex(0)

  init(location: String, agentId: String) throws {
    self.agentId = agentId
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try HelperExecutable.path())
    process.arguments = ["feed-agent", location, agentId]
    let outputPipe = Pipe()
    input = Pipe()
    process.standardOutput = outputPipe
    process.standardInput = input
    process.standardError = FileHandle.standardError
    let output = output
    outputPipe.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      if data.isEmpty {
        handle.readabilityHandler = nil
        output.isAtEnd.withLock { $0 = true }
      } else {
        output.bytes.withLock { $0.append(contentsOf: data) }
      }
    }
    try process.run()
    self.process = process
  }

  func send(_ line: String) throws {
    try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
  }

  /// The next line the child prints, waiting up to `timeout` for it.
  func nextLine(timeout: Duration = .seconds(60)) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while true {
      // Read before the bytes: once the pipe is at its end, the bytes read next are all the
      // child wrote.
      let pipeEnded = output.isAtEnd.withLock { $0 }
      let text = output.bytes.withLock { String(decoding: $0, as: UTF8.self) }
      var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      lines.removeLast()
      let line: String? = consumed.withLock { consumed in
        guard consumed < lines.count else { return nil }
        defer { consumed += 1 }
        return String(lines[consumed])
      }
      if let line { return line }
      // An exited child's last lines may still be in the pipe: it has ended before replying
      // only once the pipe is at its end and no line is left (a full run once saw `closed`
      // arrive after the exit, reported as "exited with status 0 before replying").
      if pipeEnded && !process.isRunning {
        throw FeedAgentEnded(agentId: agentId, status: process.terminationStatus)
      }
      if ContinuousClock.now > deadline { throw LimitExceeded(what: "a reply of \(agentId)", limit: timeout) }
      try await Task.sleep(for: .milliseconds(2))
    }
  }

  /// Reads lines until `expected`.
  func waitForLine(_ expected: String) async throws -> [String] {
    var before: [String] = []
    while true {
      let line = try await nextLine()
      if line == expected { return before }
      before.append(line)
    }
  }

  /// The reply to the step just sent.
  func reply() async throws -> Reply {
    let lines = try await waitForLine("end")
    var reply = Reply(feed: lines.first ?? "", entries: [])
    for line in lines.dropFirst() {
      let words = line.split(separator: " ", maxSplits: 2).map(String.init)
      if words.count == 3 && words[0] == "entry" { reply.entries.append((words[1], words[2])) }
    }
    return reply
  }

  func kill() {
    if process.isRunning { process.terminate() }
  }

  /// Waits for the child to exit and returns its status.
  func wait(timeout: Duration) async throws -> Int32 {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
      if ContinuousClock.now > deadline {
        kill()
        throw LimitExceeded(what: "agent \(agentId) to exit", limit: timeout)
      }
      try await Task.sleep(for: .milliseconds(5))
    }
    return process.terminationStatus
  }
}

struct FeedAgentEnded: Error, CustomStringConvertible {
  var agentId: String
  var status: Int32
  var description: String { "feed agent \(agentId) exited with status \(status) before replying" }
}
