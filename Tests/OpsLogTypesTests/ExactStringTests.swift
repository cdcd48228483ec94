import Testing

@testable import OpsLogTypes

/// "é" as one code point and as "e" plus a combining accent: equal for Swift's `String`,
/// two different strings for JSON, JavaScript and the store.
let composed = "\u{E9}"
let decomposed = "e\u{301}"

@Suite("Exact code-point comparison")
struct ExactStringTests {
  @Test func canonicallyEquivalentStringsDiffer() {
    #expect(composed == decomposed, "the premise: Swift's String calls them equal")
    #expect(!ExactString.areIdentical(composed, decomposed))
    #expect(ExactString(composed) != ExactString(decomposed))
    #expect(Set([ExactString(composed), ExactString(decomposed)]).count == 2)
    #expect(ExactString.areIdentical(composed, "\u{E9}"))
    #expect(ExactString.areIdentical("", ""))
    #expect(!ExactString.areIdentical("", "a"))
    // The Kelvin sign is canonically equivalent to "K".
    #expect("\u{212A}" == "K")
    #expect(ExactString("\u{212A}") != "K")
  }

  @Test func equalStringsHashAlikeWhateverTheirStorage() {
    let literal = "a long key that does not fit a small string"
    var built = "a long key "
    built += "that does not fit a small string"
    #expect(ExactString(literal) == ExactString(built))
    #expect(ExactString(literal).hashValue == ExactString(built).hashValue)
    // Long strings, non-ASCII, compared in storage (not small-string bits).
    let long1 = String(repeating: "é", count: 40)
    let long2 = String(repeating: "\u{E9}", count: 40)
    #expect(ExactString(long1) == ExactString(long2))
    #expect(ExactString(long1) != ExactString(String(repeating: decomposed, count: 40)))
  }

  @Test func orderIsUTF8ByteOrder() {
    #expect(ExactString("a") < ExactString("b"))
    #expect(ExactString("a") < ExactString("ab"))
    #expect(!(ExactString("ab") < ExactString("a")))
    #expect(ExactString("Z") < ExactString("a"))
    // U+00E9 (C3 A9) after "e" + U+0301 (65 CC 81): by bytes, "e…" first.
    #expect(ExactString(decomposed) < ExactString(composed))
    #expect(!(ExactString(composed) < ExactString(composed)))
    #expect(ExactString("") < ExactString("a"))
  }

  @Test func objectKeysAreExact() {
    var object = JSONObject()
    object[composed] = 1
    object[decomposed] = 2
    #expect(object.count == 2)
    #expect(object[composed] == 1)
    #expect(object[decomposed] == 2)
    #expect(object.keys.map { Array($0.utf8) } == [Array(composed.utf8), Array(decomposed.utf8)])
    object[decomposed] = nil
    #expect(object.keys.map { Array($0.utf8) } == [Array(composed.utf8)])
    // An object with the other spelling is a different object.
    let one: JSONObject = [composed: 1]
    let other: JSONObject = [decomposed: 1]
    #expect(one != other)
    #expect(JSONValue.object(one) != .object(other))
    #expect(!JSONValue.object(one).isIdentical(to: .object(other)))
  }

  @Test func indexedObjectKeysAreExact() {
    // From indexThreshold members on, lookups go through the hash index.
    var object = JSONObject()
    for index in 0..<(JSONObject.indexThreshold + 4) { object["k\(index)"] = .int(Int64(index)) }
    #expect(object.index != nil)
    object[composed] = "composed"
    object[decomposed] = "decomposed"
    #expect(object[composed] == "composed")
    #expect(object[decomposed] == "decomposed")
    #expect(object.count == JSONObject.indexThreshold + 6)
    object[composed] = nil
    #expect(object[composed] == nil)
    #expect(object[decomposed] == "decomposed")
  }

  @Test func stringValuesAreExact() {
    #expect(JSONValue.string(composed) != .string(decomposed))
    #expect(!JSONValue.string(composed).isIdentical(to: .string(decomposed)))
    #expect(Set<JSONValue>([.string(composed), .string(decomposed)]).count == 2)
    #expect(JSONValue.string(composed) == .string("\u{E9}"))
    #expect(JSONValue.string(composed).hashValue == JSONValue.string("\u{E9}").hashValue)
    #expect(JSONValue.array([.string(composed)]) != .array([.string(decomposed)]))
  }
}
