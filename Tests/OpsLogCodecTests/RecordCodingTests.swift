import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

enum Priority: String, Codable, Equatable { case low, high }

enum Shape: Codable, Equatable {
  case circle(radius: Double)
  case rectangle(width: Int, height: Int)
  case named(String)
  case empty
}

struct Assignee: Codable, Equatable {
  var name: String
  var id: Int
}

struct Everything: Codable, Equatable {
  var string: String
  var bool: Bool
  var int: Int
  var int8: Int8
  var int16: Int16
  var int32: Int32
  var int64: Int64
  var uint: UInt
  var uint8: UInt8
  var uint16: UInt16
  var uint32: UInt32
  var uint64: UInt64
  var double: Double
  var float: Float
  var optionalPresent: String?
  var optionalAbsent: Int?
  var nested: Assignee
  var strings: [String]
  var ints: [Int]
  var doubles: [Double]
  var nestedArrays: [[Int]]
  var assignees: [Assignee]
  var priority: Priority
  var shapes: [Shape]
  var date: Date
  var data: Data
  var dictionary: [String: Int]
  var intKeyed: [Int: String]
  var set: Set<String>
  var any: JSONValue
}

let everything = Everything(
  string: "tab\t \"quoted\" ünï 😀", bool: true, int: -42, int8: -128, int16: 32767, int32: -2_147_483_648,
  int64: Int64.max, uint: 7, uint8: 255, uint16: 65535, uint32: 4_294_967_295, uint64: 12_345_678_901_234_567_890,
  double: 0.1,
  float: 1.5, optionalPresent: "here", optionalAbsent: nil, nested: Assignee(name: "ann", id: 3),
  strings: ["a", "b"], ints: [1, -2, 3], doubles: [0.5, 2], nestedArrays: [[1], [], [2, 3]],
  assignees: [Assignee(name: "bob", id: 1)], priority: .high,
  shapes: [.circle(radius: 2.5), .rectangle(width: 2, height: 3), .named("blob"), .empty],
  date: Date(timeIntervalSince1970: 1_775_037_601.123), data: Data([0, 1, 2, 250, 255]), dictionary: ["only": 1],
  intKeyed: [5: "five"], set: ["x"], any: ["z": 1, "a": [true, nil, "s"]])

struct Wrapper<Payload: Codable>: Codable {
  var id: String
  var data: Payload
}

struct Task: Codable, Equatable {
  var title: String
  var status: String
  var priority: Int
  var tags: [String]
  var estimate: Double
  var assignee: Assignee
}

struct Project: Codable {
  var name: String
  var tasks: [Task]
}

/// Text of `error` in every form a reader might see it.
func describe(_ error: any Error) -> String { "\(error) \(String(describing: error))" }

@Suite struct RecordCodingTests {
  let encoder = RecordEncoder()
  let decoder = RecordDecoder()

  @Test func everyFieldKindRoundTripsThroughBytes() throws {
    let bytes = try encoder.encodeBytes(everything)
    let decoded = try decoder.decode(Everything.self, from: bytes)
    #expect(decoded == everything)
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(text.contains(#""date":"2026-04-01T10:00:01.123Z""#))
    #expect(text.contains(#""data":"AAEC+v8=""#))
    #expect(text.contains(#""uint64":12345678901234567890"#))
    #expect(text.contains(#""int64":9223372036854775807"#))
    #expect(text.contains(#""float":1.5"#))
    #expect(text.contains(#""intKeyed":{"5":"five"}"#))
    #expect(text.contains(#""any":{"z":1,"a":[true,null,"s"]}"#))
    #expect(!text.contains("optionalAbsent"))
    #expect(
      text.contains(
        #""shapes":[{"circle":{"radius":2.5}},{"rectangle":{"width":2,"height":3}},{"named":{"_0":"blob"}},{"empty":{}}]"#
      ))
  }

  @Test func keysComeInDeclarationOrder() throws {
    let keys = try encoder.encode(everything).objectValue?.keys
    #expect(
      keys == [
        "string", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
        "double", "float", "optionalPresent", "nested", "strings", "ints", "doubles", "nestedArrays", "assignees",
        "priority", "shapes", "date", "data", "dictionary", "intKeyed", "set", "any",
      ])
    let task = Task(title: "t", status: "s", priority: 1, tags: [], estimate: 0.5, assignee: Assignee(name: "n", id: 2))
    #expect(
      try String(decoding: encoder.encodeBytes(task), as: UTF8.self)
        == #"{"title":"t","status":"s","priority":1,"tags":[],"estimate":0.5,"assignee":{"name":"n","id":2}}"#)
  }

