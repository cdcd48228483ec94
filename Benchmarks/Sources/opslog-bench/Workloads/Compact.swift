import OpsLogEngine

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// `compact`: one `compact()` of RECORDS records, on a copy of `--dir` (or of a store
/// `prepare` makes in a child process) opened for writing, after one `set`.
func runCompactWorkload(_ options: BenchmarkOptions) async throws -> BenchmarkResult {
  let (source, owned) = try storeDirectory(options)
  defer { if owned { removeDirectory(source) } }
  let (parent, directory) = try copyDirectory(source, purpose: "compact")
  defer { removeDirectory(parent) }
  progress("compact: opening a copy of \(source)")
  // No automatic checkpoint: the WAL already holds OPS operations, and the default threshold
  // would start one in the background with the `set` below.
  let store = try await Store<Task>.open(directory, options: uncheckpointedOptions())
  let count = try store.count()
  let pending = try store.stats().opsCount
  try await store.set(Task.id(0), Task(index: 0))
  let start = now()
  try await store.compact()
  let seconds = now() - start
  try await store.close()
  progress("compact: \(count) records, \(decimal(seconds, digits: 3)) s")
  return BenchmarkResult(workload: "compact", records: count, ops: pending, seconds: seconds, opsPerSecond: nil)
}
