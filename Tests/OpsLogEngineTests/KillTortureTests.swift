import Foundation
import OpsLogEngine
import OpsLogTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Kill -9 torture: a child process (`OpsLogTorture`) makes random calls on a store and is
/// killed with SIGKILL at a random moment; the store is reopened here and must hold what the
/// write mode promises, computed from the lines the child printed before each call and after
/// it returned:
/// - `.immediate`: every acknowledged operation, plus at most the one in flight, whole;
/// - `.group`, `.async`: the state after some prefix of the calls, cut at a call boundary (a
///   batch whole), no shorter than the last acknowledged `flush`, `sync` or `compact`.
/// An undo takes back the last operation or batch; one that returned `false` changed nothing.
/// After the check, a writable open, a set, a close and a reopen must work on what was left.
///
/// The summary counts kills "inside a checkpoint": `compact()` begun and not returned, or
/// (automatic ones, which the child cannot see) files that only a checkpoint in progress
/// leaves: a `.tmp` file written during the round (a snapshot, manifest or archive being
/// replaced), or a snapshot or WAL newer than the manifest's that appeared during the round.
/// A kill after a checkpoint's cut but before its first file is not seen, so the count is a
/// lower bound.
///
/// Rounds per mode: `OPSLOG_TORTURE_ROUNDS` (default: what fits in about 70 s); a fixed base seed with
/// `OPSLOG_TORTURE_SEED`; only some modes with `OPSLOG_TORTURE_MODES=immediate,group`. Each
/// round's seed is in the failure message, and a failing store is kept under
/// `$TMPDIR/opslog-torture-failures/`. `Tests/torture.sh` runs the long version.
@Suite("Kill -9 torture")
struct KillTortureTests {
  /// Without `OPSLOG_TORTURE_ROUNDS`: as many rounds as fit in this many seconds per mode
  /// (the modes run in parallel), at most ``ciMaximumRounds``. A round takes about 0.45 s
  /// alone on this project's 2-core machine, about 1 s while the rest of the suite runs.
  static let ciSeconds = 70.0
  static let ciMaximumRounds = 150
  static let ciMinimumRounds = 20

  @Test(arguments: ["immediate", "group", "async"])
  func killedWriterLeavesWhatTheWriteModePromises(mode: String) async throws {
    let environment = ProcessInfo.processInfo.environment
    if let modes = environment["OPSLOG_TORTURE_MODES"], !modes.split(separator: ",").contains(Substring(mode)) {
      return
    }
    let requestedRounds = environment["OPSLOG_TORTURE_ROUNDS"].flatMap(Int.init)
    let baseSeed = environment["OPSLOG_TORTURE_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max >> 1)
    let executable = try HelperExecutable.path(named: "OpsLogTorture")
    var torture = Torture(mode: mode, baseSeed: baseSeed, executable: executable)
    defer { torture.cleanUp() }
    let started = Date()
    var rounds = 0
    while rounds < requestedRounds ?? Self.ciMaximumRounds {
      if requestedRounds == nil && rounds >= Self.ciMinimumRounds
        && Date().timeIntervalSince(started) > Self.ciSeconds
      {
        break
      }
      try await torture.runRound(rounds)
      rounds += 1
    }
    let summary = torture.statistics.summary(mode: mode, seconds: Date().timeIntervalSince(started), seed: baseSeed)
    print(summary)
    if let report = environment["OPSLOG_TORTURE_REPORT"] {
      try? appendLine(summary, to: report)
    }
    #expect(torture.statistics.failures == 0, "\(summary)")
    // The torture is worth its time only when the kills land mid-flight.
    #expect(torture.statistics.kills >= rounds * 3 / 4, "\(summary)")
  }
}

/// The smallest cases the torture found: a process killed while its first open creates the
/// store leaves some of what `createEmptyStore` writes (the empty snapshot, or its temporary
/// file; the empty WAL) and no manifest. The location holds no data, so it must open as a
/// fresh store, not be refused as damaged for ever.
@Suite("A crash while a store is created")
struct CrashDuringCreationTests {
  static let header = #"{"version":1,"timestamp":"2026-12-02T09:39:00.000Z"}"# + "\n"

