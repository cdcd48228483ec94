import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// "é" as one code point and as "e" plus a combining accent: two keys in JSON.
private let composed = "\u{E9}"
private let decomposed = "e\u{301}"

/// A record whose two keys differ only in Unicode normalization.
private struct TwoSpellings: Codable, Equatable {
  var composed: Int
  var decomposed: Int
  enum CodingKeys: String, CodingKey {
    case composed = "\u{E9}"
    case decomposed = "e\u{301}"
  }
}

/// Reads only the decomposed spelling, so the decoder has to look past the composed one.
private struct DecomposedOnly: Decodable, Equatable {
  var value: Int
  enum CodingKeys: String, CodingKey { case value = "e\u{301}" }
}

@Suite struct ExactKeyTests {
  let text = "{\"\u{E9}\":1,\"e\u{301}\":2}"

  @Test func parsingKeepsBothSpellings() throws {
    let value = try JSONValue(parsing: text)
    #expect(value.objectValue?.count == 2)
    #expect(value[composed] == 1)
    #expect(value[decomposed] == 2)
    #expect(value.serialized() == Array(text.utf8))
    // Escaped forms name the same code points.
    let escaped = try JSONValue(parsing: #"{"\u00e9":1,"e\u0301":2}"#)
    #expect(escaped == value)
  }

  @Test func decodingFindsTheExactKey() throws {
    let decoder = RecordDecoder()
    #expect(try decoder.decode(TwoSpellings.self, from: Array(text.utf8)) == TwoSpellings(composed: 1, decomposed: 2))
    // Out of order: the member table is searched, exactly.
    #expect(try decoder.decode(DecomposedOnly.self, from: Array(text.utf8)) == DecomposedOnly(value: 2))
    let reversed = "{\"e\u{301}\":2,\"\u{E9}\":1}"
    #expect(
      try decoder.decode(TwoSpellings.self, from: Array(reversed.utf8)) == TwoSpellings(composed: 1, decomposed: 2))
    // With escapes, the key is decoded before it is compared.
    #expect(try decoder.decode(DecomposedOnly.self, from: Array(#"{"\u00e9":1,"e\u0301":2}"#.utf8)).value == 2)
    // From a tree.
    #expect(
      try decoder.decode(TwoSpellings.self, from: JSONValue(parsing: text)) == TwoSpellings(composed: 1, decomposed: 2))
    // Only the composed key: the decomposed one is missing, not found under the other spelling.
    #expect(throws: DecodingError.self) { try decoder.decode(DecomposedOnly.self, from: Array("{\"\u{E9}\":1}".utf8)) }
  }

  @Test func encodingWritesEachSpelling() throws {
    let encoder = RecordEncoder()
    let record = TwoSpellings(composed: 1, decomposed: 2)
    // Twice, so that the second encode runs through the encoder's cache of rendered keys.
    for _ in 0..<2 { #expect(try encoder.encodeBytes(record) == Array(text.utf8)) }
    #expect(try encoder.encode(record) == JSONValue(parsing: text))
  }

  @Test func deltaPatchesSeeTwoKeys() throws {
    let old = try JSONValue(parsing: "{\"\u{E9}\":1}")
    let new = try JSONValue(parsing: "{\"e\u{301}\":1}")
    let patch = try #require(DeltaPatch.make(from: old, to: new))
    #expect(patch.set.keys.map { Array($0.utf8) } == [Array(composed.utf8)])
    #expect(patch.unset.map { Array($0.utf8) } == [Array(decomposed.utf8)])
    #expect(patch.apply(to: new) == old)
    // Two string values that differ only in normalization are a change.
    let before: JSONValue = ["name": .string(composed)]
    let after: JSONValue = ["name": .string(decomposed)]
    #expect(DeltaPatch.make(from: before, to: after)?.set["name"] == .string(composed))
  }

  @Test func operationLinesKeepIDsExact() throws {
    let line = "{\"ts\":\"2026-04-01T10:00:01.000Z\",\"op\":\"set\",\"id\":\"e\u{301}\",\"prev\":null,\"data\":{}}"
    let operation = try OperationLine.decode(Array(line.utf8))
    #expect(Array(operation.id.utf8) == Array(decomposed.utf8))
    let encoded = try OperationLine.decodeEncoded(Array(line.utf8)[...])
    #expect(Array(encoded.id.utf8) == Array(decomposed.utf8))
    #expect(OperationLine.encode(operation) == Array(line.utf8))
  }
}
