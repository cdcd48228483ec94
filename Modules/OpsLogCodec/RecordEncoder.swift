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
    var writer = JSONWriter(reservingCapacity: 256)
    try encode(value, into: &writer)
    return writer.bytes
  }

  /// Appends `value`'s compact JSON to `writer`, with no intermediate buffer: the way to put a
  /// record inside a larger line. On error nothing is appended.
  public func encode<T: Encodable>(_ value: T, into writer: inout JSONWriter) throws {
    if T.self == JSONValue.self {
      writer.write(value as! JSONValue)
      return
    }
    let startCount = writer.bytes.count
    let state = RecordEncodingState.acquire()
    swap(&state.writer.pointee, &writer)
    defer {
      swap(&state.writer.pointee, &writer)
      state.release()
    }
    let root = state.encoder(depth: 0, parent: nil, key: nil)
    do {
      try root.encodeRoot(value)
      if !state.isOutOfOrder { return }
    } catch is RecordEncodingOutOfOrder {
      // Fall through to the tree encoder below.
    } catch {
      state.writer.pointee.bytes.removeSubrange(startCount...)
      throw error
    }
    state.writer.pointee.bytes.removeSubrange(startCount...)
    let tree = RecordTreeEncoder(parent: nil, key: nil)
    try tree.encode(value)
    tree.write(into: &state.writer.pointee)
  }
}
