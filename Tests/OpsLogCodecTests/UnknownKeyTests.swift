import OpsLogTypes
import Testing

@testable import OpsLogCodec

private struct Person: Codable, Equatable {
  var name: String
  var id: Int
}

private struct Card: Codable, Equatable {
  var title: String
  var status: String
  var note: String?
  var assignee: Person
}

private struct TitleOnly: Codable, Equatable { var title: String }

private struct TitleAndNote: Codable, Equatable {
  var title: String
  var note: String?
}

private struct Deck: Codable, Equatable {
  var cards: [Card]
}

private struct Team: Codable, Equatable {
  var name: String
  var members: [Person]
}

/// Asks for `flag` with `contains` and `maybe` with `decodeNil`, and reads neither.
private struct AsksWithoutReading: Decodable {
  var hasFlag: Bool
  var maybeIsNull: Bool
  enum CodingKeys: String, CodingKey { case flag, maybe }
  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    hasFlag = container.contains(.flag)
    maybeIsNull = try container.decodeNil(forKey: .maybe)
  }
}

/// Reads the whole value as a tree, through a single-value container.
private struct WholeTree: Decodable {
  var value: JSONValue
  init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(JSONValue.self) }
}

/// Reads the whole value as a dictionary, through a single-value container.
private struct AsDictionary: Decodable {
  var value: [String: Int]
  init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode([String: Int].self) }
}

/// Reads `title` itself and `status` through a second view of the same object.
private struct TwoViews: Decodable {
  struct Status: Decodable { var status: String }
  var title: String
  var status: String
  enum CodingKeys: String, CodingKey { case title }
  init(from decoder: any Decoder) throws {
    title = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .title)
    status = try decoder.singleValueContainer().decode(Status.self).status
  }
}

/// Reads `person.name` through `nestedContainer`.
private struct ThroughNestedContainer: Decodable {
  var name: String
  enum CodingKeys: String, CodingKey { case person }
  enum PersonKeys: String, CodingKey { case name }
  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    name = try container.nestedContainer(keyedBy: PersonKeys.self, forKey: .person).decode(String.self, forKey: .name)
  }
}

/// Reads only the first element of `list`.
private struct FirstOnly: Decodable {
  var first: Int
  enum CodingKeys: String, CodingKey { case list }
  init(from decoder: any Decoder) throws {
    var list = try decoder.container(keyedBy: CodingKeys.self).nestedUnkeyedContainer(forKey: .list)
    first = try list.decode(Int.self)
  }
}

/// Decodes from any decoder without looking at it.
private struct Ignores: Decodable {
  init(from decoder: any Decoder) throws {}
}

private struct HoldsIgnored: Decodable {
  var title: String
  var extra: Ignores
}

@Suite("Unknown keys: what a decode did not read")
struct UnknownKeyTests {
  let decoder = RecordDecoder()

  func unknown<T: Decodable>(_ type: T.Type, _ text: String) throws -> UnknownKeys? {
    let bytes = Array(text.utf8)
    let viaCollection = try decoder.decodeNotingUnknownKeys(type, from: bytes).unknownKeys
    let viaBuffer = try bytes.withUnsafeBytes { try decoder.decodeNotingUnknownKeys(type, from: $0).unknownKeys }
    let viaSequence = try decoder.decodeNotingUnknownKeys(type, from: bytes.lazy.map { $0 }).unknownKeys
    #expect(viaCollection == viaBuffer)
    #expect(viaCollection == viaSequence)
    return viaCollection
  }

  let task = #"{"title":"t","status":"s","note":"n","assignee":{"name":"ann","id":1}}"#

  @Test func aMatchingTypeReadsEverything() throws {
    #expect(try unknown(Card.self, task) == nil)
    let (value, keys) = try decoder.decodeNotingUnknownKeys(Card.self, from: Array(task.utf8))
    #expect(keys == nil)
    #expect(value == Card(title: "t", status: "s", note: "n", assignee: Person(name: "ann", id: 1)))
    #expect(try unknown(JSONValue.self, task) == nil)
    #expect(try unknown(WholeTree.self, task) == nil)
    #expect(try unknown(AsDictionary.self, #"{"a":1,"b":2}"#) == nil)
    #expect(try unknown([String: JSONValue].self, task) == nil)
    // The same decoder goes on tracking nothing for a plain decode.
    #expect(try decoder.decode(TitleOnly.self, from: Array(task.utf8)) == TitleOnly(title: "t"))
  }