  @Test(arguments: [
    ["snapshots/snap-1796204357366.jsonl.tmp"],
    ["snapshots/snap-1796204357366.jsonl"],
    ["snapshots/snap-1796204357366.jsonl", "ops/ops-1796204357366.jsonl"],
  ])
  func aStoreWhoseCreationWasCutShortOpensEmpty(leftBehind: [String]) async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    for path in leftBehind {
      let url = URL(fileURLWithPath: location.path + "/" + path)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try Data((path.hasPrefix("snapshots/") ? Self.header : "").utf8).write(to: url)
    }
    let store = try await Store<Todo>.open(location.path)
    #expect(try store.count() == 0)
    try await store.set("first", Todo(title: "First", status: "new"))
    try await store.close()
    let reopened = try await location.open(Todo.self)
    #expect(try reopened.get("first")?.title == "First")
    try await reopened.close()
  }
}

// MARK: - The model

/// One record as the model holds it.
struct ModelEntry: Hashable, CustomStringConvertible {
  var id: String
  var value: TortureValue
  var description: String { "\(id)=\(value)" }
}

/// Records in the store's order (first insertion; an update keeps its place).
typealias ModelState = [ModelEntry]

extension Array where Element == ModelEntry {
  func applying(_ changes: [TortureChange]) -> ModelState {
    var state = self
    for change in changes {
      switch change {
      case .set(let id, let value):
        if let index = state.firstIndex(where: { $0.id == id }) {
          state[index].value = value
        } else {
          state.append(ModelEntry(id: id, value: value))
        }
      case .delete(let id):
        state.removeAll { $0.id == id }
      }
    }
    return state
  }
}

/// What the child printed.
struct Transcript {
  var opened = false
  var settings = ""
  /// Every call begun, in order (`begin <n>` is `steps[n]`).
  var steps: [TortureStep] = []
  /// The result of every call that returned.
  var results: [Int: String] = [:]
  var error: String?
  var done = false
  var protocolErrors: [String] = []
  var lines: [String] = []

  init(_ lines: [String]) {
    self.lines = lines
    for line in lines {
      let words = line.split(separator: " ", maxSplits: 2)
      switch words.first {
      case "opening": break
      case "opened":
        opened = true
        settings = String(line.dropFirst("opened ".count))
      case "begin":
        guard words.count == 3, let number = Int(words[1]), number == steps.count,
          let step = TortureStep(text: words[2])
        else {
          protocolErrors.append("unreadable or out-of-order line: \(line)")
          continue
        }
        steps.append(step)
      case "ack":
        guard words.count == 3, let number = Int(words[1]), number == steps.count - 1 else {
          protocolErrors.append("ack of a call not begun: \(line)")
          continue
        }
        results[number] = String(words[2])
      case "error": error = line
      case "done": done = true
      default: protocolErrors.append("unknown line: \(line)")
      }
    }
  }

  /// The call in flight when the child died, if any.
  var inFlight: Int? {
    guard let last = steps.indices.last, results[last] == nil else { return nil }
    return last
  }

  /// The model's state after each prefix of the calls: `states[i]` is the state after the
  /// first `i` calls (an undo in flight counted as taking back the last step); also what
  /// the model finds odd (an undo that found something the model does not have).
  func states(from initial: ModelState) -> (states: [ModelState], anomalies: [String]) {
    var states = [initial]
    var undoStack: [ModelState] = []
    var current = initial
    var anomalies: [String] = []
    for (number, step) in steps.enumerated() {
      switch step {
      case .set, .delete, .batch:
        undoStack.append(current)
        current = current.applying(step.changes)
      case .undo:
        switch results[number] {
        case "true":
          if let previous = undoStack.popLast() {
            current = previous
          } else {
            anomalies.append("undo \(number) returned true with nothing to undo")
          }
        case "false":
          // A checkpoint since the last step: nothing before it can be undone any more.
          undoStack.removeAll()
        default:
          // In flight: it may or may not have happened; this state is the one where it did.
          if let previous = undoStack.last { current = previous }
        }
      case .flush, .sync, .compact:
        break
      }
      states.append(current)
    }
    return (states, anomalies)
  }

