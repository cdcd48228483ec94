import OpsLogEngine

/// `write-immediate`, `write-group`, `write-async`: OPS sequential `await set` of new records,
/// then `flush()`, into an empty store (or one `--preload`ed) with `checkpointThreshold` 10^12.
/// The records are built before the clock starts (``Task/prepared(_:)``).
func runWriteWorkload(_ options: BenchmarkOptions, mode: WriteMode) async throws -> BenchmarkResult {
  let name: String
  switch mode {
  case .immediate: name = "write-immediate"
  case .group: name = "write-group"
  case .async: name = "write-async"
  }
  let preloaded = options.preload ?? 0
  let directory = try makeTemporaryDirectory(name)
  defer { removeDirectory(directory) }
  var storeOptions = uncheckpointedOptions()
  storeOptions.writeMode = mode
  let store = try await Store<Task>.open(directory, options: storeOptions)
  try await preload(store, count: preloaded)
  progress("\(name): \(options.ops) sets")
  let records = Task.prepared(preloaded..<(preloaded + options.ops))
  let start = now()
  try await withTaskExecutorPreference(options.storeExecutor ? store.taskExecutor : nil) {
    for (id, record) in records {
      try await store.set(id, record)
    }
    try await store.flush()
  }
  let seconds = now() - start
  guard try store.count() == preloaded + options.ops else { throw BenchmarkError("\(name): records are missing") }
  try await store.close()
  return BenchmarkResult(
    workload: name, records: options.records, ops: options.ops, seconds: seconds,
    opsPerSecond: rate(options.ops, seconds),
    extra: [("preloaded", .int(Int64(preloaded))), ("executor", .string(options.storeExecutor ? "store" : "default"))])
}