  @Test func absentOptionalsCountAsAsked() throws {
    #expect(try unknown(Card.self, #"{"title":"t","status":"s","assignee":{"name":"a","id":1}}"#) == nil)
    // An explicit null read as absent is asked for, but the type would write the member
    // back as absent: the report says so, and a store keeps the JSON as stored.
    #expect(
      try unknown(Card.self, #"{"title":"t","note":null,"status":"s","assignee":{"name":"a","id":1}}"#)
        == UnknownKeys(topLevel: [], nested: false, readNullAsAbsent: true))
    #expect(
      try unknown(Card.self, #"{"title":"t","note":null,"x":2,"status":"s","assignee":{"name":"a","id":1}}"#)
        == UnknownKeys(topLevel: ["x"], nested: false, readNullAsAbsent: true))
    // Below the top level too (an optional property of a nested value).
    #expect(
      try unknown(Deck.self, #"{"cards":[{"title":"t","status":"s","note":null,"assignee":{"name":"a","id":1}}]}"#)
        == UnknownKeys(topLevel: [], nested: false, readNullAsAbsent: true))
    // An absent optional forces a member table; the unknown key is still found there.
    #expect(
      try unknown(Card.self, #"{"title":"t","extra":[1],"status":"s","assignee":{"name":"a","id":1}}"#)
        == UnknownKeys(topLevel: ["extra"], nested: false))
  }

