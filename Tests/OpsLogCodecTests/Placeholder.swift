import OpsLogTypes
import Testing

@testable import OpsLogCodec

@Test func parsesAndWritesLikeJavaScript() throws {
  let cases: [(String, String)] = [
    (#"{"a":1,"b":[true,false,null],"c":"x\"y\\z\n\u0007"}"#, #"{"a":1,"b":[true,false,null],"c":"x\"y\\z\n\u0007"}"#),
    ("1e21", "1e+21"), ("5e-324", "5e-324"), ("1.7976931348623157e+308", "1.7976931348623157e+308"),
    ("0.1", "0.1"), ("1e-7", "1e-7"), ("0.000001", "0.000001"), ("-0", "0"), ("1.0", "1"),
    ("6.02214076e+23", "6.02214076e+23"), ("9007199254740993", "9007199254740993"), ("1e20", "100000000000000000000"),
    ("0.3333333333333333", "0.3333333333333333"), ("-123456789", "-123456789"), ("\"\\ud834\\udd1e\"", "\"𝄞\""),
  ]
  for (input, expected) in cases {
    let value = try JSONValue(parsing: input)
    #expect(value.jsonText == expected, "\(input)")
  }
  #expect(throws: OpsLogError.self) { try JSONValue(parsing: "1e400") }
  #expect(throws: OpsLogError.self) { try JSONValue(parsing: String(repeating: "[", count: 10_000)) }
}
