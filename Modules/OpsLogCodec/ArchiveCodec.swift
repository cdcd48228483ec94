import OpsLogTypes

/// Archive segments, `archive/archive-<period>.json` (or `.json.gz`, gzip-compressed):
/// encoding in the reference's layout and strict decoding.
public enum ArchiveCodec {
  /// The segment's file name for `period`: `archive-<period>.json`, or with `compressed`
  /// `archive-<period>.json.gz` (this project only, written beside gzip snapshots).
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` when `period` is empty or holds a character
  ///   outside `A-Z a-z 0-9 . _ -`, or is `.` or `..`: a period becomes part of a path, so it
  ///   must never name another directory.
  public static func fileName(period: String, compressed: Bool = false) throws -> String {
    try validate(period: period)
    return "archive-\(period).json" + (compressed ? ".gz" : "")
  }

  /// Whether `period` can be part of a segment's file name; see ``fileName(period:compressed:)``.
  public static func validate(period: String) throws {
    guard PathRules.isSafeFileNameComponent(period) else {
      throw OpsLogError.invalidArgument(
        "the archive period \"\(period)\" must be non-empty and use only letters, digits, '.', '_' and '-'")
    }
  }

  /// The segment as `JSON.stringify(segment, null, 2)` writes it, without a trailing newline:
  /// `version, period, timestamp, records`.
  public static func encode(_ segment: ArchiveSegment) -> [UInt8] {
    var object = JSONObject(minimumCapacity: 4)
    object.appendNew("version", .int(Int64(segment.version)))
    object.appendNew("period", .string(segment.period))
    object.appendNew("timestamp", .string(segment.timestamp))
    object.appendNew("records", .object(segment.records))
    return PrettyJSON.serialize(.object(object))
  }

  /// The segment gzip-compressed at zlib's `level`, as `archive-<period>.json.gz` holds it:
  /// one gzip member of ``encode(_:)``'s bytes, so `zcat` shows the plain segment.
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` for a level outside 0...9.
  public static func encodeCompressed(_ segment: ArchiveSegment, level: Int) throws -> [UInt8] {
    try Gzip.compress(encode(segment), level: level)
  }

  /// Decodes and validates a segment, plain or gzip-compressed (recognized by its magic
  /// bytes, not by its name).
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` with `path` when the bytes are damaged or
  ///   truncated gzip, are not JSON, `version` is not an integer ≥ 1, `period` or `timestamp`
  ///   is not a non-empty string, or `records` is not an object; the reason names the field.
  public static func decode(_ bytes: some Collection<UInt8>, path: String) throws -> ArchiveSegment {
    if Gzip.hasMagic(bytes) { return try decode(Gzip.decompress(bytes, path: path), path: path) }
    let fields = FieldReader(path: path)
    let value: JSONValue
    do {
      value = try JSONValue(parsing: bytes)
    } catch {
      throw fields.corrupted("not valid JSON (\(error))")
    }
    guard case .object(let object) = value else { throw fields.corrupted("the archive segment is not a JSON object") }
    let version = try fields.integer(object, "version", minimum: 1)
    let period = try fields.nonEmptyString(object, "period")
    let timestamp = try fields.nonEmptyString(object, "timestamp")
    guard let recordsValue = object["records"] else { throw fields.corrupted("records is missing") }
    guard case .object(let records) = recordsValue else { throw fields.corrupted("records is not an object") }
    return ArchiveSegment(version: version, period: period, timestamp: timestamp, records: records)
  }
}
