// The Swift side of the differential run against the reference (Tests/differential.sh): the
// same script of operations is applied by this helper or by opslog for Node, and each reads
// what the other wrote.

import Foundation
import OpsLog

/// `apply-script <location> <script.json> <checkpointThreshold> <immediate|group|async>
/// <agentId|-> <checkpointOnClose 0|1>`: opens the store (as that agent unless `-`), applies
/// the script, a JSON array of `{"op":"set","id":…,"value":…}`, `{"op":"delete","id":…}`
/// (skipped when the ID is absent), `{"op":"batch","ops":[…sets and deletes…]}`,
/// `{"op":"undo"}`, `{"op":"compact"}` and `{"op":"archive","segment":…,"prefix":…}` (the
/// records whose ID starts with the prefix), then prints the store's state as `dump-entries`
/// does and closes it.
func runApplyScript(_ arguments: [String]) async {
  guard arguments.count == 8, let threshold = Int(arguments[4]) else {
    fail(
      "usage: apply-script <location> <script.json> <checkpointThreshold> <writeMode> <agentId|-> <checkpointOnClose>",
      code: 2)
  }
  var options = StoreOptions()
  options.checkpointThreshold = threshold
  options.checkpointOnClose = arguments[7] != "0"
  switch arguments[5] {
  case "group": options.writeMode = .group
  case "async": options.writeMode = .async
  case "immediate": options.writeMode = .immediate
  default: fail("unknown write mode \(arguments[5])", code: 2)
  }
  do {
    let steps = try readScript(arguments[3])
    let store: Store<JSONValue> = try await openStore(arguments[2], agentId: arguments[6], options: options)
    for step in steps { try await apply(step, to: store) }
    let state = try await stateJSON(store)
    try await store.close()
    say(state)
  } catch {
    fail("error \(error)", code: 4)
  }
}

/// `dump-entries <location> [readerAgentId]`: opens the store read-only (as a read-only agent
/// when an ID is given, which a multi-writer store needs) and prints its state on one line:
/// `{"entries":[[id, record], …],"archives":{segmentPath: {id: record, …}, …},"ops":[…]}`,
/// entries in order, `ops` the operations since the last checkpoint (``operationJSON(_:)``).
func runDumpEntries(_ arguments: [String]) async {
  guard arguments.count == 3 || arguments.count == 4 else {
    fail("usage: dump-entries <location> [readerAgentId]", code: 2)
  }
  do {
    let store = try await openReadOnly(arguments[2], agentId: arguments.count == 4 ? arguments[3] : "-")
    let state = try await stateJSON(store)
    try await store.close()
    say(state)
  } catch {
    fail("error \(error)", code: 4)
  }
}

private func apply(_ step: JSONValue, to store: Store<JSONValue>) async throws {
  func id(_ step: JSONValue) throws -> String {
    guard let id = step["id"]?.stringValue else { throw OpsLogError.invalidArgument("a step without an id: \(step)") }
    return id
  }
  switch step["op"]?.stringValue {
  case "set": try await store.set(try id(step), step["value"] ?? .null)
  case "delete":
    let id = try id(step)
    if try store.has(id) { try await store.delete(id) }
  case "undo": try await store.undo()
  case "compact": try await store.compact()
  case "archive":
    let prefix = step["prefix"]?.stringValue ?? ""
    try await store.archive(segment: step["segment"]?.stringValue) { _, id in id.hasPrefix(prefix) }
  case "batch":
    let inner = step["ops"]?.arrayValue ?? []
    try await store.batch { batch in
      for operation in inner {
        let id = try id(operation)
        if operation["op"]?.stringValue == "set" {
          batch.set(id, operation["value"] ?? .null)
        } else if batch.get(id) != nil {
          try batch.delete(id)
        }
      }
    }
  default: throw OpsLogError.invalidArgument("an unknown step: \(step)")
  }
}

/// The store at `location`, opened as agent `agentId`, or as a single writer's store when it
/// is `-` (the scripts' spelling).
private func openStore<Record: Codable & Sendable>(
  _ location: String, agentId: String, options: StoreOptions
) async throws -> Store<Record> {
  if agentId == "-" { return try await Store<Record>.open(location, options: options) }
  return try await Store<Record>.open(location, agentId: agentId, options: options)
}

/// A read-only ``openStore(_:agentId:options:)``: a multi-writer store needs a read-only agent.
private func openReadOnly(_ location: String, agentId: String) async throws -> Store<JSONValue> {
  var options = StoreOptions()
  options.readOnly = true
  return try await openStore(location, agentId: agentId, options: options)
}

/// The steps of a script file: one JSON array.
private func readScript(_ path: String) throws -> [JSONValue] {
  guard let bytes = FileManager.default.contents(atPath: path), let steps = try JSONValue(parsing: bytes).arrayValue
  else { fail("the script \(path) is not a JSON array", code: 2) }
  return steps
}