  @Test func aTrailingAbsentOptionalNeedsNoTable() throws {
    // After the last member is read at the cursor, an absent key is answered from the keys
    // read there.
    let decoder = RecordDecoder()
    #expect(try decoder.decode(TitleAndNote.self, from: Array(#"{"title":"t"}"#.utf8)) == TitleAndNote(title: "t"))
    #expect(try unknown(TitleAndNote.self, #"{"title":"t"}"#) == nil)
    #expect(throws: DecodingError.self) { try decoder.decode(TitleAndNote.self, from: Array(#"{}"#.utf8)) }
    #expect(
      try decoder.decode(TitleAndNote.self, from: Array(#"{"note":"n","title":"t"}"#.utf8))
        == TitleAndNote(title: "t", note: "n"))
    #expect(try unknown(TitleAndNote.self, #"{"title":"t","x":1}"#) == UnknownKeys(topLevel: ["x"], nested: false))
  }

  @Test func topLevelKeysInFileOrder() throws {
    #expect(try unknown(TitleOnly.self, task) == UnknownKeys(topLevel: ["status", "note", "assignee"], nested: false))
    #expect(
      try unknown(TitleOnly.self, #"{"z":1,"title":"t","a":2}"#) == UnknownKeys(topLevel: ["z", "a"], nested: false))
    // Escaped keys are reported as the strings they stand for.
    #expect(
      try unknown(TitleOnly.self, #"{"title":"t","\u00e9\n":1}"#) == UnknownKeys(topLevel: ["é\n"], nested: false))
    // A key repeated among the unknown ones is reported once.
    #expect(try unknown(TitleOnly.self, #"{"x":1,"title":"t","x":2}"#) == UnknownKeys(topLevel: ["x"], nested: false))
  }

  @Test func nestedObjectsAndArraysOfObjects() throws {
    #expect(
      try unknown(Card.self, #"{"title":"t","status":"s","assignee":{"name":"a","id":1,"email":"e"}}"#)
        == UnknownKeys(topLevel: [], nested: true))
    #expect(try unknown(Team.self, #"{"name":"n","members":[{"name":"a","id":1},{"name":"b","id":2}]}"#) == nil)
    #expect(
      try unknown(Team.self, #"{"name":"n","members":[{"name":"a","id":1},{"name":"b","id":2,"x":0}],"more":1}"#)
        == UnknownKeys(topLevel: ["more"], nested: true))
  }

  @Test func customDecodersAskInTheirOwnWays() throws {
    #expect(try unknown(AsksWithoutReading.self, #"{"flag":true,"maybe":1}"#) == nil)
    #expect(try unknown(AsksWithoutReading.self, #"{"maybe":null,"flag":true}"#) == nil)
    #expect(
      try unknown(AsksWithoutReading.self, #"{"flag":true,"other":1,"maybe":null}"#)
        == UnknownKeys(topLevel: ["other"], nested: false))
    #expect(try unknown(TwoViews.self, #"{"title":"t","status":"s"}"#) == nil)
    #expect(
      try unknown(TwoViews.self, #"{"title":"t","status":"s","x":1}"#) == UnknownKeys(topLevel: ["x"], nested: false))
    #expect(try unknown(ThroughNestedContainer.self, #"{"person":{"name":"a"}}"#) == nil)
    #expect(
      try unknown(ThroughNestedContainer.self, #"{"person":{"name":"a","age":3}}"#)
        == UnknownKeys(topLevel: [], nested: true))
    #expect(try unknown(FirstOnly.self, #"{"list":[1]}"#) == nil)
    #expect(try unknown(FirstOnly.self, #"{"list":[1,2]}"#) == UnknownKeys(topLevel: [], nested: true))
  }

  @Test func valuesTheTypeNeverOpened() throws {
    #expect(try unknown(Ignores.self, #"{"a":1,"b":{}}"#) == UnknownKeys(topLevel: ["a", "b"], nested: false))
    #expect(try unknown(Ignores.self, #"{}"#) == nil)
    #expect(try unknown(Ignores.self, #"3"#) == nil)
    #expect(
      try unknown(HoldsIgnored.self, #"{"title":"t","extra":{"k":1}}"#) == UnknownKeys(topLevel: [], nested: true))
    #expect(try unknown(HoldsIgnored.self, #"{"title":"t","extra":{}}"#) == nil)
    #expect(try unknown(HoldsIgnored.self, #"{"title":"t","extra":"scalar"}"#) == nil)
  }

  @Test func repeatedKeysStillLetTheLastWin() throws {
    let (value, keys) = try decoder.decodeNotingUnknownKeys(
      TitleOnly.self, from: Array(#"{"title":"a","x":1,"title":"b"}"#.utf8))
    #expect(value == TitleOnly(title: "b"))
    #expect(keys == UnknownKeys(topLevel: ["x"], nested: false))
  }

  @Test func errorsAreThoseOfDecode() {
    #expect(throws: OpsLogError.self) {
      try decoder.decodeNotingUnknownKeys(TitleOnly.self, from: Array(#"{"title":"t",}"#.utf8))
    }
    #expect(throws: DecodingError.self) {
      try decoder.decodeNotingUnknownKeys(TitleOnly.self, from: Array(#"{"x":1}"#.utf8))
    }
  }

  @Test func manyRecordsInARowKeepTheirOwnReports() throws {
    for index in 0..<100 {
      let text = index % 3 == 0 ? #"{"title":"t","extra\#(index)":1}"# : #"{"title":"t"}"#
      let keys = try decoder.decodeNotingUnknownKeys(TitleOnly.self, from: Array(text.utf8)).unknownKeys
      #expect(keys == (index % 3 == 0 ? UnknownKeys(topLevel: ["extra\(index)"], nested: false) : nil))
    }
  }
}

@Suite("Merging unknown keys into a new encoding")
struct RecordMergeTests {
  func merge(_ keys: [String], _ stored: String, _ new: String) -> String {
    String(
      decoding: RecordMerge.mergingUnknownKeys(keys, from: Array(stored.utf8), into: Array(new.utf8)), as: UTF8.self)
  }

  @Test func appendsTheMissingMembersByteForByte() {
    #expect(
      merge(["extra"], #"{"title":"old","extra":{ "a" : [1, 2.50] }}"#, #"{"title":"new"}"#)
        == #"{"title":"new","extra":{ "a" : [1, 2.50] }}"#)
    // In the stored object's order, whatever the order of `keys`.
    #expect(merge(["b", "a"], #"{"a":1,"b":2,"c":3}"#, #"{"c":4}"#) == #"{"c":4,"a":1,"b":2}"#)
    #expect(merge(["a"], #"{"a":1}"#, #"{}"#) == #"{"a":1}"#)
    #expect(merge(["a"], #"{"a":1}"#, "{ }") == #"{ "a":1}"#)
    #expect(merge(["\u{E9}"], #"{"\u00e9":1}"#, #"{"x":0}"#) == #"{"x":0,"\u00e9":1}"#)
  }

  @Test func keepsWhatTheNewEncodingHas() {
    #expect(merge(["title"], #"{"title":"old"}"#, #"{"title":"new"}"#) == #"{"title":"new"}"#)
    #expect(merge(["missing"], #"{"title":"old"}"#, #"{"title":"new"}"#) == #"{"title":"new"}"#)
    #expect(merge([], #"{"a":1}"#, #"{"b":2}"#) == #"{"b":2}"#)
    #expect(merge(["a", "a"], #"{"a":1}"#, #"{"b":2}"#) == #"{"b":2,"a":1}"#)
  }

  @Test func exactKeysAndTheLastRepeatWins() {
    #expect(merge(["x"], #"{"x":1,"x":2}"#, #"{}"#) == #"{"x":2}"#)
    #expect(merge(["x", "y"], #"{"x":1,"y":0,"x":2}"#, #"{}"#) == #"{"x":2,"y":0}"#)
    // White space after the new encoding's closing brace is not in the way.
    #expect(merge(["x"], #"{"x":1}"#, "{\"a\":0} \n") == #"{"a":0,"x":1}"#)
    let composed = "\u{E9}"
    let decomposed = "e\u{301}"
    #expect(
      merge([decomposed], "{\"\(decomposed)\":2}", "{\"\(composed)\":1}") == "{\"\(composed)\":1,\"\(decomposed)\":2}")
  }

  @Test func invalidInputsLeaveTheNewEncodingAlone() {
    #expect(merge(["a"], #"{"a":1"#, #"{"b":2}"#) == #"{"b":2}"#)
    #expect(merge(["a"], #"[1]"#, #"{"b":2}"#) == #"{"b":2}"#)
    #expect(merge(["a"], #"{"a":1}"#, #"[2]"#) == #"[2]"#)
  }

  @Test func aDecodeAndAMergeKeepAnOlderTypesRecordWhole() throws {
    let stored = Array(#"{"title":"t","status":"s","note":"n","assignee":{"name":"ann","id":1}}"#.utf8)
    let (value, keys) = try RecordDecoder().decodeNotingUnknownKeys(TitleOnly.self, from: stored)
    let unknown = try #require(keys)
    var updated = value
    updated.title = "u"
    let merged = RecordMerge.mergingUnknownKeys(
      unknown.topLevel, from: stored, into: try RecordEncoder().encodeBytes(updated))
    #expect(
      String(decoding: merged, as: UTF8.self)
        == #"{"title":"u","status":"s","note":"n","assignee":{"name":"ann","id":1}}"#)
  }
}