  /// Which of `states` the reopened store may equal (indices into it).
  func allowedStates(mode: String) -> ClosedRange<Int> {
    let count = steps.count
    if done || count == 0 { return count...count }
    if mode == "immediate" {
      return inFlight == nil ? count...count : (count - 1)...count
    }
    // Group and async: any prefix from the last acknowledged flush, sync or compact on.
    var lowest = 0
    for (number, step) in steps.enumerated() where results[number] != nil {
      switch step {
      case .flush, .sync, .compact: lowest = number
      default: break
      }
    }
    return lowest...count
  }
}

// MARK: - One torture run

struct TortureStatistics {
  var rounds = 0
  var kills = 0
  var killsDuringOpen = 0
  var finishedBeforeKill = 0
  var killsInCheckpoint = 0
  var killsInCompact = 0
  var killsInAutomaticCheckpoint = 0
  var killsInBatch = 0
  var tornTails = 0
  var simulatedTears = 0
  var calls = 0
  var failures = 0

  func summary(mode: String, seconds: Double, seed: UInt64) -> String {
    "kill torture \(mode): \(rounds) rounds, \(calls) calls, \(kills) kills (\(killsDuringOpen) during open,"
      + " \(killsInBatch) during a batch, \(tornTails) leaving a torn WAL tail; \(simulatedTears) batches torn"
      + " by the test as a power loss would), \(killsInCheckpoint) inside a"
      + " checkpoint (\(killsInCompact) in compact(), \(killsInAutomaticCheckpoint) in an automatic one),"
      + " \(finishedBeforeKill) finished before the kill, \(failures) failures;"
      + " \(String(format: "%.1f", seconds)) s; OPSLOG_TORTURE_SEED=\(seed)"
  }
}

struct Torture {
  let mode: String
  let baseSeed: UInt64
  let executable: String
  var statistics = TortureStatistics()
  /// Rounds share a store for a few rounds, so the children also open what a kill left.
  static let roundsPerStore = 4
  static let maximumReportedFailures = 3
  var location = ""
  var model: ModelState = []
  var roundsOnThisStore = 0
  var locations: [String] = []

  init(mode: String, baseSeed: UInt64, executable: String) {
    self.mode = mode
    self.baseSeed = baseSeed
    self.executable = executable
  }

  func cleanUp() {
    for location in locations { try? FileManager.default.removeItem(atPath: location) }
  }

  mutating func startNewStore() {
    location =
      FileManager.default.temporaryDirectory.appendingPathComponent("opslog-torture-\(mode)-\(UUID().uuidString)").path
    locations.append(location)
    model = []
    roundsOnThisStore = 0
  }

