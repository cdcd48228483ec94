import OpsLogCodec
import OpsLogTypes

/// The path rules every bundled backend applies before touching its medium, so that the file
/// and memory backends reject exactly the same paths.
enum StoragePath {
  /// Throws ``OpsLogError/invalidArgument(_:)`` unless `path` is a relative path of non-empty
  /// components, none of them `.` or `..`, without NUL bytes (``PathRules`` holds the rule, which
  /// the manifest decoder applies too). `""` (the location itself) passes only when
  /// `allowingLocation` is set.
  static func validate(_ path: String, allowingLocation: Bool = false) throws {
    if path.isEmpty && allowingLocation { return }
    if let problem = PathRules.storePathProblem(path) { throw OpsLogError.invalidArgument(problem) }
  }

  /// Validates a lock name: a single component, such as `.lock` or `.compact-lock`.
  static func validateLockName(_ name: String) throws {
    try validate(name)
    if name.utf8.contains(UInt8(ascii: "/")) {
      throw OpsLogError.invalidArgument("lock name \"\(name)\" must be a file name, not a path")
    }
  }

  /// `location` joined with `path`; `""` is the location itself.
  static func join(_ location: String, _ path: String) -> String {
    if path.isEmpty { return location }
    if location.hasSuffix("/") { return location + path }
    return location + "/" + path
  }

  /// The location without trailing slashes (but `/` stays `/`), so joined paths read cleanly.
  static func normalizeLocation(_ location: String) -> String {
    var result = Substring(location)
    while result.count > 1 && result.hasSuffix("/") { result = result.dropLast() }
    return String(result)
  }
}