private func stateJSON(_ store: Store<JSONValue>) async throws -> String {
  let entries = JSONValue.array(try store.entries().map { .array([.string($0.id), $0.record]) })
  var archives = JSONObject()
  for segment in try store.manifest().archiveSegments {
    archives[segment] = .object(JSONObject(try await store.loadArchiveEntries(segment).map { ($0.id, $0.record) }))
  }
  let operations = try store.operations()
  var walOperations: [JSONValue] = []
  for try await operation in store.walOperations() { walOperations.append(operationJSON(operation)) }
  // Since the middle operation's time: what a consumer that stopped there reads next.
  var walOperationsSince: [JSONValue] = []
  if !operations.isEmpty {
    for try await operation in store.walOperations(since: operations[operations.count / 2].timestamp) {
      walOperationsSince.append(operationJSON(operation))
    }
  }
  return JSONValue.object([
    "entries": entries, "archives": .object(archives), "ops": .array(operations.map(operationJSON)),
    "walOps": .array(walOperations), "walOpsSince": .array(walOperationsSince),
  ]).jsonText
}

/// An operation as the differential run compares it with the reference's `getOps()`:
/// `[ts, op, id, data, encoding, prev, agent, clock]`, `encoding` "full" or "delta" (`null`
/// with no previous record), absent members `null`.
private func operationJSON(_ operation: LogOperation<JSONValue>) -> JSONValue {
  let (encoding, previous): (JSONValue, JSONValue) =
    switch operation.previous {
    case .none: (.null, .null)
    case .record(let record): (.string("full"), record)
    case .delta(let patch): (.string("delta"), patch.jsonValue)
    }
  return .array([
    .string(operation.timestamp), .string(operation.kind.rawValue), .string(operation.id), operation.data ?? .null,
    encoding, previous, operation.agent.map(JSONValue.string) ?? .null,
    operation.clock.map { .int(Int64($0)) } ?? .null,
  ])
}

/// `follow-store <location> [readerAgentId]`: opens the store read-only, as `dump-entries`
/// does, and prints its state; then, for every line `poll` read from standard input, calls
/// `tail()` (a read-only agent: `refresh()`) and prints the state again; stops at `quit` or
/// the end of input. The differential run polls it after every turn and compares it with a
/// fresh open.
func runFollowStore(_ arguments: [String]) async {
  guard arguments.count == 3 || arguments.count == 4 else {
    fail("usage: follow-store <location> [readerAgentId]", code: 2)
  }
  do {
    let isAgent = arguments.count == 4
    let store = try await openReadOnly(arguments[2], agentId: isAgent ? arguments[3] : "-")
    say(try await stateJSON(store))
    while let line = readLine(), line != "quit" {
      if isAgent { try await store.refresh() } else { try await store.tail() }
      say(try await stateJSON(store))
    }
    try await store.close()
  } catch {
    fail("error \(error)", code: 4)
  }
}

/// A record type that knows one field of the differential run's records: every other
/// top-level field is unknown to it and must survive its updates (Docs/API.md, "Schema
/// safety").
struct PartialRecord: Codable, Sendable {
  var f: JSONValue?
}

/// `apply-typed-script <location> <script.json> <agentId|-> <checkpointOnClose 0|1>`: opens
/// the store as `Store<PartialRecord>` and applies `{"op":"touch","id":…,"f":…}` (the record,
/// when there is one, with `f` replaced, or removed when the step has none, written back) and
/// `{"op":"undo"}`; then prints the state as `dump-entries` reads it with `Store<JSONValue>`
/// after closing.
func runApplyTypedScript(_ arguments: [String]) async {
  guard arguments.count == 6 else {
    fail("usage: apply-typed-script <location> <script.json> <agentId|-> <checkpointOnClose>", code: 2)
  }
  var options = StoreOptions()
  options.checkpointThreshold = 1_000_000
  options.checkpointOnClose = arguments[5] != "0"
  do {
    let steps = try readScript(arguments[3])
    let store: Store<PartialRecord> = try await openStore(arguments[2], agentId: arguments[4], options: options)
    for step in steps {
      switch step["op"]?.stringValue {
      case "touch":
        guard let id = step["id"]?.stringValue else { fail("a touch without an id", code: 2) }
        if var record = try store.get(id) {
          record.f = step["f"]
          try await store.set(id, record)
        }
      case "undo": try await store.undo()
      default: fail("an unknown step: \(step)", code: 2)
      }
    }
    try await store.close()
    let reader = try await openReadOnly(arguments[2], agentId: arguments[4] == "-" ? "-" : "reader")
    let state = try await stateJSON(reader)
    try await reader.close()
    say(state)
  } catch {
    fail("error \(error)", code: 4)
  }
}