  mutating func runRound(_ round: Int) async throws {
    if location.isEmpty || roundsOnThisStore >= Self.roundsPerStore { startNewStore() }
    roundsOnThisStore += 1
    statistics.rounds += 1
    let seed = baseSeed &+ UInt64(round) &* 0x9E37_79B9_7F4A_7C15
    var random = TortureRandom(seed: seed ^ 0x5EED)
    let durability = round % 3 == 2 ? "disk" : "process"
    // A few kills while the child opens (and repairs) what the last kill left.
    let duringOpen = random.chance(8)
    let delay = duringOpen ? random.int(in: 0...40) : random.int(in: 2...300)
    let before = StoreFiles(location)
    let context = "mode \(mode), durability \(durability), round \(round), seed \(seed)"

    let run = try await ChildProcess.run(
      executable: executable, arguments: [location, String(seed), mode, durability, "1000000"],
      killAfterMilliseconds: delay, countingFromSpawn: duringOpen)
    let transcript = Transcript(run.lines)
    statistics.calls += transcript.steps.count
    let after = StoreFiles(location)
    if run.killed {
      statistics.kills += 1
      if !transcript.opened { statistics.killsDuringOpen += 1 }
      let inCompact = transcript.inFlight.map { transcript.steps[$0] == TortureStep.compact } ?? false
      if inCompact {
        statistics.killsInCompact += 1
      } else if after.showsCheckpointInProgress(since: before) {
        statistics.killsInAutomaticCheckpoint += 1
      }
      if inCompact || after.showsCheckpointInProgress(since: before) { statistics.killsInCheckpoint += 1 }
      if let flight = transcript.inFlight, case .batch = transcript.steps[flight] { statistics.killsInBatch += 1 }
      if after.walHasTornTail { statistics.tornTails += 1 }
    } else {
      statistics.finishedBeforeKill += 1
    }

    var problems = transcript.protocolErrors
    if let error = transcript.error { problems.append("the child failed: \(error); stderr: \(run.standardError)") }
    if !run.killed && !transcript.done && transcript.error == nil {
      problems.append("the child exited (status \(run.status)) without finishing; stderr: \(run.standardError)")
    }
    let (states, anomalies) = transcript.states(from: model)
    problems += anomalies
    var allowed = transcript.allowedStates(mode: mode)
    // A SIGKILL does not tear a write(2) to a local file (the kernel finishes it first), but a
    // power loss or a network filesystem can: half the time that the WAL ends with a batch
    // the kill may tear, cut it short as such a crash would. Then it must be skipped whole.
    var tear = ""
    if run.killed, random.chance(50), let torn = TornBatch(location, after, transcript, mode: mode, allowed: allowed) {
      let cut = torn.cut(&random)
      if truncate(location + "/" + torn.walPath, off_t(cut)) == 0 {
        statistics.simulatedTears += 1
        allowed = torn.step...torn.step
        tear = "; the WAL was cut at byte \(cut), inside the batch of call \(torn.step) (bytes \(torn.range))"
      }
    }

    // Reopen: read-only in even rounds (which must not repair anything to see the right
    // state), writable in odd ones (which cuts what the kill tore off).
    let readOnlyFirst = round % 2 == 0
    var verified: ModelState?
    do {
      let seen: (state: ModelState, damaged: [String])
      do {
        seen = try await Self.read(location, readOnly: readOnlyFirst)
      } catch OpsLogError.storeNotFound where readOnlyFirst && model.isEmpty && roundsOnThisStore == 1 {
        // Killed before the first open created the store: there is none yet, rightly.
        seen = ([], [])
      }
      problems += seen.damaged
      if let match = Self.match(seen.state, states: states, allowed: allowed, problems: &problems) {
        verified = match
      }
      if let state = verified {
        if readOnlyFirst {
          let writable = try await Self.read(location, readOnly: false)
          if writable.state != state || !writable.damaged.isEmpty {
            problems.append(
              "a writable reopen sees \(writable.state) \(writable.damaged), the read-only one \(state)")
            verified = nil
          }
        }
      }
      if let state = verified {
        // The repaired tail takes new writes: a set, a close, a reopen.
        let value = TortureValue(serial: -(round + 1), length: random.int(in: 0...6_000))
        let store = try await Store<TortureRecord>.open(location)
        try await store.set("post", TortureRecord(value))
        try await store.close()
        let expected = state.applying([.set(id: "post", value: value)])
        let reopened = try await Self.read(location, readOnly: true)
        if reopened.state != expected || !reopened.damaged.isEmpty {
          problems.append("after a set and a close, a reopen sees \(reopened.state), expected \(expected)")
        } else {
          model = expected
        }
      }
    } catch {
      problems.append("reopening failed: \(error)")
    }

    if problems.isEmpty { return }
    statistics.failures += 1
    roundsOnThisStore = Self.roundsPerStore  // the next round starts afresh
    guard statistics.failures <= Self.maximumReportedFailures else { return }
    let kept = keepForInspection(seed: seed)
    Issue.record(
      """
      kill torture failed (\(context)), \(run.killed ? "killed after \(delay) ms" : "not killed")\
      \(duringOpen ? " counted from the spawn" : "")\(tear); \(transcript.settings)
      \(problems.joined(separator: "\n"))
      allowed states \(allowed) of \(states.count - 1) calls; call in flight: \
      \(transcript.inFlight.map { "\($0) \(transcript.steps[$0].text.prefix(200))" } ?? "none")
      store kept at \(kept)
      last lines:
      \(transcript.lines.suffix(12).map { String($0.prefix(300)) }.joined(separator: "\n"))
      """)
  }

