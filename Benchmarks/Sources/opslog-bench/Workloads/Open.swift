import OpsLogEngine

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// `open`: times `Store.open(dir, readOnly: true)` until reads work, in a fresh process. With
/// no `--dir`, `prepare` runs first in a child process, so this process's peak RSS reflects
/// the open alone.
func runOpenWorkload(_ options: BenchmarkOptions) async throws -> BenchmarkResult {
  let (directory, owned) = try storeDirectory(options)
  defer { if owned { removeDirectory(directory) } }
  var storeOptions = StoreOptions()
  storeOptions.readOnly = true
  progress("open: \(directory)")
  let start = now()
  let store = try await Store<Task>.open(directory, options: storeOptions)
  let count = try store.count()
  _ = try store.get(Task.id(0))
  let seconds = now() - start
  let pending = try store.stats().opsCount
  try await store.close()
  progress("open: \(count) records, \(pending) WAL operations, \(decimal(seconds, digits: 3)) s")
  return BenchmarkResult(
    workload: "open", records: count, ops: pending, seconds: seconds, opsPerSecond: nil)
}
