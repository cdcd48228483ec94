import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

@Suite struct JSONWriterTests {
  @Test func writesLikeJavaScript() throws {
    let cases: [(String, String)] = [
      (
        #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\n\u0007"}"#, #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\n\u0007"}"#
      ),
      ("1e21", "1e+21"), ("5e-324", "5e-324"), ("1.7976931348623157e+308", "1.7976931348623157e+308"),
      ("0.1", "0.1"), ("1e-7", "1e-7"), ("0.000001", "0.000001"), ("-0", "0"), ("1.0", "1"),
      ("6.02214076e+23", "6.02214076e+23"), ("9007199254740993", "9007199254740993"),
      ("1e20", "1e+20"), ("1e15", "1000000000000000"), ("0.3333333333333333", "0.3333333333333333"),
      ("-123456789", "-123456789"), ("\"\\ud834\\udd1e\"", "\"𝄞\""), ("123e-20", "1.23e-18"),
      ("-0.0000015", "-0.0000015"), ("4.35", "4.35"), ("0.07", "0.07"), ("123456.789", "123456.789"),
      (#""\u00e9\u2028\/""#, "\"é\u{2028}/\""), (#""\b\f\r\t\u001f""#, #""\b\f\r\t\u001f""#),
    ]
    for (input, expected) in cases {
      let value = try JSONValue(parsing: input)
      #expect(value.jsonText == expected, "\(input)")
    }
  }

  @Test func nonFiniteDoublesAreNull() {
    #expect(JSONValue.double(.nan).jsonText == "null")
    #expect(JSONValue.double(.infinity).jsonText == "null")
    #expect(JSONValue.double(-.infinity).jsonText == "null")
  }

  @Test func generatedValuesRoundTrip() throws {
    for seed in UInt64(1)...5 {
      var generator = JSONValueGenerator(random: SplitMix64(seed: seed))
      for _ in 0..<400 {
        let value = generator.value()
        let bytes = value.serialized()
        let parsed = try JSONValue(parsing: bytes)
        #expect(parsed == value)
        #expect(parsed.isIdentical(to: value))
        // Compact text written by us is a fixed point.
        #expect(parsed.serialized() == bytes)
      }
    }
  }

  @Test func doublesRoundTripAndMatchTheReferenceFormatting() throws {
    var random = SplitMix64(seed: 42)
    for index in 0..<50_000 {
      let value: Double
      switch index % 5 {
      case 0: value = Double(bitPattern: random.next())
      case 1: value = Double(Int64(random.next() % 10_000_000)) / 1000
      case 2: value = Double(random.next() % 100_000) / 100
      case 3: value = Double(random.next() % 1_000_000_000) * 1e-12
      default: value = Double(Int64(bitPattern: random.next())) / 1e6
      }
      guard value.isFinite else { continue }
      var writer = JSONWriter()
      writer.write(value)
      let parsed = try JSONValue(parsing: writer.bytes)
      #expect(parsed.doubleValue == value, "\(value)")
      #expect(String(decoding: writer.bytes, as: UTF8.self) == Self.referenceFormat(value), "\(value)")
    }
  }

  /// JavaScript's Number.prototype.toString, built independently from Swift's shortest digits,
  /// with this project's one exception (Docs/FORMAT.md, "Numbers"): from 2^53 on, exponent form.
  static func referenceFormat(_ number: Double) -> String {
    if number == 0 { return "0" }
    var text = number.magnitude.description
    var exponent = 0
    if let marker = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
      exponent = Int(text[text.index(after: marker)...])!
      text = String(text[..<marker])
    }
    var digits = text.replacingOccurrences(of: ".", with: "")
    var pointPosition = text.firstIndex(of: ".").map { text.distance(from: text.startIndex, to: $0) } ?? text.count
    while digits.hasPrefix("0") && digits.count > 1 {
      digits.removeFirst()
      pointPosition -= 1
    }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    let n = pointPosition + exponent
    let k = digits.count
    var result = number < 0 ? "-" : ""
    if number.magnitude >= 0x1p53 {
      result += String(digits.first!)
      if k > 1 { result += "." + digits.dropFirst() }
      result += "e+" + String(n - 1)
    } else if k <= n && n <= 21 {
      result += digits + String(repeating: "0", count: n - k)
    } else if 0 < n && n <= 21 {
      result += digits.prefix(n) + "." + digits.dropFirst(n)
    } else if -6 < n && n <= 0 {
      result += "0." + String(repeating: "0", count: -n) + digits
    } else {
      result += String(digits.first!)
      if k > 1 { result += "." + digits.dropFirst() }
      result += "e" + (n - 1 < 0 ? "-" : "+") + String((n - 1).magnitude)
    }
    return result
  }