  /// Which allowed state `seen` is, or `nil` (with the reason in `problems`).
  static func match(_ seen: ModelState, states: [ModelState], allowed: ClosedRange<Int>, problems: inout [String])
    -> ModelState?
  {
    if allowed.contains(where: { states[$0] == seen }) { return seen }
    if let sameRecords = allowed.first(where: { Set(states[$0]) == Set(seen) }) {
      problems.append("the records of state \(sameRecords) in another order: \(seen) instead of \(states[sameRecords])")
      return nil
    }
    if let elsewhere = states.indices.first(where: { states[$0] == seen }) {
      problems.append("the reopened store is the state after \(elsewhere) calls, outside the allowed \(allowed)")
      return nil
    }
    let nearest = allowed.min { difference(states[$0], seen).count < difference(states[$1], seen).count }!
    problems.append(
      "the reopened store is none of the allowed states; against state \(nearest): "
        + difference(states[nearest], seen).joined(separator: ", "))
    return nil
  }

  static func difference(_ expected: ModelState, _ seen: ModelState) -> [String] {
    let expectedByID = Dictionary(expected.map { ($0.id, $0.value) }, uniquingKeysWith: { $1 })
    let seenByID = Dictionary(seen.map { ($0.id, $0.value) }, uniquingKeysWith: { $1 })
    var lines: [String] = []
    for entry in expected where seenByID[entry.id] == nil { lines.append("missing \(entry)") }
    for entry in seen where expectedByID[entry.id] == nil { lines.append("extra \(entry)") }
    for entry in seen {
      if let value = expectedByID[entry.id], value != entry.value {
        lines.append("\(entry.id) is \(entry.value) not \(value)")
      }
    }
    return lines
  }

  /// The records of the store at `location`, through a fresh open.
  static func read(_ location: String, readOnly: Bool) async throws -> (state: ModelState, damaged: [String]) {
    var options = StoreOptions()
    options.readOnly = readOnly
    // A writable open here must not checkpoint on close: the next round's child should find
    // the WAL as this open repaired it.
    options.checkpointOnClose = false
    let store = try await Store<TortureRecord>.open(location, options: options)
    var state: ModelState = []
    var damaged: [String] = []
    for (id, record) in try store.entries() {
      if let value = record.value {
        state.append(ModelEntry(id: id, value: value))
      } else {
        damaged.append("record \(id) (serial \(record.serial)) has a payload its serial does not make")
      }
    }
    try await store.close()
    return (state, damaged)
  }

  func keepForInspection(seed: UInt64) -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-torture-failures")
    let destination = directory.appendingPathComponent("\(mode)-\(seed)-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try? FileManager.default.copyItem(atPath: location, toPath: destination.path)
    return destination.path
  }
}

// MARK: - What the files show

/// The store's files at one moment, for telling whether a kill landed inside a checkpoint.
struct StoreFiles {
  /// Relative path → modification time, for the location, `snapshots/` and `ops/`.
  var files: [String: Date] = [:]
  var currentSnapshot: String?
  var activeWAL: String?
  let location: String

  init(_ location: String) {
    self.location = location
    let manager = FileManager.default
    for directory in ["", "snapshots", "ops", "archive"] {
      let path = directory.isEmpty ? location : location + "/" + directory
      for name in (try? manager.contentsOfDirectory(atPath: path)) ?? [] {
        let relative = directory.isEmpty ? name : directory + "/" + name
        let attributes = try? manager.attributesOfItem(atPath: location + "/" + relative)
        files[relative] = attributes?[.modificationDate] as? Date ?? .distantPast
      }
    }
    if let data = manager.contents(atPath: location + "/manifest.json"),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    {
      currentSnapshot = object["currentSnapshot"] as? String
      activeWAL = object["activeOps"] as? String
    }
  }

