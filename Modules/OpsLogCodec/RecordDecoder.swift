import OpsLogTypes

/// Decodes `Decodable` values from JSON: a store's typed records.
///
/// Bytes are decoded straight into the type, without building a `JSONValue` first, and are
/// checked as strictly as `JSONValue.init(parsing:)-(Collection<UInt8>)` checks them: the
/// whole input must be one valid JSON value (RFC 8259, UTF-8, at most
/// `JSONValue.maximumDepth` levels), including members the type does not read.
///
/// Conventions, matching ``RecordEncoder``:
/// - `Date` is a string, ISO-8601 in UTC: `2026-04-01T10:00:01.000Z` as JavaScript's
///   `toJSON` writes it, or without the fraction (`2026-04-01T10:00:01Z`).
/// - `Data` is a base64 string.
/// - Integers of every width decode from numbers with an exact integer value (`2` or `2.0`);
///   `Int64` and `UInt64` are exact over their whole range. `Double` and `Float` decode from
///   any number.
/// - `decodeIfPresent` treats an absent key and `null` alike.
/// - `JSONValue` (the whole value, or any member) is parsed as by the parser, keeping the
///   order of object keys.
/// - When an object repeats a key, the last one wins, as in `JSON.parse` and
///   `JSONValue.init(parsing:)-(Collection<UInt8>)`, from bytes and from a `JSONValue`
///   alike. (Such a document is decoded a second time, from its parsed tree: slower, and rare.)
/// - Keys are matched by their exact code points (`ExactString`). A `Dictionary` keyed by
///   `String` follows Swift's `String` equality, so two keys that differ only in Unicode
///   normalization land on one entry; decode a `JSONObject` to keep both.
///
/// Errors: malformed JSON is `OpsLogError.invalidJSON(reason:offset:)` with the byte
/// offset; JSON of the wrong shape is a `DecodingError` (`typeMismatch`, `valueNotFound`,
/// `keyNotFound`, `dataCorrupted` for out-of-range numbers and bad dates) whose context holds
/// the coding path and whose description names it, for example `tasks[2].priority`.
public struct RecordDecoder: Sendable {
  /// A decoder. It holds no state, so one instance serves any number of decodes, concurrently.
  public init() {}

  /// Decodes `type` from a parsed value. Object key order is preserved.
  ///
  /// - Throws: `DecodingError` when the value does not fit the type;
  ///   `OpsLogError.invalidJSON(reason:offset:)` when it nests deeper than
  ///   `JSONValue.maximumDepth` (a value built in memory can; a parsed one cannot), the
  ///   offset counting in its compact serialization. A `type` of `JSONValue` never throws.
  public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
    if T.self == JSONValue.self { return value as! T }
    // The value's compact text decodes exactly as the value would, through the one fast path.
    let bytes = value.serialized()
    return try bytes.withUnsafeBytes { try decode(type, from: $0) }
  }

  /// Decodes `type` from the bytes of one JSON document.
  ///
  /// - Throws: `OpsLogError.invalidJSON(reason:offset:)` for malformed input (anywhere in
  ///   it), `DecodingError` when the JSON does not fit the type.
  public func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
    if let result = try bytes.withContiguousStorageIfAvailable({ buffer in
      try decode(type, from: UnsafeRawBufferPointer(buffer))
    }) {
      return result
    }
    let array = Array(bytes)
    return try array.withUnsafeBytes { try decode(type, from: $0) }
  }

  /// Decodes `type` from the bytes of one JSON document in memory the caller owns: the hot
  /// path, for example one line of a snapshot read into a larger buffer.
  ///
  /// - Throws: `OpsLogError.invalidJSON(reason:offset:)` for malformed input (anywhere in
  ///   it), `DecodingError` when the JSON does not fit the type.
  public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
    if T.self == JSONValue.self { return try JSONParser.parseDocument(bytes) as! T }
    var unknownKeys: UnknownKeys? = nil
    do {
      return try decodeStreaming(type, from: bytes, trackingUnknownKeys: false, unknownKeys: &unknownKeys)
    } catch is RecordRepeatedKey {
      // An object repeats a key: decode the parsed tree, in which the last value of each key won.
      return try decode(type, from: JSONParser.parseDocument(bytes))
    }
  }

  /// The streaming decode. Throws ``RecordRepeatedKey`` when an object of the document
  /// repeats a key (the type may have read the first value, and the last one must win),
  /// whatever the type did with that error, and also when the decode failed in a document
  /// that repeats a key anywhere (the failure may have been the first value's). (Not an
  /// optional result: building `Optional<T>` is a run-time metadata lookup on every call.)
  ///
  /// With `trackingUnknownKeys`, sets `unknownKeys` to what the type did not read (nil when
  /// it read everything).
  func decodeStreaming<T: Decodable>(
    _ type: T.Type, from bytes: UnsafeRawBufferPointer, trackingUnknownKeys: Bool, unknownKeys: inout UnknownKeys?
  ) throws -> T {
    var parser = JSONParser(bytes)
    parser.skipWhitespace()
    guard let base = parser.base, parser.position < parser.end else {
      throw parser.error("unexpected end of input, expected a value")
    }
    let context = RecordDecodingContext.acquire()
    defer { context.release() }
    if trackingUnknownKeys { context.document.pointee.isTrackingUnknownKeys = true }
    do {
      let root = context.decoder(depth: 0, base: base, end: parser.end, start: parser.position, parent: nil, key: nil)
      let value = try root.decodeRoot(type)
      parser.position = try root.finish()
      try context.finishLooseDecoders()
      if context.sawRepeatedKey { throw RecordRepeatedKey() }
      parser.skipWhitespace()
      if parser.position != parser.end { throw parser.error("unexpected data after the JSON value") }
      if trackingUnknownKeys {
        let document = context.document.pointee
        let topLevel = document.unknownTopLevelKeys ?? []
        if !topLevel.isEmpty || document.hasUnknownNestedContent || document.readNullAsAbsent {
          unknownKeys = UnknownKeys(
            topLevel: topLevel, nested: document.hasUnknownNestedContent, readNullAsAbsent: document.readNullAsAbsent)
        }
      }
      return value
    } catch {
      // A failure may be the type's reaction to the first value of a repeated key, met
      // before the repeat was: then the last value decides, through the parsed tree.
      if context.sawRepeatedKey || JSONParser.documentRepeatsAKey(bytes) { throw RecordRepeatedKey() }
      throw error
    }
  }
}
