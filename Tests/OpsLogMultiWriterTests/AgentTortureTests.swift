import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The multi-process torture: N agent processes (`torture-agent`) write shared and own keys,
/// undo, refresh and compact at random from a seed, one of them compacting four times as
/// often; kill rounds SIGKILL the compacting agent while it holds `.compact-lock`, or an
/// agent right after a compaction retired its WAL. After they exit, a fresh read-only open
/// must hold every acknowledged write (see ``TortureCheck``), every surviving agent's view
/// must hold the same records, and a new agent's compaction must succeed and change nothing.
///
/// CI runs a short version. The full one (documented in the README, "Reliability"):
///
///     OPSLOG_AGENT_TORTURE_ROUNDS=20 swift test --filter AgentTorture
///
/// Also `OPSLOG_AGENT_TORTURE_SEED` (repeat a run), `OPSLOG_AGENT_TORTURE_STEPS` (per agent, default
/// 300), `OPSLOG_AGENT_TORTURE_AGENTS` (default 4). Each round prints one summary line.
@Suite("Multi-writer torture: agent processes", .serialized)
struct AgentTortureTests {
  static let environment = ProcessInfo.processInfo.environment
  static let rounds = environment["OPSLOG_AGENT_TORTURE_ROUNDS"].flatMap(Int.init) ?? 3
  static let steps = environment["OPSLOG_AGENT_TORTURE_STEPS"].flatMap(Int.init) ?? 300
  static let agents = max(2, environment["OPSLOG_AGENT_TORTURE_AGENTS"].flatMap(Int.init) ?? 4)
  static let seed = environment["OPSLOG_AGENT_TORTURE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1..<1 << 40)

  @Test func agentsLoseNoAcknowledgedWriteUnderLoadAndKills() async throws {
    print("torture: \(Self.rounds) rounds, \(Self.agents) agents x \(Self.steps) steps, seed \(Self.seed)")
    var failures = 0
    var kills = 0
    var stranded = 0
    var compactions = 0
    let started = ContinuousClock.now
    for round in 0..<Self.rounds {
      let kind = TortureRound.Kind.allCases[round % TortureRound.Kind.allCases.count]
      let roundSeed = Self.seed &+ UInt64(round) &* 1_000_003
      let result = try await TortureRound(
        kind: kind, seed: roundSeed, agents: Self.agents, steps: Self.steps
      ).run()
      print("torture round \(round + 1)/\(Self.rounds): \(result.summary)")
      for issue in result.issues {
        print("torture round \(round + 1) issue: \(issue)")
        Issue.record("round \(round + 1) (\(kind), seed \(roundSeed)): \(issue)")
      }
      if !result.issues.isEmpty { failures += 1 }
      if result.killed != nil { kills += 1 }
      stranded += result.strandedLines
      compactions += result.compactions
    }
    let elapsed = seconds(ContinuousClock.now - started)
    print(
      "torture: \(Self.rounds - failures)/\(Self.rounds) rounds passed, \(kills) kills landed, "
        + "\(compactions) compactions, \(stranded) stranded lines met, \(String(format: "%.1f", elapsed)) s")
  }
}

/// One agent process of a round, its output read as it comes.
final class TortureAgentProcess: Sendable {
  let agentId: String
  let process: Process
  private let input: Pipe
  private let output = OutputBuffer()

  /// What the child has printed, filled from the pipe's handler thread.
  final class OutputBuffer: Sendable {
    let bytes = Mutex<[UInt8]>([])
    /// Set when the pipe reached its end: every byte the child wrote is in ``bytes``. A
    /// child that has exited may still have output on its way through the pipe's handler.
    let isAtEnd = Mutex(false)

    /// Waits, up to `timeout`, for the pipe's end.
    func waitForEnd(timeout: Duration) async throws {
      let deadline = ContinuousClock.now + timeout
      while !isAtEnd.withLock({ $0 }) && ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(2))
      }
    }
  }

  init(location: String, agentId: String, seed: UInt64, steps: Int, compactWeight: Int) throws {
    self.agentId = agentId
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try HelperExecutable.path())
    process.arguments = [
      "torture-agent", location, agentId, "\(seed)", "\(steps)", "\(compactWeight)", "\(TortureRound.sharedKeys)",
      "\(TortureRound.ownKeys)",
    ]
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

  var pid: Int32 { process.processIdentifier }

  /// The complete lines printed so far.
  func lines() -> [Substring] {
    let text = output.bytes.withLock { String(decoding: $0, as: UTF8.self) }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    lines.removeLast()
    return lines
  }

  func lastLine() -> Substring? { lines().last }

  func tellToFinish() {
    input.fileHandleForWriting.write(Data("go\n".utf8))
  }

  func kill() {
    if process.isRunning { sendKill(pid) }
  }

  /// Waits for the process to exit (killing it after `timeout`) and for its last output.
  func wait(timeout: Duration) async throws -> Int32 {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning {
      if ContinuousClock.now > deadline {
        kill()
        process.waitUntilExit()
        throw LimitExceeded(what: "agent \(agentId)", limit: timeout)
      }
      try await Task.sleep(for: .milliseconds(5))
    }
    // The pipe's handler may still be delivering the last bytes.
    try await output.waitForEnd(timeout: .seconds(10))
    return process.terminationStatus
  }
}

