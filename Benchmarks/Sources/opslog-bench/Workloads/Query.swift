import OpsLogEngine

/// `query`: 20 × `filter { status == "active" && priority > 2 }` over `--dir` (or a store
/// `prepare` makes in a child process) opened read-only.
func runQueryWorkload(_ options: BenchmarkOptions) async throws -> BenchmarkResult {
  let (directory, owned) = try storeDirectory(options)
  defer { if owned { removeDirectory(directory) } }
  var storeOptions = StoreOptions()
  storeOptions.readOnly = true
  let store = try await Store<Task>.open(directory, options: storeOptions)
  let count = try store.count()
  let queries = 20
  var matches = 0
  let start = now()
  let startCPU = processorSeconds()
  for _ in 0..<queries {
    matches = try store.filter { $0.status == "active" && $0.priority > 2 }.count
  }
  let seconds = now() - start
  // Every thread's processor time over the timed loop: steadier than wall time on a loaded
  // machine, and larger than it when the work is spread over cores.
  let cpuSeconds = processorSeconds() - startCPU
  try await store.close()
  progress(
    "query: \(queries) filters over \(count) records, \(matches) matches each, \(decimal(seconds, digits: 3)) s")
  return BenchmarkResult(
    workload: "query", records: count, ops: queries, seconds: seconds, opsPerSecond: nil,
    extra: [("matches", .int(Int64(matches))), ("cpuSeconds", .double((cpuSeconds * 1e6).rounded() / 1e6))])
}
