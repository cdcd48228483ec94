import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// What a decoder made of a line, comparable across the two decoders: the operation written
/// back out (which keeps key order and every field), or the exact error.
func outcome(_ decode: () throws -> LogOperation<JSONValue>) -> String {
  do {
    return "decoded " + String(decoding: OperationLine.encode(try decode()), as: UTF8.self)
  } catch {
    return "failed \(String(reflecting: error))"
  }
}

/// Checks that ``OperationLine/decodeEncoded(_:)`` agrees with ``OperationLine/decode(_:)``:
/// the same lines accepted with the same values, the same lines rejected with the same error.
func expectSameOutcome(_ line: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
  let plain = outcome { try OperationLine.decode(line) }
  let encoded = outcome { try OperationLine.decodeEncoded(line[...]).mapRecords(\.value) }
  #expect(
    plain == encoded, "line \(String(decoding: line, as: UTF8.self))", sourceLocation: sourceLocation)
}

/// Lines that the writer never produces but a hand-edited or foreign WAL may hold.
let trickyLines: [String] = [
  #"{"ts":"t","op":"set","id":"a\"b\\c\/d\u00e9\ud83d\ude00","prev":null,"data":{"s":"x\"y\n\u0000"}}"#,
  #"{"ts":"t","op":"set","id":"ünï-🔑","prev":{"k":"ü"},"data":{"k":"🔑","n":-0.5e+3}}"#,
  "  {\t\"ts\" : \"t\" ,\"op\":\"set\" , \"id\":\"a\",\"prev\" : null , \"data\" : { \"b\" : 1 , \"a\" : [ 1 , 2 ] } }\r",
  #"{"data":{"x":1},"prev":null,"id":"a","op":"set","ts":"t"}"#,
  #"{"ts":"t","op":"delete","op":"set","id":"a","prev":null,"data":{}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":1,"data":{"x":2}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"data":null}"#,
  #"{"ts":"t","op":"set","id":"a","d\u0061ta":{"x":1},"prev":null}"#,
  // Keys matched on their bytes: near misses of the format's keys are other members, an
  // escaped key names what it decodes to, whatever its length in the line.
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"dat":1,"datas":2,"tss":3,"encodin":4,"encodings":5}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"":{"e":1},"previous":6,"identity":7,"dätä":8}"#,
  #"{"ts":"t","op":"set","id":"a","prev":{"$set":{"x":0}},"data":{"x":1},"\u0065ncoding":"delta"}"#,
  #"{"\u0074s":"t","o\u0070":"delete","\u0069d":"a","pr\u0065v":{"x":1},"\u0061gent":"A","cl\u006fck":2}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"b\u0061tch":2}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"ts\u0000":"u","dat\u0061\u0000":9}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"extra":{"deep":[1,{"y":[true,false,null]}]}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"extra":[1,}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":01}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":"\ud800"}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1}} x"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1}}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x" 1}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null "data":{"x":1}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":"text"}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":[]}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":false}"#,
  #"{"ts":"t","op":"set","id":"a","data":{"x":1}}"#,
  #"{"ts":"t","op":"set","id":"a","prev":{"x":0},"data":{"x":1},"encoding":"full"}"#,
  #"{"ts":"t","op":"set","id":"a","prev":{"$set":{"x":0},"$unset":["y"]},"data":{"x":1,"y":2},"encoding":"delta"}"#,
  #"{"ts":"t","op":"set","id":"a","prev":{"$set":{"x":0}},"data":{"x":1},"encoding":"delta","agent":"A","clock":3}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"clock":2.0}"#,
  #"{"ts":"t","op":"set","id":"a","prev":null,"data":{"x":1},"clock":1e400}"#,
  #"{"ts":"t","op":"delete","id":"a","prev":{"x":1},"agent":"A","clock":0}"#,
  #"{"ts":"t","op":"delete","id":"a","prev":"text"}"#,
  #"{"ts":"t","op":"delete","id":"a","prev":null,"data":null}"#,
  #"{}"#,
  #"{ }"#,
  #"[]"#,
  #""string""#,
  "null",
  "",
  "   ",
  "\u{FEFF}{}",
]

@Suite("Decoding WAL lines to bytes")
struct EncodedOperationLineTests {
  @Test func brokenLinesFailAsTheFullParseFails() {
    for broken in brokenLines { expectSameOutcome(Array(broken.line.utf8)) }
  }

