import OpsLogEngine

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// `prepare`: builds the store the read workloads use and prints its directory. RECORDS
/// records loaded in batches of 5,000, `compact()`, then OPS updates (op k sets record
/// `(k*7919) % RECORDS` to itself with status "done" and priority 9), closed without a
/// checkpoint so the WAL holds OPS delta-encoded operations. Nothing is timed.
func runPrepareWorkload(_ options: BenchmarkOptions) async throws -> BenchmarkResult {
  let directory: String
  if let given = options.directory {
    if FileManager.default.fileExists(atPath: given),
      !(try FileManager.default.contentsOfDirectory(atPath: given)).isEmpty
    {
      throw BenchmarkError("prepare builds a new store: \(given) must be empty or absent")
    }
    directory = given
  } else {
    directory = try makeTemporaryDirectory("store")
  }
  let start = now()
  let store = try await Store<Task>.open(directory, options: uncheckpointedOptions())
  progress("prepare: loading \(options.records) records into \(directory)")
  try await loadRecords(store, 0..<options.records)
  try await store.compact()
  progress("prepare: \(options.ops) updates")
  for k in 0..<options.ops {
    let id = Task.id((k * 7919) % options.records)
    guard var record = try store.get(id) else { throw BenchmarkError("prepare: \(id) is missing") }
    record.status = "done"
    record.priority = 9
    try await store.set(id, record)
  }
  try await store.close()
  progress("prepare: done in \(decimal(now() - start, digits: 2)) s")
  var result = BenchmarkResult(
    workload: "prepare", records: options.records, ops: options.ops, seconds: now() - start, opsPerSecond: nil)
  result.directory = directory
  return result
}
