import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// A random JSON value, shallow enough to keep patches readable when a test fails.
func randomValue(_ random: inout SplitMix64, depth: Int = 0) -> JSONValue {
  switch random.next() % (depth > 1 ? 5 : 7) {
  case 0: return .null
  case 1: return .bool(random.next() % 2 == 0)
  case 2: return .int(Int64(random.next() % 100))
  case 3: return .double(Double(random.next() % 1000) / 8)
  case 4: return .string(String(repeating: "x", count: Int(random.next() % 12)))
  case 5: return .array((0..<Int(random.next() % 3)).map { _ in randomValue(&random, depth: depth + 1) })
  default:
    var object = JSONObject()
    for index in 0..<Int(random.next() % 3) { object["n\(index)"] = randomValue(&random, depth: depth + 1) }
    return .object(object)
  }
}

let keyPool = ["title", "status", "priority", "tags", "owner", "notes", "estimate", "extra"]

func randomObject(_ random: inout SplitMix64) -> JSONObject {
  var object = JSONObject()
  for key in keyPool.shuffled(using: &random) where random.next() % 3 != 0 {
    object[key] = randomValue(&random)
  }
  return object
}

/// An update of `old`: some keys changed, some removed, some added, some kept.
func randomUpdate(of old: JSONObject, _ random: inout SplitMix64) -> JSONObject {
  var new = JSONObject()
  for (key, value) in old {
    switch random.next() % 4 {
    case 0: continue  // removed
    case 1: new[key] = randomValue(&random)  // changed (or, by chance, the same)
    default: new[key] = value  // kept
    }
  }
  for key in keyPool where old[key] == nil && random.next() % 3 == 0 {
    new[key] = randomValue(&random)
  }
  return new
}

@Test func generatedUpdatesUndoToTheOldRecord() throws {
  var random = SplitMix64(seed: 42)
  var patched = 0
  for _ in 0..<2000 {
    let old = randomObject(&random)
    let new = randomUpdate(of: old, &random)
    guard let patch = DeltaPatch.make(from: .object(old), to: .object(new)) else {
      #expect(JSONValue.object(old).isIdentical(to: .object(new)))
      continue
    }
    patched += 1
    #expect(patch.apply(to: .object(new)) == .object(old))
    // $set holds exactly the old values of changed or removed keys, in the old record's order.
    let expectedSet = old.filter { key, value in !(new[key]?.isIdentical(to: value) ?? false) }.map(\.key)
    #expect(patch.set.keys == expectedSet)
    #expect(patch.unset == new.keys.filter { old[$0] == nil })
    // The stored form reads back as the same patch.
    #expect(try DeltaPatch(jsonValue: patch.jsonValue) == patch)
    #expect(try DeltaPatch(jsonValue: JSONValue(parsing: patch.jsonValue.serialized())) == patch)
  }
  #expect(patched > 1000)
}

@Test func noChangeAndNonObjectsGiveNoPatch() {
  let record: JSONValue = ["a": 1, "b": ["c": [1, 2]]]
  #expect(DeltaPatch.make(from: record, to: record) == nil)
  #expect(DeltaPatch.make(from: record, to: ["a": 1, "b": ["c": [1, 2]]]) == nil)
  #expect(DeltaPatch.make(from: "text", to: "other") == nil)
  #expect(DeltaPatch.make(from: [1, 2], to: [1]) == nil)
  #expect(DeltaPatch.make(from: record, to: "text") == nil)
  #expect(DeltaPatch.make(from: .null, to: record) == nil)
  #expect(DeltaPatch(set: ["a": 1]).apply(to: "text") == "text")
}

@Test func samenessIsTheJSONText() throws {
  // Equal under == but not the same text: a reordered nested object is a change.
  let old: JSONValue = ["o": ["x": 1, "y": 2], "n": 1]
  let new: JSONValue = ["o": ["y": 2, "x": 1], "n": 1.0]
  let patch = try #require(DeltaPatch.make(from: old, to: new))
  #expect(patch.set.keys == ["o"])
  #expect(patch.apply(to: new).isIdentical(to: old))
}

@Test func storedFormOmitsEmptyParts() throws {
  #expect(DeltaPatch(set: ["a": 1]).jsonValue.jsonText == #"{"$set":{"a":1}}"#)
  #expect(DeltaPatch(unset: ["b"]).jsonValue.jsonText == #"{"$unset":["b"]}"#)
  #expect(DeltaPatch(set: ["a": 1], unset: ["b"]).jsonValue.jsonText == #"{"$set":{"a":1},"$unset":["b"]}"#)
  #expect(throws: OpsLogError.self) { try DeltaPatch(jsonValue: ["$set": 1]) }
  #expect(throws: OpsLogError.self) { try DeltaPatch(jsonValue: ["$unset": [1]]) }
  #expect(throws: OpsLogError.self) { try DeltaPatch(jsonValue: "patch") }
}

@Test func smallerComparesCompactByteLengths() throws {
  let big: JSONValue = ["title": "A fairly long title", "status": "active", "notes": "xxxxxxxxxxxxxxxxxxxx"]
  let small = try #require(
    DeltaPatch.make(from: big, to: ["title": "A fairly long title", "status": "done", "notes": "xxxxxxxxxxxxxxxxxxxx"]))
  #expect(small.isSmaller(than: big))
  let tiny: JSONValue = ["a": 1]
  let replaced = try #require(DeltaPatch.make(from: tiny, to: ["b": 2]))
  #expect(!replaced.isSmaller(than: tiny))
  #expect(
    replaced.isSmaller(than: tiny) == (replaced.jsonValue.serialized().count < tiny.serialized().count))
  // Equal lengths are not smaller.
  let equal = DeltaPatch(set: ["k": "v"])
  let sameLength = try JSONValue(parsing: #"{"$set":{"k":"v"}}"#)
  #expect(!equal.isSmaller(than: sameLength))
}

/// Replays a WAL over a snapshot and checks every line's `prev` against the state it undoes:
/// delta lines must give back the old record and match the patch this codec would make.
func checkUndoInformation(fixture: String, snapshot: String, wal: String) throws -> Int {
  var state = OrderedState()
  for line in Fixture.lines(try Fixture.bytes(fixture, "store/" + snapshot)).dropFirst() {
    let value = try JSONValue(parsing: line)
    state.set(try #require(value["id"]?.stringValue), try #require(value["data"]))
  }
  var deltas = 0
  for line in try Fixture.walLines(fixture, wal) {
    let operation = try OperationLine.decode(line)
    let before = state[operation.id]
    switch operation.previous {
    case .none:
      #expect(before == nil)
    case .record(let record):
      #expect(before == record)
    case .delta(let patch):
      deltas += 1
      let data = try #require(operation.data)
      let old = try #require(before)
      #expect(patch.apply(to: data) == old)
      let made = try #require(DeltaPatch.make(from: old, to: data))
      #expect(made.jsonValue.serialized() == patch.jsonValue.serialized())
      #expect(made.isSmaller(than: old))
    }
    state.apply(operation)
  }
  return deltas
}

@Test func checkpointedFixtureDeltaLinesUndo() throws {
  let deltas = try checkUndoInformation(
    fixture: "checkpointed", snapshot: "snapshots/snap-1795353326674.jsonl", wal: "ops/ops-1795353326678.jsonl")
  #expect(deltas == 13)
}

@Test func walReplayFixtureDeltaLinesUndo() throws {
  let deltas = try checkUndoInformation(
    fixture: "wal-replay", snapshot: "snapshots/snap-1795353326718.jsonl", wal: "ops/ops-1795353326719.jsonl")
  #expect(deltas == 20)
}