  /// The milliseconds in a snapshot's or WAL's file name.
  static func milliseconds(_ path: String) -> Int64? {
    let name = path.split(separator: "/").last ?? ""
    return Int64(String(name.drop { !$0.isNumber }.prefix { $0.isNumber }))
  }

  /// A temporary file written since `before` (a snapshot, manifest or archive being replaced),
  /// or a snapshot or WAL newer than the manifest's that appeared since (written by a
  /// checkpoint that had not switched the manifest yet).
  func showsCheckpointInProgress(since before: StoreFiles) -> Bool {
    let current = currentSnapshot.flatMap(Self.milliseconds) ?? 0
    for (path, modified) in files {
      if path.hasSuffix(".tmp"), before.files[path] != modified { return true }
      if before.files[path] == nil, path.hasPrefix("snapshots/") || path.hasPrefix("ops/"),
        let milliseconds = Self.milliseconds(path), milliseconds > current
      {
        return true
      }
    }
    return false
  }

  /// Whether the manifest's WAL ends in the middle of a line (a write the kill tore).
  var walHasTornTail: Bool {
    guard let activeWAL, let handle = FileHandle(forReadingAtPath: location + "/" + activeWAL) else { return false }
    defer { try? handle.close() }
    guard let end = try? handle.seekToEnd(), end > 0 else { return false }
    try? handle.seek(toOffset: end - 1)
    return (try? handle.read(upToCount: 1)) != Data([UInt8(ascii: "\n")])
  }
}

/// The batch a WAL ends with, when a crash could have torn it: its lines are the last in the
/// WAL named by the manifest, and the promise of the write mode does not cover it (in
/// `.immediate`, only the call in flight; otherwise any batch from the last acknowledged
/// flush on).
struct TornBatch {
  var walPath: String
  /// The call that wrote the batch.
  var step: Int
  /// Where its lines are in the WAL.
  var range: Range<Int>
  /// Where its lines after the first start.
  var lineStarts: [Int]

  init?(_ location: String, _ files: StoreFiles, _ transcript: Transcript, mode: String, allowed: ClosedRange<Int>) {
    guard let walPath = files.activeWAL,
      let bytes = FileManager.default.contents(atPath: location + "/" + walPath).map(Array.init),
      bytes.last == UInt8(ascii: "\n")
    else { return nil }
    // The last lines, at most as many as a batch has (30).
    var starts: [Int] = []
    var end = bytes.count - 1
    while starts.count < 31 && end > 0 {
      var start = end
      while start > 0 && bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
      starts.insert(start, at: 0)
      end = start - 1
    }
    var found: (index: Int, count: Int)?
    for (index, start) in starts.enumerated() {
      let lineEnd = index + 1 < starts.count ? starts[index + 1] - 1 : bytes.count - 1
      guard
        let object = try? JSONSerialization.jsonObject(with: Data(bytes[start..<lineEnd])) as? [String: Any],
        let count = object["batch"] as? Int
      else { continue }
      if starts.count - index == count { found = (index, count) }
    }
    guard let found else { return nil }
    var ids: [String] = []
    for (offset, start) in starts[found.index...].enumerated() {
      let position = found.index + offset
      let lineEnd = position + 1 < starts.count ? starts[position + 1] - 1 : bytes.count - 1
      guard let object = try? JSONSerialization.jsonObject(with: Data(bytes[start..<lineEnd])) as? [String: Any],
        let id = object["id"] as? String
      else { return nil }
      ids.append(id)
    }
    // The call that wrote it: the last batch with these ids.
    guard
      let step = transcript.steps.indices.last(where: { index in
        if case .batch(let changes) = transcript.steps[index] { return changes.map(\.id) == ids }
        return false
      })
    else { return nil }
    let coverable = mode == "immediate" ? transcript.inFlight == step : allowed.lowerBound <= step
    guard coverable else { return nil }
    self.walPath = walPath
    self.step = step
    range = starts[found.index]..<bytes.count
    lineStarts = Array(starts[(found.index + 1)...])
  }

