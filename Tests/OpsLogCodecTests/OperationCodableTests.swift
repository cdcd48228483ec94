import Foundation
import OpsLogCodec
import Testing

@Suite("LogOperation and DeltaPatch as Codable")
struct OperationCodableTests {
  struct Note: Codable, Sendable, Equatable { var text: String }

  let ts = "2026-04-01T10:00:00.000Z"

  func decode(_ line: String) throws -> LogOperation<Note> {
    try RecordDecoder().decode(LogOperation<Note>.self, from: Array(line.utf8))
  }

  @Test func encodesAsTheWALLineByteForByte() throws {
    let operation = LogOperation<JSONValue>(
      timestamp: ts, kind: .set, id: "a", data: ["text": "new"],
      previous: .delta(DeltaPatch(set: ["text": "old"], unset: ["tag"])), agent: "laptop", clock: 3)
    #expect(try RecordEncoder().encodeBytes(operation) == OperationLine.encode(operation))
    let create = LogOperation<JSONValue>(timestamp: ts, kind: .set, id: "a", data: ["n": 1], previous: .none)
    #expect(try RecordEncoder().encodeBytes(create) == OperationLine.encode(create))
    let delete = LogOperation<JSONValue>(timestamp: ts, kind: .delete, id: "a", data: nil, previous: .record(["n": 1]))
    #expect(try RecordEncoder().encodeBytes(delete) == OperationLine.encode(delete))
    // And reads back equal, through this codec and through Foundation's.
    for value in [operation, create, delete] {
      #expect(try RecordDecoder().decode(LogOperation<JSONValue>.self, from: OperationLine.encode(value)) == value)
      #expect(try JSONDecoder().decode(LogOperation<JSONValue>.self, from: JSONEncoder().encode(value)) == value)
    }
  }

  @Test func acceptsWhatTheFormatAllows() throws {
    #expect(try decode(#"{"ts":"\#(ts)","op":"set","id":"a","data":{"text":"x"}}"#).previous == .none)
    #expect(try decode(#"{"ts":"\#(ts)","op":"set","id":"a","prev":null,"data":{"text":"x"}}"#).previous == .none)
    #expect(
      try decode(#"{"ts":"\#(ts)","op":"set","id":"a","prev":{"text":"w"},"data":{"text":"x"},"encoding":"full"}"#)
        .previous == .record(Note(text: "w")))
    #expect(
      try decode(#"{"ts":"\#(ts)","op":"delete","id":"a","prev":{"text":"w"},"agent":"b","clock":0}"#)
        == LogOperation(
          timestamp: ts, kind: .delete, id: "a", data: nil, previous: .record(Note(text: "w")), agent: "b", clock: 0))
  }

  @Test(arguments: [
    #"{"op":"set","id":"a","data":{"text":"x"}}"#,  // ts missing
    #"{"ts":"","op":"set","id":"a","data":{"text":"x"}}"#,  // ts empty
    #"{"ts":"T","op":"put","id":"a","data":{"text":"x"}}"#,  // op unknown
    #"{"ts":"T","op":"set","id":"","data":{"text":"x"}}"#,  // id empty
    #"{"ts":"T","op":"set","id":"a"}"#,  // data missing in a set
    #"{"ts":"T","op":"set","id":"a","data":null}"#,  // data null in a set
    #"{"ts":"T","op":"delete","id":"a","prev":{"text":"w"},"data":{"text":"x"}}"#,  // data in a delete
    #"{"ts":"T","op":"delete","id":"a"}"#,  // prev missing in a delete
    #"{"ts":"T","op":"delete","id":"a","prev":{"$set":{}},"encoding":"delta"}"#,  // delta in a delete
    #"{"ts":"T","op":"set","id":"a","data":{"text":"x"},"encoding":"delta"}"#,  // delta without prev
    #"{"ts":"T","op":"set","id":"a","data":{"text":"x"},"encoding":"zip"}"#,  // encoding unknown
    #"{"ts":"T","op":"set","id":"a","data":{"text":"x"},"agent":""}"#,  // agent empty
    #"{"ts":"T","op":"set","id":"a","data":{"text":"x"},"clock":-1}"#,  // clock negative
    #"{"ts":"T","op":"set","id":"a","prev":{"$set":{},"$other":1},"data":{"text":"x"},"encoding":"delta"}"#,
    #"{"ts":"T","op":"set","id":"a","prev":{"$set":[1]},"data":{"text":"x"},"encoding":"delta"}"#,
  ])
  func rejectsWhatTheFormatForbids(_ line: String) {
    #expect(throws: DecodingError.self) { try decode(line) }
  }

  @Test func deltaPatchesCodeAsTheirStoredForm() throws {
    let patch = DeltaPatch(set: ["a": 1], unset: ["b"])
    #expect(
      String(decoding: try RecordEncoder().encodeBytes(patch), as: UTF8.self) == #"{"$set":{"a":1},"$unset":["b"]}"#)
    #expect(
      try RecordDecoder().decode(DeltaPatch.self, from: Array(#"{"$unset":["b"]}"#.utf8)) == DeltaPatch(unset: ["b"]))
    #expect(String(decoding: try RecordEncoder().encodeBytes(DeltaPatch()), as: UTF8.self) == "{}")
    #expect(try RecordDecoder().decode(DeltaPatch.self, from: Array(#"{}"#.utf8)) == DeltaPatch())
  }

  @Test func operationsCompare() {
    let one = LogOperation<Note>(timestamp: ts, kind: .set, id: "a", data: Note(text: "x"), previous: .none)
    var other = one
    #expect(one == other)
    other.data = Note(text: "y")
    #expect(one != other)
  }
}
