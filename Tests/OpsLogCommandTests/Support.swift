import Foundation
import OpsLogTestSupport
import OpsLogTypes
import Testing

/// What a run of a child process gave.
struct RunResult: CustomStringConvertible {
  var status: Int32
  var stdout: String
  var stderr: String

  var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
  var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }

  var description: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }

  /// stdout parsed as one JSON document.
  func json() throws -> JSONValue { try JSONValue(parsing: stdout) }
}

/// Runs the `opslog` executable as a user would, and waits for it to exit.
func opslog(_ arguments: String..., stdin: String? = nil, environment: [String: String] = [:]) async throws
  -> RunResult
{
  try await run(try HelperExecutable.path(named: "opslog"), arguments, stdin: stdin, environment: environment)
}

/// Runs `executable` with its output in temporary files (so that a large output never fills a
/// pipe that nobody reads), waiting for the exit without blocking a thread.
func run(_ executable: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:])
  async throws -> RunResult
{
  let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-run-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: scratch) }
  let outURL = scratch.appendingPathComponent("stdout")
  let errURL = scratch.appendingPathComponent("stderr")
  _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
  _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = arguments
  var env = ProcessInfo.processInfo.environment
  env["OPSLOG_PROGRESS"] = env["OPSLOG_PROGRESS"] ?? "never"
  for (key, value) in environment { env[key] = value }
  process.environment = env
  let out = try FileHandle(forWritingTo: outURL)
  let err = try FileHandle(forWritingTo: errURL)
  process.standardOutput = out
  process.standardError = err
  if let stdin {
    let inURL = scratch.appendingPathComponent("stdin")
    try Data(stdin.utf8).write(to: inURL)
    process.standardInput = try FileHandle(forReadingFrom: inURL)
  } else {
    process.standardInput = FileHandle.nullDevice
  }
  let status: Int32 = try await withCheckedThrowingContinuation { continuation in
    process.terminationHandler = { process in continuation.resume(returning: process.terminationStatus) }
    do {
      try process.run()
    } catch {
      process.terminationHandler = nil
      continuation.resume(throwing: error)
    }
  }
  try out.close()
  try err.close()
  return RunResult(
    status: status, stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
    stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// The reference fixtures in `Tests/Fixtures/<case>/`.
enum CommandFixture {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  static let cases = [
    "archived", "checkpointed", "group-mode", "legacy-json-snapshot", "multi-writer", "torn-tail", "tricky-json",
    "versioned-v1", "wal-replay",
  ]

  static func store(_ fixture: String) -> String {
    root.appendingPathComponent(fixture).appendingPathComponent("store").path
  }

  static func expected(_ fixture: String) throws -> JSONObject {
    let bytes = try Data(contentsOf: root.appendingPathComponent(fixture).appendingPathComponent("expected.json"))
    return try #require(try JSONValue(parsing: [UInt8](bytes)).objectValue)
  }
}

/// A scratch directory for one test, removed afterwards.
func withScratch(_ body: (String) async throws -> Void) async throws {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-command-\(UUID().uuidString)").path
  try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
  do {
    try await body(root)
  } catch {
    try? FileManager.default.removeItem(atPath: root)
    throw error
  }
  try? FileManager.default.removeItem(atPath: root)
}

/// A copy of a fixture's store under `root`, to damage or modify.
func copyFixture(_ fixture: String, to root: String, as name: String = "store") throws -> String {
  let destination = root + "/" + name
  try FileManager.default.copyItem(atPath: CommandFixture.store(fixture), toPath: destination)
  return destination
}

/// Every file under `directory` with its bytes, to show that a command changed nothing.
func snapshotOfFiles(_ directory: String) throws -> [String: Data] {
  var result: [String: Data] = [:]
  let enumerator = FileManager.default.enumerator(atPath: directory)
  while let path = enumerator?.nextObject() as? String {
    var isDirectory: ObjCBool = false
    let full = directory + "/" + path
    if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
      result[path] = try Data(contentsOf: URL(fileURLWithPath: full))
    }
  }
  return result
}

func readText(_ path: String) throws -> String {
  String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
}

func writeText(_ path: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

/// The file of `directory` whose name starts with `prefix` and ends with `suffix`.
func file(in directory: String, prefix: String, suffix: String = "") throws -> String {
  let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
    $0.hasPrefix(prefix) && $0.hasSuffix(suffix)
  }.sorted()
  return directory + "/" + (try #require(names.last))
}

/// A child process that holds a lock of `location` until it is terminated.
final class LockHolder {
  let process = Process()
  let output = Pipe()

  init(_ location: String, _ lockName: String) throws {
    process.executableURL = URL(fileURLWithPath: try HelperExecutable.path())
    process.arguments = ["hold-lock", location, lockName, "120"]
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
  }

  /// Waits until the child says it holds the lock.
  func waitUntilLocked() async throws {
    let handle = output.fileHandleForReading
    let line = await Task.detached { () -> String in
      var bytes: [UInt8] = []
      while true {
        let data = handle.readData(ofLength: 1)
        if data.isEmpty || data.first == UInt8(ascii: "\n") { break }
        bytes += data
      }
      return String(decoding: bytes, as: UTF8.self)
    }.value
    #expect(line == "locked")
  }

  func stop() {
    process.terminate()
    process.waitUntilExit()
  }
}
