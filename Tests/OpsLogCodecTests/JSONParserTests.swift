import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

@Suite struct JSONParserTests {
  @Test func parsesEveryKindOfValue() throws {
    let value = try JSONValue(parsing: #" { "a" : 1 , "b" : [ true , false , null ] , "c" : "x\"y" , "d" : -2.5e3 } "#)
    #expect(value["a"] == .int(1))
    #expect(value["b"] == [true, false, nil])
    #expect(value["c"] == "x\"y")
    #expect(value["d"] == .double(-2500))
    #expect(value.objectValue?.keys == ["a", "b", "c", "d"])
  }

  @Test func keepsIntegersExactAndOthersAsDoubles() throws {
    #expect(try JSONValue(parsing: "9223372036854775807") == .int(Int64.max))
    #expect(try JSONValue(parsing: "-9223372036854775808") == .int(Int64.min))
    let beyond = try JSONValue(parsing: "9223372036854775808")
    guard case .double(let beyondValue) = beyond else {
      Issue.record("expected a double beyond Int64, got \(beyond)")
      return
    }
    #expect(beyondValue == 9_223_372_036_854_775_808)
    let huge = try JSONValue(parsing: "123456789012345678901234567890")
    guard case .double(let hugeValue) = huge else {
      Issue.record("expected a double, got \(huge)")
      return
    }
    #expect(hugeValue == 1.2345678901234568e29)
    #expect(try JSONValue(parsing: "0.1") == .double(0.1))
    #expect(try JSONValue(parsing: "1E2") == .double(100))
    #expect(try JSONValue(parsing: "2.2250738585072014e-308") == .double(2.2250738585072014e-308))
    #expect(try JSONValue(parsing: "4.9e-324") == .double(Double.leastNonzeroMagnitude))
  }

  @Test func repeatedKeyKeepsFirstPlaceAndLastValue() throws {
    let value = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
    #expect(value.objectValue?.keys == ["a", "b"])
    #expect(value["a"] == .int(3))
  }

  @Test func everyTrickyFixtureLineParsesAndSerializesBackToTheSameBytes() throws {
    let lines = try Fixtures.trickyLines()
    #expect(lines.count >= 7)
    for line in lines {
      let value = try JSONValue(parsing: line)
      #expect(value.serialized() == line, "\(String(decoding: line, as: UTF8.self).prefix(80))")
      // The typed decoder's JSONValue path and its skip path accept the same line.
      #expect(try RecordDecoder().decode(JSONValue.self, from: line).isIdentical(to: value))
      _ = try RecordDecoder().decode(IgnoresEverything.self, from: line)
    }
  }

  @Test func everyPrefixOfALineIsAnErrorNotACrash() throws {
    let lines = try Fixtures.trickyLines()
    for line in lines.prefix(5) {
      for length in 0..<line.count {
        let prefix = Array(line[0..<length])
        #expect(throwsInvalidJSON { _ = try JSONValue(parsing: prefix) }, "prefix of \(length) bytes")
        #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: prefix) })
      }
    }
  }

  @Test(
    arguments: [
      [0xC0, 0xAF],  // overlong '/'
      [0xE0, 0x80, 0xAF],  // overlong, three bytes
      [0x80],  // stray continuation
      [0xBF, 0x41],
      [0xC3],  // truncated two-byte sequence
      [0xE6, 0xBC],  // truncated three-byte sequence
      [0xF0, 0x9F, 0x98],  // truncated four-byte sequence
      [0xED, 0xA0, 0x80],  // a UTF-16 surrogate encoded in UTF-8
      [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
      [0xFF],
    ] as [[UInt8]])
  func rejectsInvalidUTF8(_ sequence: [UInt8]) {
    let document = Array(#"{"k":"a"#.utf8) + sequence + Array(#"b"}"#.utf8)
    #expect(throwsInvalidJSON { _ = try JSONValue(parsing: document) })
    // The same bytes in a member the typed decoder does not read, and in a key.
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: document) })
    let inKey = Array(#"{"a"#.utf8) + sequence + Array(#"":1}"#.utf8)
    #expect(throwsInvalidJSON { _ = try JSONValue(parsing: inKey) })
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: inKey) })
  }

  @Test(arguments: [
    #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\ud800x""#, #""\udbff\udbff""#, #""\u12""#, #""\u12g4""#,
    #""\x""#, #""\'""#,
  ])
  func rejectsBadEscapes(_ text: String) {
    #expect(throwsInvalidJSON { _ = try JSONValue(parsing: text) })
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(String.self, from: Array(text.utf8)) })
    let inMember = Array(#"{"x":\#(text)}"#.utf8)
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: inMember) })
  }

  @Test(arguments: [
    "", " ", "[1,]", #"{"a":1,}"#, "[1 2]", #"{"a" 1}"#, #"{"a":}"#, "{,}", "[,1]", "01", "-01", "00", "1.", ".5",
    "-", "1e", "1e+", "+1", "NaN", "Infinity", "-Infinity", "nan", "tru", "nul", "falsey", "[1]x", "{} {}", "1 2",
    "\"abc", "[", "{", #"{"a":1"#, "1e400", "-1e400", "'a'", "[1,,2]", #"{"a":1 "b":2}"#, "/* */1", "0x10",
  ])
  func rejectsMalformedDocuments(_ text: String) {
    #expect(throwsInvalidJSON { _ = try JSONValue(parsing: text) }, "\(text)")
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(JSONValue.self, from: Array(text.utf8)) })
    let inMember = Array(#"{"x":\#(text)}"#.utf8)
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: inMember) }, "\(text)")
  }

  @Test func rejectsTrailingGarbageAfterATypedValue() {
    struct Point: Decodable { var x: Int }
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(Point.self, from: Array(#"{"x":1} x"#.utf8)) })
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(Point.self, from: Array(#"{"x":1}}"#.utf8)) })
    #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(Int.self, from: Array("1 1".utf8)) })
    #expect((try? RecordDecoder().decode(Point.self, from: Array(" {\"x\" : 1 }\n".utf8)))?.x == 1)
  }

  @Test func rejectsControlCharactersInStrings() {
    for control in UInt8(0)..<0x20 {
      let document: [UInt8] = [UInt8(ascii: "\""), UInt8(ascii: "a"), control, UInt8(ascii: "\"")]
      #expect(throwsInvalidJSON { _ = try JSONValue(parsing: document) }, "control \(control)")
      #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(String.self, from: document) })
    }
  }

  @Test func deepNestingIsAnErrorNotACrash() {
    for opener in ["[", #"{"a":"#] {
      let deep = String(repeating: opener, count: 10_000)
      #expect(throwsInvalidJSON { _ = try JSONValue(parsing: deep) })
      #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: Array(deep.utf8)) })
      let inMember = Array(#"{"x":\#(deep)}"#.utf8)
      #expect(throwsInvalidJSON { _ = try RecordDecoder().decode(IgnoresEverything.self, from: inMember) })
    }
    // Exactly at the limit is fine, one more level is not, for the parser and the skip alike.
    let depth = JSONValue.maximumDepth
    let atLimit = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    #expect((try? JSONValue(parsing: atLimit)) != nil)
    #expect(throwsInvalidJSON { _ = try JSONValue(parsing: "[" + atLimit + "]") })
    let inMemberAtLimit =
      #"{"x":\#(String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1))}"#
    #expect((try? RecordDecoder().decode(IgnoresEverything.self, from: Array(inMemberAtLimit.utf8))) != nil)
    #expect(
      throwsInvalidJSON {
        _ = try RecordDecoder().decode(IgnoresEverything.self, from: Array(#"{"x":\#(atLimit)}"#.utf8))
      })
  }

  @Test func errorsCarryTheOffset() {
    do {
      _ = try JSONValue(parsing: #"{"a":[1,2,x]}"#)
      Issue.record("expected an error")
    } catch let error as OpsLogError {
      #expect(error == .invalidJSON(reason: "unexpected character 'x', expected a value", offset: 10))
    } catch {
      Issue.record("unexpected error \(error)")
    }
  }

  @Test func skippingAcceptsExactlyWhatParsingAccepts() {
    var generator = JSONValueGenerator(random: SplitMix64(seed: 7))
    var random = SplitMix64(seed: 8)
    let replacements: [UInt8] = [0x22, 0x5C, 0x2C, 0x7D, 0x5D, 0xC3, 0x30, 0x2D, 0x65, 0x20, 0x75]
    for _ in 0..<400 {
      let bytes = generator.value().serialized()
      for _ in 0..<4 {
        var mutated = bytes
        let position = Int(random.next() % UInt64(mutated.count))
        mutated[position] = replacements[Int(random.next() % UInt64(replacements.count))]
        let parsed = (try? JSONValue(parsing: mutated)) != nil
        let skipped =
          (try? RecordDecoder().decode(IgnoresEverything.self, from: Array(#"{"x":"#.utf8) + mutated + [0x7D])) != nil
        #expect(parsed == skipped, "\(String(decoding: mutated, as: UTF8.self))")
      }
    }
  }
}
// MARK: - Shared test support

/// SplitMix64: a tiny deterministic generator, so that generated cases are the same on every run.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    return mixed ^ (mixed >> 31)
  }
}

enum Fixtures {
  /// Tests/Fixtures, found from this file's path so that tests run from any directory.
  static var directory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures")
  }

  static func lines(_ relativePath: String) throws -> [[UInt8]] {
    let data = try Data(contentsOf: directory.appendingPathComponent(relativePath))
    return data.split(separator: UInt8(ascii: "\n")).map { Array($0) }
  }

  static func trickyLines() throws -> [[UInt8]] {
    let folder = directory.appendingPathComponent("tricky-json/store/ops")
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".jsonl") }
      .sorted()
    return try names.flatMap { try lines("tricky-json/store/ops/\($0)") }
  }
}

/// Random JSON values of bounded size, for round-trip tests.
struct JSONValueGenerator {
  var random: SplitMix64

  mutating func string() -> String {
    let alphabet: [String] = [
      "a", "b", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "é", "漢", "😀", "\u{2028}", "\u{7F}",
    ]
    let length = Int(random.next() % 8)
    return (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
  }

  mutating func number() -> JSONValue {
    switch random.next() % 6 {
    case 0: return .int(Int64(bitPattern: random.next()))
    case 1: return .int(Int64(random.next() % 2000) - 1000)
    case 2:
      // Integral doubles beyond 2^53 are left out: JavaScript writes them as integer digits
      // that are not the double's exact value, so they parse back as a different Int64.
      let value = Double(bitPattern: random.next())
      let integralBeyondExact =
        value == value.rounded() && value.magnitude >= 9_007_199_254_740_992 && value.magnitude < 1e21
      return value.isFinite && !integralBeyondExact ? .double(value) : .double(1.5)
    case 3: return .double(Double(Int64(random.next() % 100_000)) / 100)
    case 4: return .double(Double(random.next() % 1_000_000) * 1e-9)
    default: return .double(Double(random.next() % 1000) * 1e20)
    }
  }

  mutating func value(depth: Int = 0) -> JSONValue {
    switch random.next() % (depth > 4 ? 5 : 7) {
    case 0: return .null
    case 1: return .bool(random.next() % 2 == 0)
    case 2, 3: return number()
    case 4: return .string(string())
    case 5: return .array((0..<Int(random.next() % 5)).map { _ in value(depth: depth + 1) })
    default:
      var object = JSONObject()
      for _ in 0..<Int(random.next() % 5) { object[string()] = value(depth: depth + 1) }
      return .object(object)
    }
  }
}

/// True when `body` throws OpsLogError.invalidJSON.
func throwsInvalidJSON(_ body: () throws -> Void) -> Bool {
  do {
    try body()
    return false
  } catch let error as OpsLogError {
    if case .invalidJSON = error { return true }
    return false
  } catch {
    return false
  }
}

/// A type that reads nothing, so that every byte of its input is only skipped.
struct IgnoresEverything: Decodable {}
