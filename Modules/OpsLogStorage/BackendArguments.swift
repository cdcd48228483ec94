import OpsLogTypes

/// The argument checks both bundled backends make before touching their medium, so that they
/// refuse exactly the same calls with exactly the same errors.
enum BackendArguments {
  /// The location to serve, without trailing slashes so that joined paths read cleanly.
  /// Throws ``OpsLogError/invalidArgument(_:)`` for an empty one or one with NUL bytes.
  static func location(_ location: String) throws -> String {
    guard !location.isEmpty, !location.utf8.contains(0) else {
      throw OpsLogError.invalidArgument("the location must be a non-empty path without NUL bytes")
    }
    return StoragePath.normalizeLocation(location)
  }

  /// The error for a location that is a file: a store is a directory.
  static func locationIsFile(_ location: String, ancestor: String? = nil) -> OpsLogError {
    let what = ancestor.map { "\($0), part of the location \(location)," } ?? "the location \(location)"
    return OpsLogError.invalidArgument(
      "\(what) is a regular file, not a directory: a store is a directory holding manifest.json, snapshots/ and ops/; give the path of a directory (or of one to create)"
    )
  }

  /// Throws ``OpsLogError/invalidArgument(_:)`` for a negative offset or length.
  static func checkRange(offset: Int, length: Int) throws {
    guard offset >= 0, length >= 0 else {
      throw OpsLogError.invalidArgument("offset \(offset) and length \(length) must not be negative")
    }
  }

  /// Throws ``OpsLogError/invalidArgument(_:)`` for a negative length; a length beyond the end
  /// of the file is the backend's to refuse, since only it knows the file's size.
  static func checkTruncateLength(_ length: Int) throws {
    guard length >= 0 else { throw OpsLogError.invalidArgument("truncate length \(length) is negative") }
  }
}
