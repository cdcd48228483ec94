import OpsLogTypes

/// `manifest.json`: encoding in the reference's layout and strict decoding.
///
/// The manifest names every file the state is made of, so a damaged one must stop the open:
/// decoding checks every rule of Docs/FORMAT.md and names the field that breaks it.
public enum ManifestCodec {
  /// The manifest's file name in the store's location.
  public static let fileName = "manifest.json"

  /// The manifest as `JSON.stringify(manifest, null, 2)` writes it, without a trailing
  /// newline: `version, currentSnapshot, activeOps, archiveSegments, stats` and, in
  /// multi-writer stores, `activeAgentOps`.
  public static func encode(_ manifest: ManifestInfo) -> [UInt8] {
    PrettyJSON.serialize(jsonValue(manifest))
  }

  /// The manifest as a JSON object, in the reference's key order.
  public static func jsonValue(_ manifest: ManifestInfo) -> JSONValue {
    var stats = JSONObject(minimumCapacity: 5)
    stats.appendNew("activeRecords", .int(Int64(manifest.stats.activeRecords)))
    stats.appendNew("archivedRecords", .int(Int64(manifest.stats.archivedRecords)))
    stats.appendNew("opsCount", .int(Int64(manifest.stats.opsCount)))
    stats.appendNew("created", .string(manifest.stats.created))
    stats.appendNew("lastCheckpoint", .string(manifest.stats.lastCheckpoint))

    var object = JSONObject(minimumCapacity: 6)
    object.appendNew("version", .int(Int64(manifest.version)))
    object.appendNew("currentSnapshot", .string(manifest.currentSnapshot))
    object.appendNew("activeOps", .string(manifest.activeOps))
    object.appendNew("archiveSegments", .array(manifest.archiveSegments.map { .string($0) }))
    object.appendNew("stats", .object(stats))
    if let agents = manifest.activeAgentOps {
      // Agent IDs are unique keys in the reference's object; a repeated one keeps its last path.
      object.appendNew("activeAgentOps", .object(JSONObject(agents.map { ($0.agent, JSONValue.string($0.path)) })))
    }
    return .object(object)
  }

  /// Decodes and validates a manifest.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` with the path `manifest.json` when the
  ///   bytes are not JSON, or a field is missing, of the wrong type, negative, or an empty path;
  ///   the reason names the field.
  public static func decode(_ bytes: some Collection<UInt8>) throws -> ManifestInfo {
    let fields = FieldReader(path: fileName)
    let value: JSONValue
    do {
      value = try JSONValue(parsing: bytes)
    } catch {
      throw fields.corrupted("not valid JSON (\(error))")
    }
    guard case .object(let object) = value else { throw fields.corrupted("the manifest is not a JSON object") }

    let version = try fields.integer(object, "version", minimum: 1)
    let currentSnapshot = try fields.storePath(try fields.nonEmptyString(object, "currentSnapshot"), "currentSnapshot")
    let activeOps = try fields.storePath(try fields.nonEmptyString(object, "activeOps"), "activeOps")

    guard let segmentsValue = object["archiveSegments"] else { throw fields.corrupted("archiveSegments is missing") }
    guard case .array(let segmentValues) = segmentsValue else {
      throw fields.corrupted("archiveSegments is not an array")
    }
    var archiveSegments: [String] = []
    archiveSegments.reserveCapacity(segmentValues.count)
    for (position, segment) in segmentValues.enumerated() {
      guard case .string(let path) = segment, !path.isEmpty else {
        throw fields.corrupted("archiveSegments[\(position)] is not a non-empty path")
      }
      archiveSegments.append(try fields.storePath(path, "archiveSegments[\(position)]"))
    }

    guard let statsValue = object["stats"] else { throw fields.corrupted("stats is missing") }
    guard case .object(let statsObject) = statsValue else { throw fields.corrupted("stats is not an object") }
    let stats = ManifestStats(
      activeRecords: try fields.integer(statsObject, "activeRecords", minimum: 0, prefix: "stats."),
      archivedRecords: try fields.integer(statsObject, "archivedRecords", minimum: 0, prefix: "stats."),
      opsCount: try fields.integer(statsObject, "opsCount", minimum: 0, prefix: "stats."),
      created: try fields.nonEmptyString(statsObject, "created", prefix: "stats."),
      lastCheckpoint: try fields.nonEmptyString(statsObject, "lastCheckpoint", prefix: "stats."))

    var activeAgentOps: [(agent: String, path: String)]? = nil
    if let agentsValue = object["activeAgentOps"] {
      guard case .object(let agents) = agentsValue else { throw fields.corrupted("activeAgentOps is not an object") }
      var entries: [(agent: String, path: String)] = []
      entries.reserveCapacity(agents.count)
      for (agent, pathValue) in agents {
        guard !agent.isEmpty else { throw fields.corrupted("activeAgentOps has an empty agent ID") }
        guard case .string(let path) = pathValue, !path.isEmpty else {
          throw fields.corrupted("activeAgentOps[\"\(agent)\"] is not a non-empty path")
        }
        entries.append((agent, try fields.storePath(path, "activeAgentOps[\"\(agent)\"]")))
      }
      activeAgentOps = entries
    }

    return ManifestInfo(
      version: version, currentSnapshot: currentSnapshot, activeOps: activeOps, archiveSegments: archiveSegments,
      stats: stats, activeAgentOps: activeAgentOps)
  }
}

/// Reads typed fields out of a decoded document and names the field in every error.
struct FieldReader {
  let path: String

  func corrupted(_ reason: String) -> OpsLogError { .corrupted(path: path, reason: reason) }

  func integer(_ object: JSONObject, _ key: String, minimum: Int, prefix: String = "") throws -> Int {
    guard let value = object[key] else { throw corrupted("\(prefix)\(key) is missing") }
    guard let number = value.intValue, let integer = Int(exactly: number) else {
      throw corrupted("\(prefix)\(key) is not an integer")
    }
    guard integer >= minimum else { throw corrupted("\(prefix)\(key) is less than \(minimum)") }
    return integer
  }

  /// A path inside the store (``PathRules/storePathProblem(_:)``, the rule the backends apply).
  /// A damaged or hostile manifest must not point the store at files outside its directory.
  func storePath(_ path: String, _ field: String) throws -> String {
    guard PathRules.storePathProblem(path) == nil else {
      throw corrupted("\(field) is not a path inside the store: \"\(path)\"")
    }
    return path
  }

  func nonEmptyString(_ object: JSONObject, _ key: String, prefix: String = "") throws -> String {
    guard let value = object[key] else { throw corrupted("\(prefix)\(key) is missing") }
    guard case .string(let string) = value else { throw corrupted("\(prefix)\(key) is not a string") }
    guard !string.isEmpty else { throw corrupted("\(prefix)\(key) is empty") }
    return string
  }
}
