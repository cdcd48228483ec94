import ArgumentParser

/// `opslog-bench WORKLOAD [--records N] [--ops N] [--dir DIR]`: runs one workload of
/// BENCHMARKS.md and prints one JSON line.
@main
struct OpsLogBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "opslog-bench",
    abstract: "Runs one OpsLog benchmark workload and prints its result as one JSON line.")

  /// Every workload, by name; each lives in its own file under Workloads/.
  static let workloads: [String: @Sendable (BenchmarkOptions) throws -> BenchmarkResult] = [
    "codec": runCodecWorkload
  ]

  @Argument(help: "The workload to run (\(OpsLogBench.workloads.keys.sorted().joined(separator: ", "))).")
  var workload: String

  @Option(help: "Number of records.")
  var records = 200_000

  @Option(help: "Number of operations.")
  var ops = 20_000

  @Option(help: "Store directory (made by `prepare`).")
  var dir: String?

  func validate() throws {
    guard Self.workloads[workload] != nil else {
      throw ValidationError(
        "unknown workload \"\(workload)\"; known workloads: \(Self.workloads.keys.sorted().joined(separator: ", "))")
    }
    guard records > 0, ops >= 0 else { throw ValidationError("--records must be positive and --ops not negative") }
  }

  func run() throws {
    let options = BenchmarkOptions(records: records, ops: ops, directory: dir)
    let result = try Self.workloads[workload]!(options)
    print(result.line())
  }
}

struct BenchmarkOptions: Sendable {
  var records: Int
  var ops: Int
  var directory: String?
}
