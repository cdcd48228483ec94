import OpsLogTypes

/// One JSON value kept as the bytes it was read from, always valid JSON.
///
/// ``OperationLine/decodeEncoded(_:)`` hands out `data` and a full `prev` in this form, so
/// that a typed store decodes them straight into its record type with ``RecordDecoder``
/// instead of parsing them into a `JSONValue` tree and serializing that tree again.
///
/// Two values are equal when their bytes are: `{"a":1}` and `{ "a": 1 }` differ.
public struct JSONBytes: Sendable, Hashable {
  /// The value's bytes exactly as they were read, white space inside it included.
  public let bytes: ArraySlice<UInt8>

  /// The value in `bytes`.
  ///
  /// - Throws: `OpsLogError.invalidJSON(reason:offset:)` when `bytes` is not one valid JSON
  ///   value (optionally surrounded by white space).
  public init(validating bytes: ArraySlice<UInt8>) throws {
    try bytes.withUnsafeBytes { raw in
      var parser = JSONParser(raw)
      parser.skipWhitespace()
      try parser.skipValue()
      parser.skipWhitespace()
      if parser.position != parser.end { throw parser.error("unexpected data after the JSON value") }
    }
    self.bytes = bytes
  }

  /// For bytes the caller has just checked with a validating parse.
  init(unchecked bytes: ArraySlice<UInt8>) {
    self.bytes = bytes
  }

  /// The value parsed into a tree, object key order kept.
  public var value: JSONValue {
    // Every initializer guarantees valid JSON, so this parse cannot fail.
    try! JSONValue(parsing: bytes)
  }

  /// Whether the value is `null`.
  public var isNull: Bool {
    // A valid value whose first byte after white space is `n` is the literal `null`.
    bytes.first { !JSONParser.isWhitespace($0) } == UInt8(ascii: "n")
  }
}
