import OpsLogEngine

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// How many records one `batch` loads, as Docs/BENCHMARKS.md says for `prepare`.
let loadBatchSize = 5_000

/// A checkpoint threshold no workload reaches ("10^12" in Docs/BENCHMARKS.md).
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

/// Loads records `range` (Docs/BENCHMARKS.md's record `i` as `task-<i>`) in batches of 5,000.
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
    guard let path = CommandLine.arguments.first else { throw BenchmarkError("cannot find the running executable") }
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
  let output = try runChild(executable, ["prepare", "--records", "\(options.records)", "--ops", "\(options.ops)"])
  let path = String(decoding: output, as: UTF8.self).split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
  guard !path.isEmpty else { throw BenchmarkError("prepare printed no directory") }
  return (path, true)
}

/// Runs `executable` with `arguments` and returns what it printed on stdout; its stderr is
/// this process's. posix_spawn rather than Foundation's `Process`, so that the benchmark (like
/// the library) needs only FoundationEssentials and its peak RSS carries no more runtime than
/// an application's would.
func runChild(_ executable: String, _ arguments: [String]) throws -> [UInt8] {
  var pipeEnds: [Int32] = [0, 0]
  guard pipe(&pipeEnds) == 0 else { throw BenchmarkError("pipe failed: errno \(errno)") }
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
  posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
  let argv = ([executable] + arguments).map { strdup($0) } + [nil]
  defer { for argument in argv { free(argument) } }
  var child: pid_t = 0
  let spawned = posix_spawn(&child, executable, &actions, nil, argv, environ)
  close(pipeEnds[1])
  defer { close(pipeEnds[0]) }
  guard spawned == 0 else { throw BenchmarkError("cannot run \(executable): errno \(spawned)") }
  var output: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let count = read(pipeEnds[0], &buffer, buffer.count)
    if count > 0 {
      output.append(contentsOf: buffer[0..<count])
    } else if count == 0 || errno != EINTR {
      break
    }
  }
  var status: Int32 = 0
  while waitpid(child, &status, 0) < 0 && errno == EINTR {}
  guard status == 0 else { throw BenchmarkError("\(arguments.first ?? executable) exited with status \(status)") }
  return output
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

/// `value` with `digits` decimals, for progress messages (`String(format:)` needs all of
/// Foundation).
func decimal(_ value: Double, digits: Int) -> String {
  var scale = 1.0
  for _ in 0..<digits { scale *= 10 }
  let scaled = (abs(value) * scale).rounded()
  let whole = Int(scaled / scale)
  let fraction = Int(scaled) - whole * Int(scale)
  var fractionText = String(fraction)
  while fractionText.count < digits { fractionText = "0" + fractionText }
  return (value < 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + fractionText : "")
}