  @Test func trickyLinesDecodeAsTheFullParseDecodes() {
    var decoded = 0
    for line in trickyLines {
      expectSameOutcome(Array(line.utf8))
      if (try? OperationLine.decodeEncoded(Array(line.utf8)[...])) != nil { decoded += 1 }
    }
    // Both kinds are in the list: a decoder that rejected everything would pass otherwise.
    #expect(decoded > 10)
    #expect(decoded < trickyLines.count - 10)
  }

  @Test(arguments: Fixture.cases)
  func fixtureLinesDecodeAsTheFullParseDecodes(_ fixture: String) throws {
    for file in try Fixture.walFiles(fixture) {
      for line in try Fixture.walLines(fixture, file) { expectSameOutcome(Array(line)) }
    }
  }

  @Test func everyTruncationFailsAsTheFullParseFails() {
    let line = Array(
      #"{"ts":"2026-04-01T10:00:01.000Z","op":"set","id":"ünï-🔑","prev":{"$set":{"s":"a\"b","n":1.5e-7},"$unset":["x"]},"data":{"x":[1,{"y":null}],"s":"\u0007"},"encoding":"delta","agent":"agent-A","clock":42}"#
        .utf8)
    for length in 0...line.count { expectSameOutcome(Array(line[0..<length])) }
  }

  @Test func mutatedLinesDecodeAsTheFullParseDecodes() {
    let line = Array(
      #"{"ts":"2026-04-01T10:00:01.000Z","op":"delete","id":"a","prev":{"s":"b","n":[1,2.5,{}]},"agent":"A","clock":4}"#
        .utf8)
    var random = SplitMix64(seed: 11)
    let alphabet = Array(#"{}[]",:0123456789-.eEtrufalsn\ "#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
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
      expectSameOutcome(mutated)
    }
  }

  @Test func nestingAtTheDepthLimitCountsTheLineObject() {
    // The line object is one level: data may nest maximumDepth - 1 levels, not one more.
    for levels in [JSONValue.maximumDepth - 1, JSONValue.maximumDepth] {
      let data = String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
      let line = #"{"ts":"t","op":"set","id":"a","prev":null,"data":"# + data + "}"
      expectSameOutcome(Array(line.utf8))
    }
    let deep =
      String(repeating: "[", count: JSONValue.maximumDepth) + String(repeating: "]", count: JSONValue.maximumDepth)
    #expect(throws: OpsLogError.self) {
      try OperationLine.decodeEncoded(
        Array((#"{"ts":"t","op":"set","id":"a","prev":null,"data":"# + deep + "}").utf8)[...])
    }
  }

  @Test func recordsAreTheLinesOwnBytes() throws {
    let text = #"xx{"ts":"t","op":"delete","id":"a","prev": { "b" : [1, 2] } ,"agent":"A"}yy"#
    let bytes = Array(text.utf8)
    // A slice in the middle of a larger buffer, as the WAL reader hands lines over.
    let operation = try OperationLine.decodeEncoded(bytes[2..<(bytes.count - 2)])
    guard case .record(let previous) = operation.previous else {
      Issue.record("prev is not a full record")
      return
    }
    #expect(String(decoding: previous.bytes, as: UTF8.self) == #"{ "b" : [1, 2] }"#)
    #expect(previous.value == ["b": [1, 2]])
    #expect(operation.data == nil)
    #expect(operation.agent == "A")
  }
}

@Suite("JSON bytes")
struct JSONBytesTests {
  @Test func validatingAcceptsOneValueWithWhiteSpaceAround() throws {
    for text in ["1", " {\"a\":[1,2]} ", "\"ü\"", "null", "\t[]\n"] {
      let value = try JSONBytes(validating: Array(text.utf8)[...])
      #expect(value.value == (try JSONValue(parsing: text)))
    }
  }

  @Test func validatingRejectsWhatIsNotOneValue() {
    for text in ["", " ", "{", "1 2", "[1,]", "{\"a\":1}}", "\"\\x\"", "nul"] {
      #expect(throws: OpsLogError.self, "\(text)") { try JSONBytes(validating: Array(text.utf8)[...]) }
    }
  }

  @Test func isNullIsTheLiteralOnly() throws {
    #expect(try JSONBytes(validating: Array(" null".utf8)[...]).isNull)
    for text in ["\"null\"", "[null]", "0", "{}", "false"] {
      #expect(!(try JSONBytes(validating: Array(text.utf8)[...]).isNull), "\(text)")
    }
  }
}