  /// Where to cut: after some of its lines, or in the middle of one.
  func cut(_ random: inout TortureRandom) -> Int {
    if random.chance(50), !lineStarts.isEmpty {
      return lineStarts[random.int(in: 0...(lineStarts.count - 1))]
    }
    return random.int(in: range.lowerBound...(range.upperBound - 1))
  }
}

// MARK: - The child process

struct ChildRun: Sendable {
  var lines: [String]
  var killed: Bool
  var status: Int32
  var standardError: String
}

enum ChildProcess {
  /// Runs the child on a thread of its own (its pipe is read with blocking calls) and kills it
  /// `killAfterMilliseconds` after it printed `opened`, or after the spawn when
  /// `countingFromSpawn`; returns every complete line it printed.
  static func run(
    executable: String, arguments: [String], killAfterMilliseconds: Int, countingFromSpawn: Bool
  ) async throws -> ChildRun {
    try await withCheckedThrowingContinuation { continuation in
      let thread = Thread {
        continuation.resume(
          with: Result {
            try runBlocking(
              executable: executable, arguments: arguments, killAfterMilliseconds: killAfterMilliseconds,
              countingFromSpawn: countingFromSpawn)
          })
      }
      thread.start()
    }
  }

  static func runBlocking(
    executable: String, arguments: [String], killAfterMilliseconds: Int, countingFromSpawn: Bool
  ) throws -> ChildRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    // stderr to a file: a child logging a lot must never block on a full pipe.
    let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent(
      "opslog-torture-stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errorPath.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorPath) }
    let errorHandle = try FileHandle(forWritingTo: errorPath)
    process.standardError = errorHandle
    try process.run()
    try? errorHandle.close()

    let descriptor = output.fileHandleForReading.fileDescriptor
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let now = { DispatchTime.now().uptimeNanoseconds }
    let spawned = now()
    let deadline = spawned + 30_000_000_000
    var killAt: UInt64? = countingFromSpawn ? spawned + UInt64(killAfterMilliseconds) * 1_000_000 : nil
    var killed = false
    var endOfFile = false
    while !endOfFile {
      let current = now()
      if current >= (killAt ?? deadline) {
        kill(process.processIdentifier, SIGKILL)
        killed = true
        break
      }
      let remaining = Int32(min(50, ((killAt ?? deadline) - current + 999_999) / 1_000_000))
      var descriptorToPoll = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
      guard poll(&descriptorToPoll, 1, remaining) > 0 else { continue }
      let count = read(descriptor, &buffer, buffer.count)
      if count <= 0 {
        endOfFile = true
        break
      }
      bytes.append(contentsOf: buffer[0..<count])
      if killAt == nil, Self.containsOpened(bytes) {
        killAt = now() + UInt64(killAfterMilliseconds) * 1_000_000
      }
    }
    // Whatever the child printed before it died is in the pipe.
    while !endOfFile {
      let count = read(descriptor, &buffer, buffer.count)
      if count <= 0 { break }
      bytes.append(contentsOf: buffer[0..<count])
    }
    process.waitUntilExit()
    var lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
      .map(String.init)
    // The last element is what followed the last newline: a line cut short by the kill.
    lines.removeLast()
    let standardError = (try? String(contentsOf: errorPath, encoding: .utf8)) ?? ""
    return ChildRun(
      lines: lines, killed: killed, status: process.terminationStatus,
      standardError: String(standardError.suffix(2_000)))
  }

  static func containsOpened(_ bytes: [UInt8]) -> Bool {
    let marker = Array("\nopened ".utf8)
    guard bytes.count >= marker.count else { return false }
    for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
      if bytes[start..<(start + marker.count)].elementsEqual(marker) { return true }
    }
    return false
  }
}

func appendLine(_ line: String, to path: String) throws {
  if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
  let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
  defer { try? handle.close() }
  try handle.seekToEnd()
  try handle.write(contentsOf: Data((line + "\n").utf8))
}