  @Test func escapesEveryControlCharacter() throws {
    for scalar in UInt8(0)..<0x20 {
      let value = JSONValue.string(String(UnicodeScalar(scalar)))
      let text = value.jsonText
      let expected: String
      switch scalar {
      case 0x08: expected = #""\b""#
      case 0x09: expected = #""\t""#
      case 0x0A: expected = #""\n""#
      case 0x0C: expected = #""\f""#
      case 0x0D: expected = #""\r""#
      default: expected = "\"\\u00" + (scalar < 0x10 ? "0" : "1") + String(scalar & 0xF, radix: 16) + "\""
      }
      #expect(text == expected)
      #expect(try JSONValue(parsing: text) == value)
    }
  }

  @Test func integersAtTheEdges() {
    for number in [Int64.min, Int64.max, 0, -1, 10, 9, -10, 1_000_000_007] {
      var writer = JSONWriter()
      writer.write(number)
      #expect(String(decoding: writer.bytes, as: UTF8.self) == String(number))
    }
  }
}

@Suite struct JSONWriterStringFastPathTests {
  /// The no-escape fast path of `writeString(utf8:)` writes exactly what the general escaping
  /// path writes, on many generated strings with and without characters to escape.
  @Test func fastPathMatchesTheGeneralPath() {
    var generator = SystemRandomNumberGenerator()
    let alphabet: [Unicode.Scalar] = [
      "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{1}", "\u{1F}", "\u{7F}", "é", "€", "😀",
    ]
    for length in 0..<40 {
      for _ in 0..<50 {
        var text = String.UnicodeScalarView()
        for _ in 0..<length { text.append(alphabet.randomElement(using: &generator)!) }
        var string = String(text)
        var fast = JSONWriter()
        var general = JSONWriter()
        string.withUTF8 { utf8 in
          fast.writeString(utf8: utf8)
          general.writeEscapedString(utf8: utf8)
        }
        #expect(fast.bytes == general.bytes, "\(string.debugDescription)")
      }
    }
  }
}

@Suite struct JSONWriterDoubleFastPathTests {
  /// Whenever the short-decimal fast path of `write(_: Double)` takes a number, it writes
  /// exactly what the general (shortest digits, JavaScript layout) path writes.
  @Test func fastPathMatchesTheGeneralPath() {
    var generator = SystemRandomNumberGenerator()
    var candidates: [Double] = [
      0.1, 0.2, 0.3, 0.29, 1.5, 12.34, 9.99, 0.05, 1e-6, 1.5e-6, 0.000001234, 123456789.125,
      999999999999999.9, 99999999999999.98, 0.1 + 0.2, 1.0 / 3, 2.0 / 3, .leastNonzeroMagnitude, 1e-7, 1e15 - 0.5,
      Double.pi, 1e14 + 0.1, 4503599627370495.5, 0.3000000000000001,
    ]
    for _ in 0..<20_000 {
      let digits = Double(Int.random(in: 1..<1_000_000_000_000, using: &generator))
      let scale = Double.random(in: 0...1, using: &generator) < 0.5 ? 1.0 : 1e3
      candidates.append(
        digits / Double(sign: .plus, exponent: 0, significand: 1) / [10, 100, 1e3, 1e6, 1e9, 1e12].randomElement(
          using: &generator)! * scale)
      candidates.append(Double(Int.random(in: 1..<100_000, using: &generator)) / 100)
      candidates.append(Double.random(in: 0..<1000, using: &generator))
      candidates.append(Double(bitPattern: UInt64.random(in: 0..<UInt64.max, using: &generator)))
    }
    var taken = 0
    for value in candidates + candidates.map({ -$0 }) where value.isFinite && value != value.rounded(.towardZero) {
      var fast = JSONWriter()
      guard fast.writeShortDecimal(value) else { continue }
      taken += 1
      var general = JSONWriter()
      general.writeShortestDouble(value)
      #expect(fast.bytes == general.bytes, "\(value)")
      #expect(Double(String(decoding: fast.bytes, as: UTF8.self)) == value)
    }
    #expect(taken > 20_000)
  }
}
