import OpsLogTypes

extension JSONValue {
  /// The compact JSON text, byte for byte as JavaScript's `JSON.stringify` writes it: no
  /// white space, short escapes, `\u00XX` for other control characters, non-ASCII as raw
  /// UTF-8, numbers in the shortest form that round-trips. One deliberate difference: an
  /// integral `JSONValue.double(_:)` of magnitude 2^53 or more is written in exponent form
  /// (`5.0914961609563974e+17`), so that parsing the text again gives back the same double and
  /// not a different `JSONValue.int(_:)`; opslog for Node reads both forms as one number.
  public func serialized() -> [UInt8] {
    var writer = JSONWriter()
    writer.write(self)
    return writer.bytes
  }

  /// ``serialized()`` as a `String`.
  public var jsonText: String { String(decoding: serialized(), as: UTF8.self) }
}

/// Appends compact JSON to a byte buffer, the way `JSON.stringify` writes it.
///
/// The public building block of this module's output: snapshot lines are assembled in it, and
/// ``RecordEncoder/encode(_:into:)`` appends a record to it. It shares its number and string
/// formatting with the record encoder's own per-thread buffer (where records and WAL lines are
/// assembled before one copy out), so both write every value byte for byte alike.
public struct JSONWriter: Sendable, JSONByteSink {
  /// The bytes written so far.
  public var bytes: [UInt8]

  /// An empty writer whose buffer holds `capacity` bytes before it grows; size it for the
  /// line or chunk being written to avoid reallocations.
  public init(reservingCapacity capacity: Int = 256) {
    bytes = []
    bytes.reserveCapacity(capacity)
  }

  @inline(__always)
  mutating func appendByte(_ byte: UInt8) { bytes.append(byte) }

  @inline(__always)
  mutating func appendBytes(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }

  /// Writes a whole value.
  public mutating func write(_ value: JSONValue) { appendJSON(value) }

  /// Writes bytes that are already JSON (a value encoded earlier).
  @inlinable
  public mutating func writeRaw(_ raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }

  /// Writes ASCII punctuation or a literal as it is.
  @inlinable
  public mutating func writeASCII(_ text: StaticString) {
    bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  @inlinable
  /// Writes one byte as it is (punctuation); the caller keeps the output valid JSON.
  public mutating func writeByte(_ byte: UInt8) { bytes.append(byte) }

  /// Writes an integer in decimal.
  public mutating func write(_ number: Int64) { appendJSON(number) }

  /// Writes a double as JavaScript's `Number.prototype.toString` does (plain decimals down to
  /// 1e-7, exponent form such as `5e-324` below, the shortest digits that round-trip), with one
  /// exception: an integral double of magnitude 2^53 or more is written in exponent form
  /// (`5.0914961609563974e+17`, where JavaScript writes `509149616095639740`), so that it reads
  /// back as the same double rather than as a different 64-bit integer (Docs/FORMAT.md, "Numbers").
  /// Smaller integral doubles are written as integers (`2`, not `2.0`). NaN and infinities are
  /// written as `null`, as `JSON.stringify` does.
  public mutating func write(_ number: Double) { appendJSON(number) }

  @usableFromInline static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

  /// Writes a quoted, escaped string.
  public mutating func write(_ string: String) { appendJSON(string) }

  /// Writes a quoted, escaped string from its UTF-8 bytes (which must be valid UTF-8).
  public mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) { appendJSONString(utf8: utf8) }

  /// Whether any of the eight bytes of `word` is a control character, `"` or `\\` (exact: the
  /// borrow tricks below never miss such a byte and never report one that is not there).
  @inline(__always)
  static func mayNeedEscaping(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highBits: UInt64 = 0x8080_8080_8080_8080
    let control = (word &- ones &* 0x20) & ~word & highBits
    let quote = word ^ (ones &* 0x22)
    let backslash = word ^ (ones &* 0x5C)
    let found = control | ((quote &- ones) & ~quote & highBits) | ((backslash &- ones) & ~backslash & highBits)
    return found != 0
  }
}