  @Test func bytesAndJSONValuePathsGiveTheSameBytes() throws {
    // A UInt64 beyond Int64 has no exact JSONValue (it becomes a double), so stay below.
    var everything = everything
    everything.uint64 = UInt64(Int64.max)
    let viaBytes = try encoder.encodeBytes(everything)
    let viaValue = try encoder.encode(everything)
    #expect(viaValue.serialized() == viaBytes)
    let decodedFromValue = try decoder.decode(Everything.self, from: viaValue)
    #expect(decodedFromValue == everything)
    #expect(try encoder.encodeBytes(decodedFromValue) == viaBytes)
    // The tree encoder (the out-of-order fallback) writes the same bytes as the streaming one.
    let tree = RecordTreeEncoder(parent: nil, key: nil)
    try tree.encode(everything)
    #expect(tree.jsonValue.serialized() == viaBytes)
  }

  @Test func jsonValueShortCircuitKeepsKeyOrder() throws {
    let text = #"{"zeta":1,"alpha":{"y":2,"b":[3,{"q":null,"c":4}]},"mid":"x"}"#
    let value = try decoder.decode(JSONValue.self, from: Array(text.utf8))
    #expect(value.jsonText == text)
    #expect(try encoder.encodeBytes(value) == Array(text.utf8))
    #expect(try encoder.encode(value).isIdentical(to: value))
    #expect(try decoder.decode(JSONValue.self, from: value).isIdentical(to: value))
    // Nested inside a typed record, too.
    let wrapped = try decoder.decode(Wrapper<JSONValue>.self, from: Array(#"{"id":"a","data":\#(text)}"#.utf8))
    #expect(wrapped.data.jsonText == text)
    #expect(try encoder.encodeBytes(wrapped) == Array(#"{"id":"a","data":\#(text)}"#.utf8))
  }

  @Test func errorsNameTheCodingPath() throws {
    let text = #"""
      {"name":"p","tasks":[
        {"title":"a","status":"s","priority":1,"tags":[],"estimate":1,"assignee":{"name":"n","id":1}},
        {"title":"b","status":"s","priority":2,"tags":[],"estimate":1,"assignee":{"name":"n","id":1}},
        {"title":"c","status":"s","priority":"high","tags":[],"estimate":1,"assignee":{"name":"n","id":1}}]}
      """#
    do {
      _ = try decoder.decode(Project.self, from: Array(text.utf8))
      Issue.record("expected a type mismatch")
    } catch let error as DecodingError {
      guard case .typeMismatch(_, let context) = error else {
        Issue.record("expected typeMismatch, got \(error)")
        return
      }
      #expect(describe(error).contains("tasks[2].priority"))
      #expect(context.codingPath.map(\.stringValue) == ["tasks", "Index 2", "priority"])
    }
    let missing = #"{"name":"p","tasks":[{"title":"a"}]}"#
    #expect {
      try decoder.decode(Project.self, from: Array(missing.utf8))
    } throws: { error in
      guard case .keyNotFound = error as? DecodingError else { return false }
      return describe(error).contains("tasks[0].status")
    }
    let nested =
      #"{"name":"p","tasks":[{"title":"a","status":"s","priority":1,"tags":["x",2],"estimate":1,"assignee":{"name":"n","id":1}}]}"#
    #expect {
      try decoder.decode(Project.self, from: Array(nested.utf8))
    } throws: { describe($0).contains("tasks[0].tags[1]") }
    let wrongNull = #"{"name":null,"tasks":[]}"#
    #expect {
      try decoder.decode(Project.self, from: Array(wrongNull.utf8))
    } throws: { error in
      guard case .valueNotFound = error as? DecodingError else { return false }
      return describe(error).contains("name")
    }
  }

  @Test func integersOfEveryWidthCheckTheirRange() throws {
    struct Small: Codable { var value: Int8 }
    struct Unsigned: Codable { var value: UInt64 }
    struct Wide: Codable { var value: Int64 }
    struct Whole: Codable { var value: Int }
    struct Real: Codable { var value: Double }
    #expect(try decoder.decode(Small.self, from: Array(#"{"value":-128}"#.utf8)).value == -128)
    #expect {
      try decoder.decode(Small.self, from: Array(#"{"value":128}"#.utf8))
    } throws: { error in
      guard case .dataCorrupted = error as? DecodingError else { return false }
      return describe(error).contains("value")
    }
    #expect(throws: DecodingError.self) { try decoder.decode(Unsigned.self, from: Array(#"{"value":-1}"#.utf8)) }
    #expect(
      try decoder.decode(Unsigned.self, from: Array(#"{"value":18446744073709551615}"#.utf8)).value == UInt64.max)
    #expect(throws: DecodingError.self) {
      try decoder.decode(Unsigned.self, from: Array(#"{"value":18446744073709551616}"#.utf8))
    }
    #expect(
      try decoder.decode(Wide.self, from: Array(#"{"value":-9223372036854775808}"#.utf8)).value == Int64.min)
    #expect(
      try decoder.decode(Wide.self, from: Array(#"{"value":9007199254740993}"#.utf8)).value == 9_007_199_254_740_993)
    #expect(throws: DecodingError.self) {
      try decoder.decode(Wide.self, from: Array(#"{"value":9223372036854775808}"#.utf8))
    }
    #expect(try decoder.decode(Whole.self, from: Array(#"{"value":2.0}"#.utf8)).value == 2)
    #expect(try decoder.decode(Whole.self, from: Array(#"{"value":3e2}"#.utf8)).value == 300)
    #expect(throws: DecodingError.self) { try decoder.decode(Whole.self, from: Array(#"{"value":2.5}"#.utf8)) }
    #expect(throws: DecodingError.self) { try decoder.decode(Whole.self, from: Array(#"{"value":"2"}"#.utf8)) }
    #expect(try decoder.decode(Real.self, from: Array(#"{"value":7}"#.utf8)).value == 7)
    #expect(
      try decoder.decode(Real.self, from: Array(#"{"value":-9223372036854775808}"#.utf8)).value == -9.223372036854776e18
    )
    #expect(try decoder.decode(UInt8.self, from: Array("255".utf8)) == 255)
    #expect(throws: DecodingError.self) { try decoder.decode(UInt8.self, from: Array("256".utf8)) }
  }

  @Test func nonFiniteNumbersAreNotEncoded() {
    struct Measured: Codable { var value: Double }
    struct MeasuredFloat: Codable { var values: [Float] }
    for bad in [Double.nan, .infinity, -.infinity] {
      #expect {
        try encoder.encodeBytes(Measured(value: bad))
      } throws: { error in
        guard case .invalidValue = error as? EncodingError else { return false }
        return describe(error).contains("value")
      }
    }
    #expect {
      try encoder.encodeBytes(MeasuredFloat(values: [1, .nan]))
    } throws: { describe($0).contains("values[1]") }
    #expect(throws: EncodingError.self) { try encoder.encodeBytes(Double.nan) }
    // Nothing is left behind in a writer when encoding fails.
    var writer = JSONWriter()
    writer.writeASCII("[")
    #expect(throws: EncodingError.self) { try encoder.encode(Measured(value: .nan), into: &writer) }
    #expect(writer.bytes == Array("[".utf8))
  }

  @Test func optionalsOmitOrAcceptNull() throws {
    struct Maybe: Codable, Equatable {
      var first: String?
      var second: Int?
      var third: [Int]?
    }
    #expect(try encoder.encodeBytes(Maybe(first: nil, second: 2, third: nil)) == Array(#"{"second":2}"#.utf8))
    #expect(
      try decoder.decode(Maybe.self, from: Array(#"{"second":2}"#.utf8)) == Maybe(first: nil, second: 2, third: nil))
    #expect(
      try decoder.decode(Maybe.self, from: Array(#"{"first":null,"second":null,"third":null}"#.utf8))
        == Maybe(first: nil, second: nil, third: nil))
    #expect(
      try decoder.decode(Maybe.self, from: Array(#"{"third":[1],"first":"a"}"#.utf8))
        == Maybe(first: "a", second: nil, third: [1]))
    #expect(throws: DecodingError.self) { try decoder.decode(Maybe.self, from: Array(#"{"second":"x"}"#.utf8)) }
    #expect(try decoder.decode([Int?].self, from: Array("[1,null,3]".utf8)) == [1, nil, 3])
    #expect(try encoder.encodeBytes([1, nil, 3] as [Int?]) == Array("[1,null,3]".utf8))
  }

  @Test func decodesMembersInAnyOrderWithUnknownMembersAndEscapedKeys() throws {
    let text =
      #"{ "assignee" : {"id":4,"name":"x"}, "unknown":[{"deep":[1,2,{"a":"\u00e9"}]}], "estimate":0.25,"#
      + #" "tags":["a"], "priority":5, "stat\u0075s":"done", "title":"T" }"#
    let task = try decoder.decode(Task.self, from: Array(text.utf8))
    #expect(
      task
        == Task(
          title: "T", status: "done", priority: 5, tags: ["a"], estimate: 0.25, assignee: Assignee(name: "x", id: 4)))
  }

  @Test func datesFollowJavaScript() throws {
    let date = try decoder.decode(Date.self, from: Array(#""2026-04-01T10:00:01.000Z""#.utf8))
    #expect(date == Date(timeIntervalSince1970: 1_775_037_601))
    #expect(try decoder.decode(Date.self, from: Array(#""2026-04-01T10:00:01Z""#.utf8)) == date)
    #expect(try encoder.encodeBytes(date) == Array(#""2026-04-01T10:00:01.000Z""#.utf8))
    #expect(try encoder.encodeBytes(Date(timeIntervalSince1970: 0)) == Array(#""1970-01-01T00:00:00.000Z""#.utf8))
    #expect(try encoder.encodeBytes(Date(timeIntervalSince1970: -1.5)) == Array(#""1969-12-31T23:59:58.500Z""#.utf8))
    #expect(
      try encoder.encodeBytes(Date(timeIntervalSince1970: 951_782_400)) == Array(#""2000-02-29T00:00:00.000Z""#.utf8))
    for bad in [#""2026-02-30T00:00:00Z""#, #""2026-04-01 10:00:01Z""#, #""2026-04-01T10:00:01""#, "1775037601"] {
      #expect(throws: DecodingError.self) { try decoder.decode(Date.self, from: Array(bad.utf8)) }
    }
    // Whole milliseconds survive any number of round trips.
    var random = SplitMix64(seed: 3)
    for _ in 0..<1000 {
      let milliseconds = Int64(random.next() % 4_000_000_000_000) - 1_000_000_000_000
      let original = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
      let bytes = try encoder.encodeBytes(original)
      let decoded = try decoder.decode(Date.self, from: bytes)
      #expect(decoded == original)
      #expect(try encoder.encodeBytes(decoded) == bytes)
    }
  }

  /// Past JavaScript's ±275760 a `Date` has no `toJSON` spelling; such a year keeps all its
  /// digits, as ``ISOTime`` writes it, where the record encoder used to write a non-digit
  /// (year 1,000,000 came out as `+:00000`) or trap (year 30,000,000).
  @Test func datesBeyondSixDigitYearsKeepEveryDigit() throws {
    for (year, text) in [
      (1_000_000, "+1000000-01-01T00:00:00.000Z"), (-2_000_000, "-2000000-01-01T00:00:00.000Z"),
      (30_000_000, "+30000000-01-01T00:00:00.000Z"), (275_760, "+275760-01-01T00:00:00.000Z"),
    ] {
      let seconds = RecordDateFormat.days(year: year, month: 1, day: 1) * 86_400
      let bytes = try encoder.encodeBytes(Date(timeIntervalSince1970: Double(seconds)))
      #expect(String(decoding: bytes, as: UTF8.self) == "\"\(text)\"")
      #expect(ISOTime.string(millisecondsSince1970: Int64(seconds) * 1000) == text)
    }
  }

  @Test func dataIsBase64() throws {
    #expect(try encoder.encodeBytes(Data("hello".utf8)) == Array(#""aGVsbG8=""#.utf8))
    #expect(try decoder.decode(Data.self, from: Array(#""aGVsbG8=""#.utf8)) == Data("hello".utf8))
    #expect(throws: DecodingError.self) { try decoder.decode(Data.self, from: Array(#""not base64!""#.utf8)) }
  }

  @Test func singleValuesAndCollections() throws {
    #expect(try decoder.decode(String.self, from: Array(#" "a\nb" "#.utf8)) == "a\nb")
    #expect(try decoder.decode(Bool.self, from: Array("false".utf8)) == false)
    #expect(try decoder.decode([String: [Int]].self, from: Array(#"{"a":[1],"b":[]}"#.utf8)) == ["a": [1], "b": []])
    #expect(try decoder.decode([Int: String].self, from: Array(#"{"1":"x","20":"y"}"#.utf8)) == [1: "x", 20: "y"])
    #expect(try decoder.decode([[Double]].self, from: Array("[[1.5],[2]]".utf8)) == [[1.5], [2]])
    #expect(
      try decoder.decode(Shape.self, from: Array(#"{"rectangle":{"width":1,"height":2}}"#.utf8))
        == .rectangle(width: 1, height: 2))
    #expect(try encoder.encodeBytes("x") == Array(#""x""#.utf8))
    #expect(try encoder.encodeBytes([Priority.low]) == Array(#"["low"]"#.utf8))
    #expect(throws: DecodingError.self) { try decoder.decode(Priority.self, from: Array(#""medium""#.utf8)) }
  }

  /// A hand-written type using nested containers, super coders and out-of-order writes.
  struct Handwritten: Codable, Equatable {
    var a: Int
    var inner: [String]
    var parentValue: String

    enum Keys: String, CodingKey { case a, box, list, `super` }
    enum BoxKeys: String, CodingKey { case inner }

    init(a: Int, inner: [String], parentValue: String) {
      self.a = a
      self.inner = inner
      self.parentValue = parentValue
    }

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: Keys.self)
      let box = try container.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
      var list = try box.nestedUnkeyedContainer(forKey: .inner)
      var inner: [String] = []
      while !list.isAtEnd { inner.append(try list.decode(String.self)) }
      self.inner = inner
      a = try container.decode(Int.self, forKey: .a)
      parentValue = try String(from: container.superDecoder())
    }

    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: Keys.self)
      var box = container.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
      var list = box.nestedUnkeyedContainer(forKey: .inner)
      try container.encode(a, forKey: .a)
      // Written after a sibling: only the tree fallback can place this.
      for element in inner { try list.encode(element) }
      try parentValue.encode(to: container.superEncoder())
    }
  }

  @Test func nestedContainersAndSuperCodersWorkInAnyOrder() throws {
    let value = Handwritten(a: 1, inner: ["x", "y"], parentValue: "p")
    let bytes = try encoder.encodeBytes(value)
    #expect(String(decoding: bytes, as: UTF8.self) == #"{"box":{"inner":["x","y"]},"a":1,"super":"p"}"#)
    #expect(try decoder.decode(Handwritten.self, from: bytes) == value)
    var writer = JSONWriter()
    writer.writeASCII("[")
    try encoder.encode(value, into: &writer)
    writer.writeASCII("]")
    #expect(writer.bytes == Array("[".utf8) + bytes + Array("]".utf8))
  }

  @Test func typedSnapshotLinesRoundTrip() throws {
    for index in [0, 1, 16, 999, 123_456] {
      let task = Task(
        title: "Task number \(index) with some text", status: ["active", "done", "blocked"][index % 3],
        priority: index % 5 + 1, tags: ["a", "b", "t\(index % 17)"], estimate: Double(index % 1000) / 100,
        assignee: Assignee(name: "user\(index % 100)", id: index % 100))
      let line = try encoder.encodeBytes(Wrapper(id: "task-\(index)", data: task))
      let decoded = try line.withUnsafeBytes { try decoder.decode(Wrapper<Task>.self, from: $0) }
      #expect(decoded.data == task)
      #expect(decoded.id == "task-\(index)")
      #expect(try JSONValue(parsing: line).serialized() == line)
      let foundation = try JSONDecoder().decode(Wrapper<Task>.self, from: Data(line))
      #expect(foundation.data == task)
    }
  }

  @Test func generatedDocumentsDecodeAsJSONValueThroughCodable() throws {
    // JSONValue's own Codable conformance, driven by our decoder (not the short-circuit).
    struct Holder: Codable { var values: [JSONValue] }
    var generator = JSONValueGenerator(random: SplitMix64(seed: 11))
    for _ in 0..<200 {
      let value = generator.value()
      let bytes = try encoder.encodeBytes(Holder(values: [value]))
      let decoded = try decoder.decode(Holder.self, from: bytes)
      #expect(decoded.values.first?.isIdentical(to: value) == true)
    }
  }
}

// MARK: - Pooled decoders and encoders

/// Decodes and encodes a second document from inside its own `init(from:)`/`encode(to:)`: the
/// inner call must not take over the pooled decoders/encoders the outer one is using.
struct Reentrant: Codable, Equatable {
  var outer: String
  var inner: Assignee
  var after: Assignee

  enum CodingKeys: String, CodingKey { case outer, inner, after }

  init(outer: String, inner: Assignee, after: Assignee) {
    self.outer = outer
    self.inner = inner
    self.after = after
  }

  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    outer = try container.decode(String.self, forKey: .outer)
    let text = try container.decode(String.self, forKey: .inner)
    inner = try RecordDecoder().decode(Assignee.self, from: Array(text.utf8))
    after = try container.decode(Assignee.self, forKey: .after)
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(outer, forKey: .outer)
    let text = String(decoding: try RecordEncoder().encodeBytes(inner), as: UTF8.self)
    try container.encode(text, forKey: .inner)
    try container.encode(after, forKey: .after)
  }
}

/// Members of different key types at the same depth, alternating, so that each pooled
/// decoder's and encoder's cached container is replaced again and again.
struct Alternating: Codable, Equatable {
  var first: Assignee
  var second: Everything.Pair
  var third: Assignee
  var list: [Everything.Pair]
}

extension Everything {
  struct Pair: Codable, Equatable {
    var left: Int
    var right: [String]
  }
}

@Suite struct PooledCodingTests {
  @Test func reentrantDecodeAndEncode() throws {
    let value = Reentrant(
      outer: "o", inner: Assignee(name: "in", id: 1), after: Assignee(name: "after", id: 2))
    let bytes = try RecordEncoder().encodeBytes(value)
    #expect(
      String(decoding: bytes, as: UTF8.self)
        == #"{"outer":"o","inner":"{\"name\":\"in\",\"id\":1}","after":{"name":"after","id":2}}"#)
    #expect(try RecordDecoder().decode(Reentrant.self, from: bytes) == value)
  }

  @Test func alternatingKeyTypesMatchFoundation() throws {
    var generator = SystemRandomNumberGenerator()
    for round in 0..<500 {
      let value = Alternating(
        first: Assignee(name: "n\(round)", id: Int.random(in: -1_000_000...1_000_000, using: &generator)),
        second: .init(left: round, right: (0..<(round % 4)).map { "s\($0)\u{e9}\"" }),
        third: Assignee(name: "", id: round),
        list: (0..<(round % 3)).map { .init(left: $0, right: ["x\($0)"]) })
      let ours = try RecordEncoder().encodeBytes(value)
      // Foundation's decoder is the independent reference for what the bytes mean.
      #expect(try JSONDecoder().decode(Alternating.self, from: Data(ours)) == value)
      #expect(try RecordDecoder().decode(Alternating.self, from: ours) == value)
      let foundation = try JSONEncoder().encode(value)
      #expect(try RecordDecoder().decode(Alternating.self, from: Array(foundation)) == value)
    }
  }

  @Test func failedDecodeLeavesThePoolUsable() throws {
    let bad = Array(#"{"first":{"name":"a","id":1},"second":{"left":"x","right":[]}}"#.utf8)
    #expect(throws: DecodingError.self) { try RecordDecoder().decode(Alternating.self, from: bad) }
    let good = Alternating(
      first: Assignee(name: "a", id: 1), second: .init(left: 2, right: ["b"]), third: Assignee(name: "c", id: 3),
      list: [.init(left: 4, right: [])])
    #expect(try RecordDecoder().decode(Alternating.self, from: RecordEncoder().encodeBytes(good)) == good)
  }

  @Test func decodesOnManyThreads() async throws {
    let good = Alternating(
      first: Assignee(name: "a", id: 1), second: .init(left: 2, right: ["b"]), third: Assignee(name: "c", id: 3),
      list: [.init(left: 4, right: ["d", "e"])])
    let bytes = try RecordEncoder().encodeBytes(good)
    try await withThrowingTaskGroup(of: Bool.self) { group in
      for _ in 0..<8 {
        group.addTask {
          for _ in 0..<200 {
            let decoded = try RecordDecoder().decode(Alternating.self, from: bytes)
            guard decoded == good, try RecordEncoder().encodeBytes(decoded) == bytes else { return false }
          }
          return true
        }
      }
      for try await ok in group { #expect(ok) }
    }
  }
}

/// A type whose keys change from value to value: the pooled container's key cache must write
/// exactly what the uncached path writes, whatever the order, count or spelling of the keys.
struct ShiftingKeys: Encodable {
  var names: [String]

  struct Key: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: Key.self)
    for (index, name) in names.enumerated() { try container.encode(index, forKey: Key(stringValue: name)) }
  }
}

@Suite struct KeyCacheTests {
  @Test func cachedKeysWriteWhatTheGeneralPathWrites() throws {
    var generator = SystemRandomNumberGenerator()
    let pool =
      ["a", "id", "name", "tags", "quote\"d", "back\\slash", "tab\t", "é", "a much longer key name than fifteen"]
      + (0..<40).map { "k\($0)" }
    for round in 0..<400 {
      let count = round % 7 == 0 ? Int.random(in: 30...45, using: &generator) : Int.random(in: 0...9, using: &generator)
      var names: [String] = []
      for _ in 0..<count { names.append(pool.randomElement(using: &generator)!) }
      let value = ShiftingKeys(names: names)
      let ours = try RecordEncoder().encodeBytes(value)
      var expected = JSONWriter()
      expected.writeByte(UInt8(ascii: "{"))
      for (index, name) in names.enumerated() {
        if index > 0 { expected.writeByte(UInt8(ascii: ",")) }
        expected.write(name)
        expected.writeByte(UInt8(ascii: ":"))
        expected.write(Int64(index))
      }
      expected.writeByte(UInt8(ascii: "}"))
      #expect(ours == expected.bytes, "\(names)")
      // Nested one level down too, where the container comes from a deeper pooled encoder.
      let nested = try RecordEncoder().encodeBytes(["outer": value])
      #expect(nested == Array(#"{"outer":"#.utf8) + expected.bytes + [UInt8(ascii: "}")])
    }
  }
}

@Suite struct StringScanTests {
  /// Strings with quotes, escapes, control characters and non-ASCII bytes at every offset around
  /// the eight-byte scanning steps decode (or fail) exactly as the tree parser reads them.
  @Test func stringsAroundEveryWordBoundary() throws {
    let specials: [String] = [#"\""#, #"\\"#, #"\n"#, #"\u00e9"#, "é", "😀", "\u{7F}"]
    for length in 0..<20 {
      for position in 0...length {
        for special in specials {
          var text = String(repeating: "x", count: length)
          text.insert(contentsOf: special, at: text.index(text.startIndex, offsetBy: position))
          let json = Array("[\"\(text)\"]".utf8)
          let tree = try JSONValue(parsing: json)
          let typed = try RecordDecoder().decode([String].self, from: json)
          #expect(JSONValue.array(typed.map { .string($0) }) == tree)
          #expect(try RecordEncoder().encodeBytes(typed) == tree.serialized())
        }
        // A raw control character is an error wherever it sits.
        var bad = Array(String(repeating: "y", count: length).utf8)
        bad.insert(0x01, at: position)
        #expect(throws: OpsLogError.self) { try JSONValue(parsing: [UInt8(ascii: "\"")] + bad + [UInt8(ascii: "\"")]) }
        // Invalid UTF-8 too.
        var invalid = Array(String(repeating: "z", count: length).utf8)
        invalid.insert(0xC3, at: position)
        #expect(throws: OpsLogError.self) {
          try JSONValue(parsing: [UInt8(ascii: "\"")] + invalid + [UInt8(ascii: "\"")])
        }
      }
    }
  }
}
