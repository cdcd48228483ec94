import OpsLogTypes
import Testing

@testable import OpsLogCodec

private struct Measurements: Codable, Equatable {
  var big: Double
  var float: Float
  var integer: Int64
  var unsigned: UInt64
}

/// Encodes out of order (a later key first, then an earlier one through a nested container),
/// so that the encoder falls back to its tree.
private struct OutOfOrder: Encodable {
  var big: Double
  var unsigned: UInt64
  enum CodingKeys: String, CodingKey { case first, second }
  enum InnerKeys: String, CodingKey { case big, unsigned }
  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    var first = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .first)
    try container.encode(1, forKey: .second)
    try first.encode(big, forKey: .big)
    try first.encode(unsigned, forKey: .unsigned)
  }
}

@Suite("Numbers: parse, serialize, parse keeps every value")
struct NumberRoundTripTests {
  @Test func theIssueExample() throws {
    let value = try JSONValue(parsing: "509149616095639774e0")
    guard case .double(let double) = value else {
      Issue.record("an exponent makes a double, not \(value)")
      return
    }
    #expect(value.jsonText == "5.0914961609563974e+17")
    let again = try JSONValue(parsing: value.serialized())
    #expect(again == value)
    #expect(again.isIdentical(to: value))
    guard case .double(let reparsed) = again else {
      Issue.record("the exponent form reads back as a double, not \(again)")
      return
    }
    #expect(reparsed.bitPattern == double.bitPattern)
  }

  @Test func integralDoublesFromTwoToTheFiftyThreeOnUseExponentForm() throws {
    let cases: [(Double, String)] = [
      (0x1p53 - 1, "9007199254740991"), (0x1p53, "9.007199254740992e+15"), (-0x1p53, "-9.007199254740992e+15"),
      (0x1p60, "1.152921504606847e+18"), (1e16, "1e+16"), (1e20, "1e+20"), (1e21, "1e+21"),
      (1.2345678901234568e20, "1.2345678901234568e+20"), (2.0, "2"), (-3.0, "-3"),
      (Double(Int64.max), "9.223372036854776e+18"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    ]
    for (double, expected) in cases {
      #expect(JSONValue.double(double).jsonText == expected, "\(double)")
      let parsed = try JSONValue(parsing: expected)
      #expect(parsed.doubleValue == double, "\(double)")
    }
  }

  @Test func integersThatFitInt64StayIntegers() throws {
    for integer in [Int64.max, Int64.min, 9_007_199_254_740_993, 509_149_616_095_639_774, 0, -1] {
      let text = JSONValue.int(integer).jsonText
      #expect(text == String(integer))
      #expect(try JSONValue(parsing: text) == .int(integer))
      if case .int(let back) = try JSONValue(parsing: text) {
        #expect(back == integer)
      } else {
        Issue.record("\(text) should parse as an integer")
      }
    }
  }

  @Test func sameTextMeansIdentical() {
    // Equal numbers, different texts: not identical (delta patches compare texts).
    #expect(JSONValue.int(1 << 60) == .double(0x1p60))
    #expect(!JSONValue.int(1 << 60).isIdentical(to: .double(0x1p60)))
    #expect(JSONValue.int(3).isIdentical(to: .double(3)))
    #expect(JSONValue.double(0x1p60).isIdentical(to: .double(0x1p60)))
    let old: JSONValue = ["n": .int(1 << 60)]
    let new: JSONValue = ["n": .double(0x1p60)]
    #expect(DeltaPatch.make(from: old, to: new) != nil)
  }

  @Test func recordEncodersWriteTheSameForm() throws {
    let record = Measurements(big: 5.0914961609563974e17, float: 1e20, integer: Int64.max, unsigned: UInt64.max)
    let encoder = RecordEncoder()
    let bytes = try encoder.encodeBytes(record)
    let text = String(decoding: bytes, as: UTF8.self)
    #expect(
      text
        == #"{"big":5.0914961609563974e+17,"float":1e+20,"integer":9223372036854775807,"unsigned":18446744073709551615}"#
    )
    #expect(try RecordDecoder().decode(Measurements.self, from: bytes) == record)
    // Through the tree (the encoder's out-of-order fallback): the same digits, UInt64 exact.
    let tree = try encoder.encodeBytes(OutOfOrder(big: 0x1p60, unsigned: UInt64.max))
    #expect(
      String(decoding: tree, as: UTF8.self)
        == #"{"first":{"big":1.152921504606847e+18,"unsigned":18446744073709551615},"second":1}"#)
  }

  @Test func everyValueSurvivesParseSerializeParse() throws {
    var random = SplitMix64(seed: 7)
    for index in 0..<20_000 {
      let double: Double
      switch index % 3 {
      case 0: double = Double(bitPattern: random.next())
      case 1: double = Double(Int64(bitPattern: random.next()))
      default: double = Double(random.next() >> UInt64(random.next() % 64))
      }
      guard double.isFinite else { continue }
      let first = try JSONValue(parsing: JSONValue.double(double).serialized())
      let second = try JSONValue(parsing: first.serialized())
      #expect(first == .double(double), "\(double)")
      #expect(second.isIdentical(to: first), "\(double)")
      #expect(first.serialized() == second.serialized())
    }
  }
}
