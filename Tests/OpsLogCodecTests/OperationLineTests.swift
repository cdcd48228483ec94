import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// One broken rule of Docs/FORMAT.md's WAL line table, with the field its reason must name.
struct BrokenLine: Sendable, CustomTestStringConvertible {
  let line: String
  let field: String
  var testDescription: String { line }
}

let brokenLines: [BrokenLine] = [
  BrokenLine(line: #"[1,2]"#, field: "object"),
  BrokenLine(line: #"{"op":"set","id":"a","prev":null,"data":{}}"#, field: "ts"),
  BrokenLine(line: #"{"ts":5,"op":"set","id":"a","prev":null,"data":{}}"#, field: "ts"),
  BrokenLine(line: #"{"ts":"","op":"set","id":"a","prev":null,"data":{}}"#, field: "ts"),
  BrokenLine(line: #"{"ts":"t","id":"a","prev":null,"data":{}}"#, field: "op"),
  BrokenLine(line: #"{"ts":"t","op":"upsert","id":"a","prev":null,"data":{}}"#, field: "op"),
  BrokenLine(line: #"{"ts":"t","op":"set","prev":null,"data":{}}"#, field: "id"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":7,"prev":null,"data":{}}"#, field: "id"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"","prev":null,"data":{}}"#, field: "id"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null}"#, field: "data"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null,"data":null}"#, field: "data"),
  BrokenLine(line: #"{"ts":"t","op":"delete","id":"a","prev":{"x":1},"data":{"x":1}}"#, field: "data"),
  BrokenLine(line: #"{"ts":"t","op":"delete","id":"a"}"#, field: "prev"),
  BrokenLine(line: #"{"ts":"t","op":"delete","id":"a","prev":null}"#, field: "prev"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":{"x":1},"data":{},"encoding":"zip"}"#, field: "encoding"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null,"data":{},"encoding":"delta"}"#, field: "encoding"),
  BrokenLine(line: #"{"ts":"t","op":"delete","id":"a","prev":{"$set":{}},"encoding":"delta"}"#, field: "encoding"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":5,"data":{},"encoding":"delta"}"#, field: "prev"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":{"$set":[1]},"data":{},"encoding":"delta"}"#, field: "$set"),
  BrokenLine(
    line: #"{"ts":"t","op":"set","id":"a","prev":{"$unset":"k"},"data":{},"encoding":"delta"}"#, field: "$unset"),
  BrokenLine(
    line: #"{"ts":"t","op":"set","id":"a","prev":{"$unset":[1]},"data":{},"encoding":"delta"}"#, field: "$unset"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":{"$inc":{}},"data":{},"encoding":"delta"}"#, field: "$inc"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null,"data":{},"agent":3}"#, field: "agent"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null,"data":{},"agent":""}"#, field: "agent"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null,"data":{},"clock":1.5}"#, field: "clock"),
  BrokenLine(line: #"{"ts":"t","op":"set","id":"a","prev":null,"data":{},"clock":-1}"#, field: "clock"),
]

func invalidOperationReason(_ line: String) -> String? {
  do {
    _ = try OperationLine.decode(Array(line.utf8))
    return nil
  } catch OpsLogError.invalidOperation(let reason) {
    return reason
  } catch {
    return "unexpected error \(error)"
  }
}

@Test(arguments: brokenLines)
func brokenRuleIsInvalidOperationNamingTheField(_ broken: BrokenLine) throws {
  let reason = try #require(invalidOperationReason(broken.line), "decoded a line that breaks a rule")
  #expect(!reason.hasPrefix("unexpected error"), "\(reason)")
  #expect(reason.contains(broken.field), "reason \"\(reason)\" does not name \(broken.field)")
}

@Test func everyBrokenRuleHasItsOwnReason() {
  let reasons = brokenLines.map { invalidOperationReason($0.line) ?? "decoded" }
  #expect(Set(reasons).count == brokenLines.count, "\(reasons)")
}

@Test func notJSONIsInvalidJSON() {
  for line in ["{not json at all", "", "{\"ts\":\"t\",", "nul"] {
    #expect {
      try OperationLine.decode(Array(line.utf8))
    } throws: { error in
      if case OpsLogError.invalidJSON = error { return true }
      return false
    }
  }
}

@Test func widenedRecordsAndOptionalFieldsDecode() throws {
  let string = try OperationLine.decode(Array(#"{"ts":"t","op":"set","id":"a","prev":[1],"data":"text"}"#.utf8))
  #expect(string.data == "text")
  #expect(string.previous == .record([1]))
  let noPrev = try OperationLine.decode(Array(#"{"ts":"t","op":"set","id":"a","data":{"x":1}}"#.utf8))
  #expect(noPrev.previous == .none)
  let full = try OperationLine.decode(
    Array(#"{"ts":"t","op":"delete","id":"a","prev":3,"encoding":"full","agent":"A","clock":0}"#.utf8))
  #expect(full.previous == .record(3))
  #expect(full.agent == "A")
  #expect(full.clock == 0)
  #expect(full.data == nil)
  let delta = try OperationLine.decode(
    Array(
      #"{"ts":"t","op":"set","id":"a","prev":{"$set":{"k":1},"$unset":["n"]},"data":{"n":2},"encoding":"delta"}"#.utf8))
  #expect(delta.previous == .delta(DeltaPatch(set: ["k": 1], unset: ["n"])))
}

@Test(arguments: Fixture.cases)
func fixtureLinesDecodeAndReencodeByteForByte(_ fixture: String) throws {
  var valid = 0
  var invalid = 0
  for file in try Fixture.walFiles(fixture) {
    for line in try Fixture.walLines(fixture, file) {
      guard let operation = try? OperationLine.decode(line) else {
        invalid += 1
        continue
      }
      valid += 1
      let encoded = OperationLine.encode(operation)
      // The legacy fixture's WAL was written by hand in an older layout (`data` before `prev`,
      // an explicit `"encoding":"full"`), so only its meaning survives a round trip.
      if fixture == "legacy-json-snapshot" {
        #expect(try OperationLine.decode(encoded) == operation)
      } else {
        // Compared as text so that a failure shows the two lines; both are valid UTF-8 here.
        #expect(String(decoding: encoded, as: UTF8.self) == String(decoding: line, as: UTF8.self))
      }

      var writer = JSONWriter()
      let previous: EncodedPrevious
      switch operation.previous {
      case .none: previous = .none
      case .record(let record): previous = .record(record.serialized())
      case .delta(let patch): previous = .delta(patch)
      }
      OperationLine.write(
        into: &writer, timestamp: operation.timestamp, kind: operation.kind, id: operation.id, previous: previous,
        data: operation.data?.serialized(), agent: operation.agent, clock: operation.clock)
      #expect(String(decoding: writer.bytes, as: UTF8.self) == String(decoding: encoded, as: UTF8.self) + "\n")
      // The engine's form, assembled in the thread's scratch buffer, is the same line.
      let own = OperationLine.encodedLine(
        timestamp: operation.timestamp, kind: operation.kind, id: operation.id, previous: previous,
        data: operation.data?.serialized(), agent: operation.agent, clock: operation.clock)
      #expect(own == writer.bytes)
    }
  }
  #expect(invalid == (fixture == "torn-tail" ? 3 : 0))
  #expect(valid > 0)
}

@Test func truncatedLineNeverDecodes() throws {
  let line = Array(
    #"{"ts":"2026-04-01T10:00:01.000Z","op":"set","id":"ünï-🔑","prev":{"$set":{"s":"a\"b","n":1.5e-7},"$unset":["x"]},"data":{"x":[1,{"y":null}],"s":"\u0007"},"encoding":"delta","agent":"agent-A","clock":42}"#
      .utf8)
  _ = try OperationLine.decode(line)
  for length in 0..<line.count {
    #expect(throws: OpsLogError.self) { try OperationLine.decode(line[0..<length]) }
  }
}

@Test func mutatedLinesNeverCrash() {
  let line = Array(
    #"{"ts":"2026-04-01T10:00:01.000Z","op":"set","id":"a","prev":{"$set":{"s":"b"}},"data":{"x":[1,{"y":null}]},"encoding":"delta","agent":"A","clock":4}"#
      .utf8)
  var random = SplitMix64(seed: 7)
  let alphabet = Array(#"{}[]",:0123456789-.eEtrufalsn\ "#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
  var decoded = 0
  for _ in 0..<5000 {
    var mutated = line
    for _ in 0..<Int(random.next() % 3 + 1) {
      let position = Int(random.next() % UInt64(mutated.count))
      switch random.next() % 3 {
      case 0: mutated[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
      case 1: mutated.remove(at: position)
      default: mutated.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
      }
    }
    if (try? OperationLine.decode(mutated)) != nil { decoded += 1 }
  }
  // Most mutations break the line; the point is that none of them crashes.
  #expect(decoded < 5000)
}

/// A line assembled while the thread's encoder is busy (inside a record's `encode(to:)`) takes
/// a buffer of its own and leaves the record being encoded intact; batch counts are written.
@Test func encodedLineInsideARecordEncode() throws {
  struct Logging: Encodable {
    var name: String
    func encode(to encoder: any Encoder) throws {
      let line = OperationLine.encodedLine(
        timestamp: "2026-04-01T10:00:01.000Z", kind: .delete, id: "a\"b", previous: .record(Array("{}".utf8)),
        data: nil, agent: "agent-é", clock: 3, batch: 2)
      var container = encoder.singleValueContainer()
      try container.encode(name + String(decoding: line, as: UTF8.self))
    }
  }
  let bytes = try RecordEncoder().encodeBytes(["x": Logging(name: "n")])
  let expectedLine =
    #"{"ts":"2026-04-01T10:00:01.000Z","op":"delete","id":"a\"b","prev":{},"agent":"agent-é","clock":3,"batch":2}"#
    + "\n"
  var expected = JSONWriter()
  expected.write(JSONValue.object(["x": .string("n" + expectedLine)]))
  #expect(String(decoding: bytes, as: UTF8.self) == String(decoding: expected.bytes, as: UTF8.self))
}
