// A child process for tests that need several processes. The first argument names the
// subcommand; each prints a short line protocol on stdout that the tests parse.
//
// Exit codes: 0 done, 2 usage error, 3 lock refused, 4 any other error.

import Foundation
import OpsLog

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Prints a line and flushes at once: the parent reads it while this process keeps running.
func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func fail(_ message: String, code: Int32) -> Never {
  FileHandle.standardError.write(Data((message + "\n").utf8))
  exit(code)
}

/// Takes the lock and reports it: `locked`, or `refused <holder>` and exit 3.
func lock(_ backend: FsBackend, _ name: String) async {
  do {
    try await backend.acquireLock(name)
    say("locked")
  } catch OpsLogError.locked(let holder) {
    say("refused \(holder)")
    exit(3)
  } catch {
    fail("error \(error)", code: 4)
  }
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail("usage: OpsLogTestHelper <subcommand> ...", code: 2) }

switch arguments[1] {
case "hold-lock":
  // hold-lock <location> <lockName> <seconds>: takes the lock, holds it, releases it.
  guard arguments.count == 5, let seconds = Double(arguments[4]) else {
    fail("usage: hold-lock <location> <lockName> <seconds>", code: 2)
  }
  let backend = FsBackend()
  do {
    try await backend.initialize(location: arguments[2], readOnly: false)
    await lock(backend, arguments[3])
    try await Task.sleep(for: .seconds(seconds))
    try await backend.releaseLock(arguments[3])
    say("released")
    try await backend.shutdown()
  } catch {
    fail("error \(error)", code: 4)
  }

case "write-until-killed":
  // write-until-killed <location> <process|disk>: opens the store and sets k0, k1, … in
  // immediate mode, printing `ack <n>` after each acknowledged write, until it is killed.
  guard arguments.count == 4 else { fail("usage: write-until-killed <location> <process|disk>", code: 2) }
  var options = StoreOptions()
  options.durability = arguments[3] == "disk" ? .disk : .process
  options.checkpointThreshold = 40  // checkpoints happen while the parent kills us
  do {
    let store = try await Store<JSONValue>.open(arguments[2], options: options)
    var index: Int64 = 0
    while true {
      try await store.set(
        "k\(index)", ["n": .int(index), "pad": .string(String(repeating: "p", count: Int(index % 200)))])
      say("ack \(index)")
      index += 1
    }
  } catch {
    fail("error \(error)", code: 4)
  }

case "try-lock":
  // try-lock <location> <lockName>: takes the lock and releases it at once.
  guard arguments.count == 4 else { fail("usage: try-lock <location> <lockName>", code: 2) }
  let backend = FsBackend()
  do {
    try await backend.initialize(location: arguments[2], readOnly: false)
    await lock(backend, arguments[3])
    try await backend.releaseLock(arguments[3])
    try await backend.shutdown()
  } catch {
    fail("error \(error)", code: 4)
  }

case "agent-write":
  // agent-write <location> <agentId> <count> <keyPrefix> <compactEvery>: opens the store as
  // a multi-writer agent and writes <count> operations: its own keys <keyPrefix>-<i> and,
  // every other operation, one of the keys shared-0..shared-4 that every agent writes (a
  // conflict), a delete every seventh; refreshes now and then; compacts every
  // <compactEvery> operations (0: never). Prints "done <clock of its last write>".
  guard arguments.count == 7, let count = Int(arguments[4]), let compactEvery = Int(arguments[6]) else {
    fail("usage: agent-write <location> <agentId> <count> <keyPrefix> <compactEvery>", code: 2)
  }
  let agentId = arguments[3]
  let prefix = arguments[5]
  var options = StoreOptions()
  options.checkpointOnClose = false
  options.checkpointThreshold = 1_000_000
  do {
    let store = try await Store<JSONValue>.open(arguments[2], agentId: agentId, options: options)
    for i in 0..<count {
      let value = JSONValue.object(["agent": .string(agentId), "i": .int(Int64(i))])
      if i % 2 == 1 {
        try await store.set("shared-\(i % 5)", value)
      } else if i % 7 == 6, try store.has("\(prefix)-\(i - 2)") {
        try await store.delete("\(prefix)-\(i - 2)")
      } else {
        try await store.set("\(prefix)-\(i)", value)
      }
      if i % 10 == 9 { try await store.refresh() }
      if compactEvery > 0 && i % compactEvery == compactEvery - 1 {
        // compact() returns without compacting while another agent holds .compact-lock (to
        // register a new WAL, say); trying again shortly makes sure this run does compact
        // while the others write, whatever the scheduling.
        let before = try store.manifest().currentSnapshot
        for _ in 0..<50 {
          try await store.compact()
          if try store.manifest().currentSnapshot != before { break }
          try await Task.sleep(for: .milliseconds(5))
        }
      }
    }
    let clock = try store.operations().last?.clock ?? -1
    try await store.close()
    say("done \(clock)")
  } catch {
    fail("error \(error)", code: 4)
  }

case "torture-agent":
  await runTortureAgent(arguments)

case "feed-agent":
  await runFeedAgent(arguments)

case "apply-script":
  await runApplyScript(arguments)

case "dump-entries":
  await runDumpEntries(arguments)

case "follow-store":
  await runFollowStore(arguments)

case "apply-typed-script":
  await runApplyTypedScript(arguments)

default:
  fail("unknown subcommand \(arguments[1])", code: 2)
}
