import OpsLogTypes
import Testing

@testable import OpsLogCodec

private struct Status: Codable, Equatable { var status: String }

private struct Person: Codable, Equatable {
  var name: String
  var id: Int
}

private struct Team: Codable, Equatable {
  var lead: Person
  var members: [Person]
}

/// Reads the same key twice, as a hand-written `init(from:)` may (a first attempt as one type,
/// then another), swallowing errors with `try?`.
private struct ReadsTwice: Decodable, Equatable {
  var first: Int?
  var second: Int?
  enum CodingKeys: String, CodingKey { case value }
  init(first: Int?, second: Int?) {
    self.first = first
    self.second = second
  }
  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    first = try? container.decode(Int.self, forKey: .value)
    second = try? container.decode(Int.self, forKey: .value)
  }
}

/// Reads a nested object through `nestedContainer`, which no parent decoder finishes.
private struct ThroughNestedContainer: Decodable, Equatable {
  var name: String
  enum CodingKeys: String, CodingKey { case person }
  enum PersonKeys: String, CodingKey { case name }
  init(name: String) { self.name = name }
  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let person = try container.nestedContainer(keyedBy: PersonKeys.self, forKey: .person)
    name = try person.decode(String.self, forKey: .name)
  }
}

@Suite("Repeated keys: the last one wins")
struct RepeatedKeyTests {
  let decoder = RecordDecoder()

  /// Decodes `text` from bytes, from a parsed tree, and from a non-contiguous collection.
  func decodeEveryWay<T: Decodable & Equatable>(_ type: T.Type, _ text: String) throws -> T {
    let bytes = Array(text.utf8)
    let fromBytes = try decoder.decode(type, from: bytes)
    let fromValue = try decoder.decode(type, from: JSONValue(parsing: bytes))
    let fromSequence = try decoder.decode(type, from: bytes.lazy.map { $0 })
    #expect(fromBytes == fromValue)
    #expect(fromBytes == fromSequence)
    return fromBytes
  }

  @Test func theStatusExample() throws {
    let text = #"{"status":"a","status":"b"}"#
    #expect(try JSONValue(parsing: text)["status"] == "b")
    #expect(try decodeEveryWay(Status.self, text) == Status(status: "b"))
  }

  @Test func theKeyKeepsItsFirstPlace() throws {
    let value = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
    #expect(value.objectValue?.keys == ["a", "b"])
    #expect(value.serialized() == Array(#"{"a":3,"b":2}"#.utf8))
    #expect(try decodeEveryWay([String: Int].self, #"{"a":1,"b":2,"a":3}"#) == ["a": 3, "b": 2])
  }

  @Test func repeatsAnywhereInTheDocument() throws {
    let lead = #"{"name":"ann","id":1,"id":2}"#
    let expected = Team(lead: Person(name: "ann", id: 2), members: [Person(name: "bob", id: 4)])
    // In a nested object, in an object inside an array, and at the top level.
    #expect(try decodeEveryWay(Team.self, #"{"lead":\#(lead),"members":[{"name":"bob","id":3,"id":4}]}"#) == expected)
    #expect(
      try decodeEveryWay(Team.self, #"{"lead":{"name":"x","id":9},"members":[{"name":"bob","id":4}],"lead":\#(lead)}"#)
        == expected)
    // The repeat is the first member the type reads out of order (a member table is built).
    #expect(try decodeEveryWay(Person.self, #"{"id":1,"name":"ann","id":2}"#) == Person(name: "ann", id: 2))
    #expect(try decodeEveryWay(Person.self, #"{"id":1,"id":2,"name":"ann"}"#) == Person(name: "ann", id: 2))
  }

  @Test func anEscapedSpellingIsTheSameKey() throws {
    #expect(try decodeEveryWay(Status.self, #"{"status":"a","st\u0061tus":"b"}"#) == Status(status: "b"))
    #expect(try decodeEveryWay(Status.self, #"{"st\u0061tus":"a","status":"b"}"#) == Status(status: "b"))
  }

  @Test func aTypeThatReadsAKeyTwiceSeesTheLastValueBothTimes() throws {
    #expect(try decodeEveryWay(ReadsTwice.self, #"{"value":1,"value":2}"#) == ReadsTwice(first: 2, second: 2))
    #expect(try decodeEveryWay(ReadsTwice.self, #"{"value":1}"#) == ReadsTwice(first: 1, second: 1))
  }

