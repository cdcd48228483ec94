import Foundation
import OpsLogEngine

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How many records one `batch` loads, as BENCHMARKS.md says for `prepare`.
let loadBatchSize = 5_000

/// A checkpoint threshold no workload reaches ("10^12" in BENCHMARKS.md).
let noCheckpointThreshold = 1_000_000_000_000

/// Errors of the benchmark harness itself.
struct BenchmarkError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

/// A new empty directory under the temporary directory (TMPDIR or /tmp).
func makeTemporaryDirectory(_ purpose: String) throws -> String {
  let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
  var template = Array("\(base)/opslog-bench-\(purpose)-XXXXXX".utf8CString)
  guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
    throw BenchmarkError("cannot create a temporary directory under \(base): errno \(errno)")
  }
  return String(cString: result)
}

/// Removes a directory the benchmark made; failures only warn.
func removeDirectory(_ path: String) {
  do { try FileManager.default.removeItem(atPath: path) } catch { progress("warning: cannot remove \(path): \(error)") }
}

/// Options for a store that never checkpoints by itself or on close.
func uncheckpointedOptions() -> StoreOptions {
  var options = StoreOptions()
  options.checkpointThreshold = noCheckpointThreshold
  options.checkpointOnClose = false
  return options
}

/// Loads records `range` (BENCHMARKS.md's record `i` as `task-<i>`) in batches of 5,000.
func loadRecords(_ store: Store<Task>, _ range: Range<Int>) async throws {
  var start = range.lowerBound
  while start < range.upperBound {
    let end = min(start + loadBatchSize, range.upperBound)
    try await store.batch { batch in
      for index in start..<end { batch.set(Task.id(index), Task(index: index)) }
    }
    start = end
  }
}

/// Loads `count` records and compacts, when `count` > 0 (the write workloads' `--preload`).
func preload(_ store: Store<Task>, count: Int) async throws {
  guard count > 0 else { return }
  progress("preloading \(count) records")
  try await loadRecords(store, 0..<count)
  try await store.compact()
}

/// The path of the running executable, to run `prepare` in a child process.
func currentExecutablePath() throws -> String {
  #if os(Linux)
    return try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
  #else
    guard let path = Bundle.main.executablePath else { throw BenchmarkError("cannot find the running executable") }
    return path
  #endif
}

/// The store directory of a read workload: `--dir`, or a fresh one made by `prepare` in a
/// child process (so that none of its memory counts in this process's peak RSS). `owned` is
/// true when the caller must remove it.
func storeDirectory(_ options: BenchmarkOptions) throws -> (path: String, owned: Bool) {
  if let directory = options.directory { return (directory, false) }
  let executable = try currentExecutablePath()
  progress("running \(executable) prepare --records \(options.records) --ops \(options.ops) in a child process")
  let process = Process()
  process.executableURL = URL(fileURLWithPath: executable)
  process.arguments = ["prepare", "--records", "\(options.records)", "--ops", "\(options.ops)"]
  let output = Pipe()
  process.standardOutput = output
  try process.run()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw BenchmarkError("prepare exited with status \(process.terminationStatus)")
  }
  let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
  guard !path.isEmpty else { throw BenchmarkError("prepare printed no directory") }
  return (path, true)
}

/// Copies a store directory (for `compact`, which must not change `--dir`) into a new
/// temporary directory; returns that directory (to remove) and the copy's path.
func copyDirectory(_ source: String, purpose: String) throws -> (parent: String, copy: String) {
  let parent = try makeTemporaryDirectory(purpose)
  let destination = parent + "/store"
  try FileManager.default.copyItem(atPath: source, toPath: destination)
  return (parent, destination)
}

/// Ops per second, or nil when nothing was timed.
func rate(_ ops: Int, _ seconds: Double) -> Double? {
  seconds > 0 ? (Double(ops) / seconds * 10).rounded() / 10 : nil
}
