import OpsLogEngine

/// `write-default`: OPS sequential sets of new records with default options (a checkpoint
/// every 100 operations), into a store preloaded with RECORDS/10 records (or `--preload`) and
/// compacted. Checkpoints run in the background; the one still running when the last set
/// returns is finished by `close()`, whose time is reported apart as `closeSeconds`.
func runWriteDefaultWorkload(_ options: BenchmarkOptions) async throws -> BenchmarkResult {
  let preloaded = options.preload ?? options.records / 10
  let directory = try makeTemporaryDirectory("write-default")
  defer { removeDirectory(directory) }
  let store = try await Store<Task>.open(directory, options: StoreOptions())
  try await preload(store, count: preloaded)
  progress("write-default: \(options.ops) sets")
  let records = Task.prepared(preloaded..<(preloaded + options.ops))
  let start = now()
  for (id, record) in records {
    try await store.set(id, record)
  }
  try await store.flush()
  let seconds = now() - start
  let closeStart = now()
  try await store.close()
  let closeSeconds = now() - closeStart
  return BenchmarkResult(
    workload: "write-default", records: options.records, ops: options.ops, seconds: seconds,
    opsPerSecond: rate(options.ops, seconds),
    extra: [("preloaded", .int(Int64(preloaded))), ("closeSeconds", .double(closeSeconds))])
}