  @Test func nestedContainersAreCheckedToo() throws {
    #expect(
      try decodeEveryWay(ThroughNestedContainer.self, #"{"person":{"name":"a","name":"b"}}"#)
        == ThroughNestedContainer(name: "b"))
  }

  @Test func repeatsTheTypeDoesNotReadDoNotMatter() throws {
    #expect(try decodeEveryWay(Status.self, #"{"status":"a","other":1,"other":2}"#) == Status(status: "a"))
  }

  @Test func invalidJSONAfterARepeatIsStillInvalidJSON() {
    #expect(throws: OpsLogError.self) {
      try decoder.decode(Status.self, from: Array(#"{"status":"a","status":"b",}"#.utf8))
    }
    #expect(throws: OpsLogError.self) {
      try decoder.decode(Status.self, from: Array(#"{"status":"a","status":"b"} x"#.utf8))
    }
  }

  @Test func aWrongTypeInTheLastValueIsTheError() {
    #expect(throws: DecodingError.self) {
      try decoder.decode(Status.self, from: Array(#"{"status":"a","status":1}"#.utf8))
    }
  }

  @Test func walLinesTakeTheLastValue() throws {
    let line = Array(
      #"{"ts":"2026-04-01T10:00:01.000Z","op":"set","id":"a","id":"b","prev":null,"data":{"x":1},"data":{"x":2}}"#.utf8)
    let operation = try OperationLine.decode(line)
    #expect(operation.id == "b")
    #expect(operation.data == ["x": 2])
    let encoded = try OperationLine.decodeEncoded(line[...])
    #expect(encoded.id == "b")
    #expect(encoded.data?.value == ["x": 2])
  }

  /// The fuzzer's find (2026-12-03): the first of two `priority` members held a string, the
  /// last an integer. The streaming decoder failed on the first before it met the second;
  /// the last value must win from bytes as from the parsed tree.
  @Test func aWrongTypeInTheFirstValueIsNotTheError() throws {
    let text = #"{"name":"ann","id":"one","id":1}"#
    #expect(try decodeEveryWay(Person.self, text) == Person(name: "ann", id: 1))
    let fuzzed = #"{"status":2,"status":  "Taska","status":{},"status":"done"}"#
    #expect(try decodeEveryWay(Status.self, fuzzed) == Status(status: "done"))
    // In a nested object and in an array's element: the repeat is anywhere in the document.
    let expected = Team(lead: Person(name: "ann", id: 2), members: [Person(name: "bob", id: 4)])
    #expect(
      try decodeEveryWay(
        Team.self, #"{"lead":{"name":"ann","id":[],"id":2},"members":[{"name":"bob","id":"x","id":4}]}"#)
        == expected)
    // The decode that keeps unknown keys takes the last value too.
    let noting = try decoder.decodeNotingUnknownKeys(
      Person.self, from: Array(#"{"id":"one","name":"ann","id":1,"x":0}"#.utf8))
    #expect(noting.value == Person(name: "ann", id: 1))
    #expect(noting.unknownKeys?.topLevel == ["x"])
  }

  @Test func aFailureWithoutARepeatIsUnchanged() {
    // No key repeats: the streaming decoder's own error stands.
    #expect(throws: DecodingError.self) {
      try decoder.decode(Person.self, from: Array(#"{"name":"ann","id":"one"}"#.utf8))
    }
    // Keys that are canonically equivalent but not the same bytes are different keys, as in
    // `JSON.parse`: no repeat, so "\u00e9" and "e\u0301" both stay.
    let precomposed = "\u{E9}"
    let decomposed = "e\u{301}"
    let distinct = Array("{\"\(precomposed)\":1,\"\(decomposed)\":2}".utf8)
    #expect(!distinct.withUnsafeBytes { JSONParser.documentRepeatsAKey($0) })
    #expect(Array(#"{"a":1,"a":2}"#.utf8).withUnsafeBytes { JSONParser.documentRepeatsAKey($0) })
    #expect(Array(#"[0,{"b":{"a":1,"a":2}}]"#.utf8).withUnsafeBytes { JSONParser.documentRepeatsAKey($0) })
    #expect(!Array(#"[{"a":1},{"a":2}]"#.utf8).withUnsafeBytes { JSONParser.documentRepeatsAKey($0) })
    // Malformed input repeats nothing: the caller reports the input's own error.
    #expect(!Array(#"{"a":1,"a""#.utf8).withUnsafeBytes { JSONParser.documentRepeatsAKey($0) })
  }
}
