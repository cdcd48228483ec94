// The child process of the kill -9 torture (Tests/OpsLogEngineTests/KillTortureTests.swift):
// it opens a store and makes random calls, chosen from a seed, until the parent kills it with
// SIGKILL or `count` calls are done.
//
// usage: OpsLogTorture <location> <seed> <immediate|group|async> <process|disk> <count>
//
// Protocol on stdout, one line per event, each written with one write(2) before the next
// step, so that every line printed before the kill reaches the parent:
//   opening                          before Store.open
//   opened <settings>                the store is open (checkpoint threshold, group size, …)
//   begin <n> <step>                 before the call (TortureStep.text: ids, serials, lengths)
//   ack <n> <result>                 after it returned: `ok`, or undo's `true` / `false`
//   error <n> <error>                it threw (exit code 4); nothing in a torture should throw
//   done                             every call made, the store closed (exit code 0)
// `compact` steps are the checkpoints the child knows of; automatic ones start in the
// background when the threshold is reached, and the parent recognises them by their files.

import Foundation
import OpsLog
import OpsLogTestSupport

func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String, code: Int32) -> Never {
  FileHandle.standardError.write(Data((message + "\n").utf8))
  exit(code)
}

let arguments = CommandLine.arguments
guard arguments.count == 6, let seed = UInt64(arguments[2]), let count = Int(arguments[5]),
  ["immediate", "group", "async"].contains(arguments[3]), ["process", "disk"].contains(arguments[4])
else {
  fail("usage: OpsLogTorture <location> <seed> <immediate|group|async> <process|disk> <count>", code: 2)
}
let location = arguments[1]
var random = TortureRandom(seed: seed)

var options = StoreOptions()
options.writeMode = arguments[3] == "immediate" ? .immediate : arguments[3] == "group" ? .group : .async
options.durability = arguments[4] == "disk" ? .disk : .process
// Small thresholds, so that checkpoints run all the time and kills land inside them.
options.checkpointThreshold = random.int(in: 7...20)
options.groupCommitSize = random.int(in: 2...8)
let intervalMilliseconds = random.int(in: 2...20)
options.groupCommitInterval = .milliseconds(intervalMilliseconds)
// Half the runs remove old generations, so kills also land in a checkpoint's deletions.
options.retainedGenerations = random.chance(50) ? nil : 2

/// Ids: a small set, so that updates and deletes of existing records are common, with some
/// non-ASCII ones.
@MainActor func randomID() -> String {
  let index = random.int(in: 0...47)
  return index % 6 == 5 ? "é\(index)" : "r\(index)"
}

/// Mostly small records; some over 4 KiB so that a single line spans pages, a few much larger.
@MainActor func randomLength() -> Int {
  let roll = random.int(in: 0...99)
  if roll < 70 { return random.int(in: 0...200) }
  if roll < 90 { return random.int(in: 200...2_000) }
  if roll < 97 { return random.int(in: 4_097...9_000) }
  return random.int(in: 12_000...40_000)
}

/// The next call, planned against the store's current records (the store's reads see every
/// write, buffered or not, so they are what the parent's model holds too).
@MainActor func plan(_ number: Int, _ store: Store<TortureRecord>) throws -> TortureStep {
  let serialBase = number * 64
  let roll = random.int(in: 0...99)
  switch roll {
  case 0..<42:
    return .set(id: randomID(), value: TortureValue(serial: serialBase, length: randomLength()))
  case 42..<54:
    for _ in 0..<6 {
      let id = randomID()
      if try store.has(id) { return .delete(id: id) }
    }
    return .set(id: randomID(), value: TortureValue(serial: serialBase, length: randomLength()))
  case 54..<70:
    // Some batches are large enough to be many pages, so that a kill can tear the write.
    let large = random.chance(25)
    var view: [String: Bool] = [:]
    var changes: [TortureChange] = []
    for index in 0..<random.int(in: 2...30) {
      let id = randomID()
      let exists = try view[id] ?? store.has(id)
      if exists && random.chance(25) {
        changes.append(.delete(id: id))
        view[id] = false
      } else {
        let length = large ? random.int(in: 3_000...9_000) : randomLength()
        changes.append(.set(id: id, value: TortureValue(serial: serialBase + index, length: length)))
        view[id] = true
      }
    }
    return .batch(changes)
  case 70..<82: return .undo
  case 82..<88: return .flush
  case 88..<93: return .sync
  default: return .compact
  }
}

func perform(_ step: TortureStep, on store: Store<TortureRecord>) async throws -> String {
  switch step {
  case .set(let id, let value):
    try await store.set(id, TortureRecord(value))
  case .delete(let id):
    try await store.delete(id)
  case .batch(let changes):
    try await store.batch { batch in
      for change in changes {
        switch change {
        case .set(let id, let value): batch.set(id, TortureRecord(value))
        case .delete(let id): try batch.delete(id)
        }
      }
    }
  case .undo:
    return try await store.undo() ? "true" : "false"
  case .flush:
    try await store.flush()
  case .sync:
    try await store.sync()
  case .compact:
    try await store.compact()
  }
  return "ok"
}

say("opening")
let store: Store<TortureRecord>
do {
  store = try await Store<TortureRecord>.open(location, options: options)
} catch {
  say("error open \(error)")
  fail("open failed: \(error)", code: 4)
}
say(
  "opened threshold=\(options.checkpointThreshold) group=\(options.groupCommitSize)"
    + " interval=\(intervalMilliseconds)ms retained=\(options.retainedGenerations.map(String.init) ?? "all")")
for number in 0..<count {
  do {
    let step = try plan(number, store)
    say("begin \(number) \(step.text)")
    let result = try await perform(step, on: store)
    say("ack \(number) \(result)")
  } catch {
    say("error \(number) \(error)")
    fail("call \(number) failed: \(error)", code: 4)
  }
}
do {
  try await store.close()
} catch {
  say("error close \(error)")
  fail("close failed: \(error)", code: 4)
}
say("done")