/// SIGKILL: no chance to clean up, as in a crash.
private func sendKill(_ pid: pid_t) {
  _ = kill(pid, SIGKILL)
}

func seconds(_ duration: Duration) -> Double {
  Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// What a round found.
struct TortureResult {
  var issues: [String] = []
  var killed: String? = nil
  var compactions = 0
  var strandedLines = 0
  var summary = ""
}

struct TortureRound {
  enum Kind: String, CaseIterable, CustomStringConvertible {
    /// No kill: every agent runs to the end.
    case plain
    /// SIGKILL the compacting agent while `.compact-lock` holds its PID, in a compaction.
    case killCompactor = "kill-compactor"
    /// SIGKILL an agent as soon as a compaction has retired its WAL.
    case killAfterRetire = "kill-after-retire"
    var description: String { rawValue }
  }

  static let sharedKeys = 8
  static let ownKeys = 20

  var kind: Kind
  var seed: UInt64
  var agents: Int
  var steps: Int

  func run() async throws -> TortureResult {
    let location = temporaryLocation()
    var result = TortureResult()
    let started = ContinuousClock.now
    let ids = (0..<agents).map { "agent-\($0)" }
    var processes: [TortureAgentProcess] = []
    defer { for process in processes { process.kill() } }
    for (index, id) in ids.enumerated() {
      processes.append(
        try TortureAgentProcess(
          location: location, agentId: id, seed: seed &+ UInt64(index), steps: steps, compactWeight: index == 0 ? 4 : 1)
      )
    }
    // The victim: the compacting agent, or the first of the others.
    let victim = kind == .killCompactor ? processes[0] : processes[1]
    var victimWAL: String? = nil
    var finished: Set<String> = []
    while finished.count < processes.count {
      for process in processes where !finished.contains(process.agentId) {
        if !process.process.isRunning || process.lastLine() == "finished" { finished.insert(process.agentId) }
      }
      if kind != .plain, result.killed == nil, victim.process.isRunning {
        let lines = victim.lines()
        let progressed = lines.count > steps / 2  // begin and ack lines: past a quarter of its steps
        switch kind {
        case .killCompactor:
          if progressed, lines.last?.hasSuffix(" compact") == true,
            (try? readText(location + "/.compact-lock")) == "\(victim.pid)"
          {
            victim.kill()
            result.killed = "\(victim.agentId) holding .compact-lock in a compaction"
          }
        case .killAfterRetire:
          if let data = FileManager.default.contents(atPath: location + "/manifest.json"),
            let manifest = try? ManifestCodec.decode(Array(data))
          {
            let current = manifest.agentWAL(victim.agentId)
            if progressed, let known = victimWAL, current != known {
              victim.kill()
              result.killed = "\(victim.agentId) after a compaction retired \(known)"
            } else if let current {
              victimWAL = current
            }
          }
        case .plain: break
        }
      }
      if ContinuousClock.now - started > .seconds(300) {
        result.issues.append("the agents did not finish within 300 s")
        return result
      }
      try await Task.sleep(for: .milliseconds(1))
    }
    for process in processes where process.process.isRunning { process.tellToFinish() }
    var outputs: [String: [Substring]] = [:]
    var survivors: Set<String> = []
    for process in processes {
      let status = try await process.wait(timeout: .seconds(120))
      outputs[process.agentId] = process.lines()
      if process === victim && result.killed != nil { continue }
      if status != 0 {
        result.issues.append("\(process.agentId) exited with status \(status)")
      } else {
        survivors.insert(process.agentId)
      }
    }
    result.compactions = outputs.values.reduce(0) { $0 + $1.filter { $0.hasSuffix(" compact yes") }.count }
    result.strandedLines = try countStrandedLines(location)

    var check = TortureCheck(location: location)
    for id in ids { check.add(agent: id, lines: outputs[id] ?? [], killed: !survivors.contains(id)) }
    try await check.verify(survivors: survivors, into: &result.issues)

    let elapsed = seconds(ContinuousClock.now - started)
    result.summary =
      "\(kind), seed \(seed): \(result.compactions) compactions, "
      + (result.killed.map { "killed \($0)" } ?? (kind == .plain ? "no kill" : "the kill did not land"))
      + ", \(result.strandedLines) stranded lines, \(String(format: "%.1f", elapsed)) s: "
      + (result.issues.isEmpty ? "ok" : "\(result.issues.count) issues (store kept at \(location))")
    if result.issues.isEmpty {
      removeTemporaryLocation(location)
    } else {
      // What each agent printed, beside the store, to find what went wrong.
      for (agent, lines) in outputs {
        try? Data(lines.joined(separator: "\n").utf8).write(
          to: URL(fileURLWithPath: location + "/torture-\(agent).out"))
      }
    }
    return result
  }

  /// Lines after the `.through` marker of retired agent WALs: what the rule for stranded
  /// writes had to save.
  func countStrandedLines(_ location: String) throws -> Int {
    let manifest = try ManifestCodec.decode(
      Array(try Data(contentsOf: URL(fileURLWithPath: location + "/manifest.json"))))
    let registered = Set((manifest.activeAgentOps ?? []).map(\.path))
    var count = 0
    for name in try FileManager.default.contentsOfDirectory(atPath: location + "/ops")
    where name.hasSuffix(".jsonl") && !registered.contains("ops/" + name) {
      guard let marker = try? readText(location + "/ops/" + name + ".through"),
        let through = Int(marker.trimmingCharacters(in: .whitespacesAndNewlines))
      else { continue }
      let bytes = try Data(contentsOf: URL(fileURLWithPath: location + "/ops/" + name))
      if bytes.count > through { count += bytes[through...].filter { $0 == UInt8(ascii: "\n") }.count }
    }
    return count
  }
}

/// The checks after a round, from the agents' outputs and the files:
/// - own keys exactly: each agent's own keys are what its acknowledged sets, deletes and
///   undos leave (for a killed agent, with or without the step it was killed in);
/// - shared keys: each holds the value of an acknowledged write that was not undone (or of
///   a killed agent's last step), never an undone one, and is absent only when every write
///   to it was undone;
/// - the fresh read-only open equals Docs/FORMAT.md's merge of the files (snapshot, then every
///   registered WAL and the lines after retired WALs' markers, by clock then agent id);
/// - every surviving agent's last view holds the fresh open's records;
/// - a new agent's compaction succeeds and changes nothing.
struct TortureCheck {
  /// A write, named by the value it stored.
  struct Write: Hashable, CustomStringConvertible {
    var agent: String
    var step: Int
    var description: String { "\(agent)#\(step)" }
  }

  /// One agent's own keys as its acknowledged steps leave them.
  struct OwnModel {
    struct Done {
      var step: Int
      var key: String
      var previous: Write??
      var clock: String
    }
    var values: [String: Write] = [:]
    var stack: [Done] = []
  }

  var location: String
  var own: [String: [OwnModel]] = [:]
  var sharedWrites: [String: Set<Write>] = [:]
  var undone: Set<Write> = []
  var views: [String: [(String, Write)]] = [:]
  var modelIssues: [String] = []

  init(location: String) { self.location = location }

  mutating func add(agent: String, lines: [Substring], killed: Bool) {
    var model = OwnModel()
    var pending: [Substring]? = nil
    var view: [(String, Write)] = []
    func apply(_ model: inout OwnModel, kind: Substring, key: String?, step: Int, clock: String, shared: Bool) {
      switch kind {
      case "set":
        guard let key else { return }
        model.stack.append(.init(step: step, key: key, previous: shared ? nil : .some(model.values[key]), clock: clock))
        if !shared { model.values[key] = Write(agent: agent, step: step) }
      case "delete":
        guard let key else { return }
        model.stack.append(.init(step: step, key: key, previous: .some(model.values[key]), clock: clock))
        model.values[key] = nil
      case "undo":
        guard clock != "-", let top = model.stack.popLast() else { return }
        if top.clock != clock && clock != "?" {
          modelIssues.append("\(agent)'s undo took back clock \(clock), its last write has clock \(top.clock)")
        }
        if let previous = top.previous {
          model.values[top.key] = previous
        } else {
          undone.insert(Write(agent: agent, step: top.step))
        }
      default: break
      }
    }
    for line in lines {
      let fields = line.split(separator: " ")
      guard let first = fields.first else { continue }
      switch first {
      case "begin":
        pending = fields
      case "ack":
        pending = nil
        guard fields.count >= 3, let step = Int(fields[1]) else { continue }
        let kind = fields[2]
        let key = fields.count >= 4 && (kind == "set" || kind == "delete") ? String(fields[3]) : nil
        let clock = String(fields.last!)
        let shared = key?.hasPrefix("shared-") ?? false
        if kind == "set", let key, shared { sharedWrites[key, default: []].insert(Write(agent: agent, step: step)) }
        apply(&model, kind: kind, key: key, step: step, clock: clock, shared: shared)
      case "entry":
        if fields.count == 4, let step = Int(fields[3]) {
          view.append((String(fields[1]), Write(agent: String(fields[2]), step: step)))
        }
      default: break
      }
    }
    var models = [model]
    // A killed agent's last step may or may not have reached its WAL.
    if killed, let pending, pending.count >= 3, let step = Int(pending[1]) {
      let kind = pending[2]
      let key = pending.count >= 4 ? String(pending[3]) : nil
      var with = model
      let shared = key?.hasPrefix("shared-") ?? false
      if kind == "set", let key, shared { sharedWrites[key, default: []].insert(Write(agent: agent, step: step)) }
      let clock = kind == "undo" ? (model.stack.last?.clock ?? "-") : "?"
      apply(&with, kind: kind, key: key, step: step, clock: clock, shared: shared)
      models.append(with)
    }
    own[agent] = models
    if !killed { views[agent] = view }
  }

  func verify(survivors: Set<String>, into issues: inout [String]) async throws {
    issues += modelIssues
    let reader = try await Store<JSONValue>.open(
      location, agentId: "checker", options: agentOptions { $0.readOnly = true })
    let entries = try reader.entries()
    try await reader.close()
    func write(_ record: JSONValue) -> Write? {
      guard let agent = record["agent"]?.stringValue, let step = record["n"]?.intValue else { return nil }
      return Write(agent: agent, step: Int(step))
    }
    var fresh: [String: Write] = [:]
    for (id, record) in entries {
      guard let value = write(record) else {
        issues.append("record \(id) is not a torture write: \(record)")
        continue
      }
      fresh[id] = value
    }

    // Own keys exactly.
    for (agent, models) in own.sorted(by: { $0.key < $1.key }) {
      let seen = fresh.filter { $0.key.hasPrefix("own-\(agent)-") }
      if !models.contains(where: { $0.values == seen }) {
        let expected = models[0].values
        let missing = expected.filter { seen[$0.key] != $0.value }.map { "\($0.key)=\($0.value)" }.sorted()
        let extra = seen.filter { expected[$0.key] != $0.value }.map { "\($0.key)=\($0.value)" }.sorted()
        issues.append("\(agent)'s own keys differ: expected \(missing), found \(extra)")
      }
    }
    // Shared keys.
    for index in 0..<TortureRound.sharedKeys {
      let key = "shared-\(index)"
      let writes = sharedWrites[key] ?? []
      if let value = fresh[key] {
        if undone.contains(value) {
          issues.append("\(key) holds \(value), a write that was undone")
        } else if !writes.contains(value) {
          issues.append("\(key) holds \(value), which no agent acknowledged")
        }
      } else if !writes.subtracting(undone).isEmpty {
        issues.append(
          "\(key) is missing; acknowledged and not undone: \(writes.subtracting(undone).sorted { "\($0)" < "\($1)" })")
      }
    }
    // Docs/FORMAT.md's merge rule, computed from the files.
    let merge = try deterministicMerge(location)
    if merge.map(\.id) != entries.map(\.id) || merge.map(\.record) != entries.map(\.record) {
      issues.append("the fresh open differs from Docs/FORMAT.md's merge of the files")
    }
    // Every survivor's last view holds the same records. (Not necessarily in the same order:
    // an agent's records are in the order it first saw them, which for writes merged in
    // after its own ones differs from the merge order a fresh open replays.)
    for (agent, view) in views.sorted(by: { $0.key < $1.key }) where survivors.contains(agent) {
      let seen = Dictionary(view, uniquingKeysWith: { _, last in last })
      let differing = Set(seen.keys).union(fresh.keys).filter { seen[$0] != fresh[$0] }.sorted().map {
        "\($0): \(seen[$0].map { "\($0)" } ?? "absent") here, \(fresh[$0].map { "\($0)" } ?? "absent") fresh"
      }
      if !differing.isEmpty || seen.count != view.count {
        issues.append("\(agent)'s last view differs from a fresh open: " + differing.joined(separator: "; "))
      }
    }
    // A new agent compacts, and the store stays what it was.
    let finisher = try await Store<JSONValue>.open(location, agentId: "finisher", options: agentOptions())
    let before = try finisher.manifest().currentSnapshot
    for _ in 0..<20 where try finisher.manifest().currentSnapshot == before {
      try await finisher.compact()
      if try finisher.manifest().currentSnapshot == before { try await Task.sleep(for: .milliseconds(50)) }
    }
    if try finisher.manifest().currentSnapshot == before { issues.append("a new agent's compaction did not happen") }
    try await finisher.close()
    let after = try await Store<JSONValue>.open(
      location, agentId: "checker", options: agentOptions { $0.readOnly = true })
    if try after.entries().map(\.id) != entries.map(\.id) || after.entries().map(\.record) != entries.map(\.record) {
      issues.append("the new agent's compaction changed the store")
    }
    try await after.close()
  }
}
