import OpsLogTypes

/// Encodes `Encodable` values as compact JSON: a store's typed records.
///
/// The output is what `JSONValue.serialized()` writes (compact, like `JSON.stringify`),
/// produced in one pass straight into the bytes, without a `JSONValue` in between.
///
/// Conventions, matching ``RecordDecoder``:
/// - Object keys come in the order the type encodes them; for a synthesized `Codable` struct
///   that is declaration order. A `Dictionary` is written in its own iteration order, which
///   Swift does not fix (it varies between processes): sort it first, or use `JSONObject`,
///   when stable bytes matter. `[Int: T]` and other non-`String` keys become strings, as
///   with `JSONEncoder`.
/// - `Date` is a string, ISO-8601 in UTC with milliseconds, `2026-04-01T10:00:01.000Z`, as
///   JavaScript's `toJSON` writes it (sub-millisecond precision is dropped).
/// - `Data` is a base64 string.
/// - `encodeIfPresent` of `nil` leaves the key out; `encodeNil` writes `null`.
/// - A value that encodes nothing at all is an empty object `{}`.
/// - `JSONValue` is written as by the writer, keeping the order of object keys.
///
/// - Throws from every method: `EncodingError.invalidValue`, naming the coding path, for a
///   NaN or infinite `Double`/`Float` (JSON has no such numbers; nothing is written).
public struct RecordEncoder: Sendable {
  /// An encoder. It holds no state, so one instance serves any number of encodes, concurrently.
  public init() {}

  /// Encodes `value` as a `JSONValue`; object key order is preserved.
  public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
    if T.self == JSONValue.self { return value as! JSONValue }
    return try JSONValue(parsing: encodeBytes(value))
  }

  /// Encodes `value` as compact JSON bytes.
  public func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
    if T.self != JSONValue.self, let bytes = try withStreamedBytes(of: value, { Array($0) }) { return bytes }
    var writer = JSONWriter(reservingCapacity: 256)
    try encodeWithoutStreaming(value, into: &writer)
    return writer.bytes
  }

  /// Appends `value`'s compact JSON to `writer`: the way to put a record inside a larger line.
  /// On error nothing is appended.
  public func encode<T: Encodable>(_ value: T, into writer: inout JSONWriter) throws {
    if T.self != JSONValue.self, try withStreamedBytes(of: value, { writer.appendBytes($0) }) != nil { return }
    try encodeWithoutStreaming(value, into: &writer)
  }

  /// Encodes `value` with the calling thread's streaming encoder and passes its bytes (valid
  /// during the call only) to `body`; nil, without calling `body`, when the type fills its
  /// containers out of order and must go through the tree encoder instead.
  func withStreamedBytes<T: Encodable, Result>(
    of value: T, _ body: (UnsafeBufferPointer<UInt8>) -> Result
  ) throws -> Result? {
    try RecordEncodingState.withThreadState { state in
      do {
        try state.encoder(depth: 0, parent: nil, key: nil)._withUnsafeGuaranteedRef { try $0.encodeRoot(value) }
        if !state.isOutOfOrder { return body(state.output.pointee.bytes) }
      } catch is RecordEncodingOutOfOrder {
        // The caller falls back to the tree encoder.
      }
      return nil
    }
  }

  /// The path for `JSONValue` and for types that fill their containers out of order.
  func encodeWithoutStreaming<T: Encodable>(_ value: T, into writer: inout JSONWriter) throws {
    if T.self == JSONValue.self {
      writer.write(value as! JSONValue)
      return
    }
    let tree = RecordTreeEncoder(parent: nil, key: nil)
    try tree.encode(value)
    tree.write(into: &writer)
  }
}
