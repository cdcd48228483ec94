import ArgumentParser

/// `opslog-bench WORKLOAD [--records N] [--ops N] [--dir DIR] [--preload N]`: runs one workload
/// of Docs/BENCHMARKS.md and prints one JSON line.
@main
struct OpsLogBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "opslog-bench",
    abstract: "Runs one OpsLog benchmark workload and prints its result as one JSON line.",
    discussion: """
      Workloads are defined in Docs/BENCHMARKS.md. `prepare` builds a store (RECORDS records, \
      compacted, then OPS delta-encoded updates left in the WAL) and prints its directory; \
      `open`, `compact` and `query` use `--dir` (made by either implementation) or run \
      `prepare` first in a child process. The write workloads (write-*, durable-*) accept \
      `--preload N`: N records are loaded (batches of 5,000) and compacted before the timed \
      part, to show how a write's cost depends on the store's size. Progress goes to stderr.
      """)

  /// Every workload, by name; each lives in its own file under Workloads/.
  static let workloads: [String: @Sendable (BenchmarkOptions) async throws -> BenchmarkResult] = [
    "codec": { try runCodecWorkload($0) },
    "prepare": runPrepareWorkload,
    "open": runOpenWorkload,
    "compact": runCompactWorkload,
    "query": runQueryWorkload,
    "write-immediate": { try await runWriteWorkload($0, mode: .immediate) },
    "write-group": { try await runWriteWorkload($0, mode: .group) },
    "write-async": { try await runWriteWorkload($0, mode: .async) },
    "write-default": runWriteDefaultWorkload,
    "undo": runUndoWorkload,
    "durable-1": { try await runDurableWorkload($0, concurrency: 1) },
    "durable-64": { try await runDurableWorkload($0, concurrency: 64) },
  ]

  @Argument(help: "The workload to run (\(OpsLogBench.workloads.keys.sorted().joined(separator: ", "))).")
  var workload: String

  @Option(help: "Number of records.")
  var records = 200_000

  @Option(help: "Number of operations.")
  var ops = 20_000

  @Option(help: "Store directory (made by `prepare`, by either implementation); `prepare` builds into it.")
  var dir: String?

  @Option(
    help: """
      Write workloads: records loaded and compacted before the timed part (default 0; \
      write-default: RECORDS/10).
      """)
  var preload: Int?

  @Flag(
    help: """
      write-immediate, write-group, write-async, undo: run the timed loop with the store's I/O \
      executor preferred (`withTaskExecutorPreference(store.taskExecutor)`), as a write-heavy \
      task may; the result line then says "executor":"store".
      """)
  var storeExecutor = false

  func validate() throws {
    guard Self.workloads[workload] != nil else {
      throw ValidationError(
        "unknown workload \"\(workload)\"; known workloads: \(Self.workloads.keys.sorted().joined(separator: ", "))")
    }
    guard records > 0, ops >= 0 else { throw ValidationError("--records must be positive and --ops not negative") }
    if let preload, preload < 0 { throw ValidationError("--preload must not be negative") }
  }

  func run() async throws {
    let options = BenchmarkOptions(
      records: records, ops: ops, directory: dir, preload: preload, storeExecutor: storeExecutor)
    let result = try await Self.workloads[workload]!(options)
    // `prepare` prints the directory it made instead of a result line.
    print(result.directory ?? result.line())
  }
}

struct BenchmarkOptions: Sendable {
  var records: Int
  var ops: Int
  var directory: String?
  var preload: Int?
  var storeExecutor = false
}
