import OpsLogEngine

/// `undo`: OPS `undo()` calls, after OPS sets cycling over 100 IDs (threshold 10^12), so every
/// undo restores a previous version or removes a create.
func runUndoWorkload(_ options: BenchmarkOptions) async throws -> BenchmarkResult {
  let directory = try makeTemporaryDirectory("undo")
  defer { removeDirectory(directory) }
  let store = try await Store<Task>.open(directory, options: uncheckpointedOptions())
  progress("undo: \(options.ops) sets over 100 IDs")
  for k in 0..<options.ops {
    try await store.set(Task.id(k % 100), Task(index: k))
  }
  progress("undo: \(options.ops) undos")
  let start = now()
  try await withTaskExecutorPreference(options.storeExecutor ? store.taskExecutor : nil) {
    for _ in 0..<options.ops {
      guard try await store.undo() else { throw BenchmarkError("undo: nothing left to undo") }
    }
  }
  let seconds = now() - start
  guard try store.count() == 0 else { throw BenchmarkError("undo: records remain after undoing every set") }
  try await store.close()
  return BenchmarkResult(
    workload: "undo", records: options.records, ops: options.ops, seconds: seconds,
    opsPerSecond: rate(options.ops, seconds),
    extra: [("executor", .string(options.storeExecutor ? "store" : "default"))])
}
