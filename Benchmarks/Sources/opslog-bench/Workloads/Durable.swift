import OpsLogEngine

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `durable-1` and `durable-64`: OPS sets of new records with `durability: .disk` (fsync per
/// commit), from one task or spread over 64 concurrent tasks (commits share an fsync), into
/// an empty store (or one `--preload`ed). Also measures this filesystem's own fsync rate as
/// `fsyncPerSecond`: 4 KiB appends with O_DSYNC for about a second, like `dd oflag=dsync`.
func runDurableWorkload(_ options: BenchmarkOptions, concurrency: Int) async throws -> BenchmarkResult {
  let name = "durable-\(concurrency)"
  let preloaded = options.preload ?? 0
  let directory = try makeTemporaryDirectory(name)
  defer { removeDirectory(directory) }
  let fsyncRate = try measureFsyncRate(in: directory)
  progress("\(name): this filesystem does \(Int(fsyncRate)) fsyncs/s (4 KiB O_DSYNC appends)")

  var storeOptions = uncheckpointedOptions()
  storeOptions.durability = .disk
  let store = try await Store<Task>.open(directory + "/store", options: storeOptions)
  try await preload(store, count: preloaded)
  progress("\(name): \(options.ops) sets from \(concurrency) tasks")
  let ops = options.ops
  let records = Task.prepared(preloaded..<(preloaded + ops))
  let start = now()
  try await withThrowingTaskGroup(of: Void.self) { group in
    for worker in 0..<concurrency {
      group.addTask {
        // Worker w writes ops w, w + concurrency, w + 2·concurrency, …
        for k in stride(from: worker, to: ops, by: concurrency) {
          try await store.set(records[k].id, records[k].record)
        }
      }
    }
    try await group.waitForAll()
  }
  let seconds = now() - start
  guard try store.count() == preloaded + ops else { throw BenchmarkError("\(name): records are missing") }
  try await store.close()
  return BenchmarkResult(
    workload: name, records: options.records, ops: ops, seconds: seconds, opsPerSecond: rate(ops, seconds),
    extra: [
      ("fsyncPerSecond", .double((fsyncRate * 10).rounded() / 10)), ("preloaded", .int(Int64(preloaded))),
      ("concurrency", .int(Int64(concurrency))),
    ])
}

/// Synchronous 4 KiB appends per second to a new file in `directory` (O_DSYNC: each write
/// returns once its data and the file size are on disk), for about `duration` seconds.
func measureFsyncRate(in directory: String, duration: Double = 1.0) throws -> Double {
  let path = directory + "/fsync-probe"
  let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC, 0o644)
  guard descriptor >= 0 else { throw BenchmarkError("cannot create \(path): errno \(errno)") }
  defer {
    close(descriptor)
    unlink(path)
  }
  let block = [UInt8](repeating: 0x61, count: 4096)
  var count = 0
  let start = now()
  var elapsed = 0.0
  repeat {
    let written = block.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    guard written == block.count else { throw BenchmarkError("write to \(path) failed: errno \(errno)") }
    count += 1
    elapsed = now() - start
  } while elapsed < duration
  return Double(count) / elapsed
}
