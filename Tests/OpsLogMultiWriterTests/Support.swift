import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

#if canImport(Glibc)
  import Glibc
#endif

struct Note: Codable, Sendable, Equatable {
  var text: String
}

/// A fresh store location in the temporary directory, not created yet. Follow it with
/// `defer { removeTemporaryLocation(location) }` so that the test leaves nothing behind.
func temporaryLocation() -> String {
  FileManager.default.temporaryDirectory.appendingPathComponent("opslog-multi-\(UUID().uuidString)").path
}

/// Removes a location made by ``temporaryLocation()`` with everything in it, if it exists.
func removeTemporaryLocation(_ location: String) {
  try? FileManager.default.removeItem(atPath: location)
}

/// Options for an agent that never compacts unless asked.
func agentOptions(_ configure: (inout StoreOptions) -> Void = { _ in }) -> StoreOptions {
  var options = StoreOptions()
  options.checkpointOnClose = false
  options.checkpointThreshold = 1_000_000
  configure(&options)
  return options
}

let fixturesDirectory = URL(fileURLWithPath: #filePath)
  .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// Every file under `location` with its bytes, to show that nothing was written.
func fileTree(_ location: String) throws -> [String: Data] {
  var files: [String: Data] = [:]
  let root = URL(fileURLWithPath: location)
  guard let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [:] }
  for case let url as URL in enumerator {
    var isDirectory: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory)
    files[String(url.path.dropFirst(root.path.count))] = isDirectory.boolValue ? Data() : try Data(contentsOf: url)
  }
  return files
}

/// Appends `text` to the file at `path` as another process would, bypassing every store (a
/// write that raced a compaction, a crash's leftovers, a line still being written).
func appendRaw(_ text: String, to path: String) throws {
  let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
  defer { try? handle.close() }
  try handle.seekToEnd()
  try handle.write(contentsOf: Data(text.utf8))
}

func readText(_ path: String) throws -> String {
  String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
}

/// The deterministic merge of a store as Docs/FORMAT.md defines it: the snapshot, then every WAL
/// line of the manifest's agents, and every line after the `.through` marker of a retired
/// agent WAL (lines a compaction missed), sorted by (clock, agent id by UTF-8 bytes), last
/// writer wins, records in first-insertion order.
func deterministicMerge(_ location: String) throws -> [(id: String, record: JSONValue)] {
  let manifest = try ManifestCodec.decode(
    Array(try Data(contentsOf: URL(fileURLWithPath: location + "/manifest.json"))))
  var ids: [String] = []
  var records: [String: JSONValue] = [:]
  func put(_ id: String, _ value: JSONValue?) {
    if let value {
      if records[id] == nil { ids.append(id) }
      records[id] = value
    } else if records.removeValue(forKey: id) != nil {
      ids.removeAll { $0 == id }
    }
  }
  let snapshot = try readText(location + "/" + manifest.currentSnapshot).split(separator: "\n").dropFirst()
  for line in snapshot {
    guard case .object(let object) = try JSONValue(parsing: Array(line.utf8)), case .string(let id)? = object["id"]
    else { continue }
    put(id, object["data"])
  }
  var operations: [LogOperation<JSONValue>] = []
  var paths = manifest.activeAgentOps?.map(\.path) ?? []
  if !paths.contains(manifest.activeOps) { paths.append(manifest.activeOps) }
  func appendOperations(of path: String, from offset: Int) throws {
    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: location + "/" + path)))
    guard offset < bytes.count else { return }
    // Complete lines only: a torn last line was never acknowledged.
    let end = (bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
    guard offset < end else { return }
    for line in bytes[offset..<end].split(separator: UInt8(ascii: "\n")) {
      if let operation = try? OperationLine.decode(Array(line)) { operations.append(operation) }
    }
  }
  for path in paths { try appendOperations(of: path, from: 0) }
  for name in (try? FileManager.default.contentsOfDirectory(atPath: location + "/ops")) ?? []
  where name.hasPrefix("agent-") && name.hasSuffix(".jsonl") && !paths.contains("ops/" + name) {
    guard let marker = try? readText(location + "/ops/" + name + ".through"),
      let through = Int(marker.trimmingCharacters(in: .whitespacesAndNewlines))
    else { continue }
    try appendOperations(of: "ops/" + name, from: through)
  }
  operations.sort { a, b in
    let (ca, cb) = (a.clock ?? -1, b.clock ?? -1)
    if ca != cb { return ca < cb }
    return (a.agent ?? "").utf8.lexicographicallyPrecedes((b.agent ?? "").utf8)
  }
  for operation in operations { put(operation.id, operation.kind == .set ? operation.data : nil) }
  return ids.map { ($0, records[$0]!) }
}

func asDictionary(_ entries: [(id: String, record: JSONValue)]) -> [String: JSONValue] {
  Dictionary(entries.map { ($0.id, $0.record) }, uniquingKeysWith: { _, last in last })
}

/// Runs the test helper executable and returns its exit status and standard output.
final class HelperRun: Sendable {
  let process: Process
  let pipe: Pipe

  init(_ arguments: [String]) throws {
    process = Process()
    process.executableURL = URL(fileURLWithPath: try HelperExecutable.path())
    process.arguments = arguments
    pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    try process.run()
  }

  func finish(timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while process.isRunning {
      if clock.now > deadline {
        process.terminate()
        throw TimeoutError()
      }
      try await Task.sleep(for: .milliseconds(20))
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// Kills the helper if it still runs and waits for it to exit: a test that throws before
  /// ``finish(timeout:)`` stops it this way before removing the store the helper writes to.
  func stop() {
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
  }

  /// Starts one helper per argument list; if one fails to start, stops those already started.
  static func start(_ argumentLists: [[String]]) throws -> [HelperRun] {
    var runs: [HelperRun] = []
    do {
      for arguments in argumentLists { runs.append(try HelperRun(arguments)) }
    } catch {
      for run in runs { run.stop() }
      throw error
    }
    return runs
  }

  struct TimeoutError: Error {}

}

/// What `agent-write <location> <agent> <count> <prefix> …` leaves of the agent's own keys.
func expectedOwnRecords(agent: String, prefix: String, count: Int) -> [String: JSONValue] {
  var records: [String: JSONValue] = [:]
  for i in 0..<count where i % 2 == 0 {
    if i % 7 == 6, records["\(prefix)-\(i - 2)"] != nil {
      records["\(prefix)-\(i - 2)"] = nil
    } else {
      records["\(prefix)-\(i)"] = .object(["agent": .string(agent), "i": .int(Int64(i))])
    }
  }
  return records
}
