import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Splits work over the machine's processors: the one way every layer runs work in parallel.
///
/// A job of `count` items is cut into contiguous parts, one per processor the process may use
/// (``processorCount``) and none smaller than the
/// caller's minimum, so that a small job stays on the caller's thread. The parts run at once
/// and their results come back in part order, so a caller that needs "the first failure" or
/// "file order" gets it for free.
///
/// Two entry points with one rule: ``map(_:minimumPartSize:_:)`` for tasks (the parts are
/// child tasks on the global concurrent executor, whatever executor the caller prefers), and
/// ``mapBlocking(_:minimumPartSize:_:)`` for code on a thread of its own, such as a backend's
/// I/O thread, which cannot await.
package enum ParallelWork {
  /// The processors the process may run on.
  ///
  /// On Linux this is the online processor count, the number the cooperative thread pool that
  /// runs the parts is sized by, read with `sysconf`: `ProcessInfo.activeProcessorCount` gives
  /// the same on the machines this runs on, but the first use of `ProcessInfo` makes a fresh
  /// process 2-3.5 MB larger (measured with getrusage and /proc/self/statm), 1.5 MB of an
  /// open's peak.
  package static let processorCount: Int = {
    #if os(Linux)
      return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    #else
      return max(1, ProcessInfo.processInfo.activeProcessorCount)
    #endif
  }()

  /// `0..<count` cut into at most ``processorCount`` contiguous parts of at least
  /// `minimumPartSize` items each (one part when `count` is below twice that), in order.
  package static func parts(of count: Int, minimumPartSize: Int) -> [Range<Int>] {
    guard count > 0 else { return [] }
    let partCount = max(1, min(processorCount, count / max(1, minimumPartSize)))
    return (0..<partCount).map { part in (count * part / partCount)..<(count * (part + 1) / partCount) }
  }

  /// Runs `body` on each part of `0..<count` at once, as child tasks on the global concurrent
  /// executor, and returns their results in part order. A single part runs in the caller's
  /// task. When parts throw, the error thrown is that of the first part that threw.
  package static func map<PartResult: Sendable, Failure: Error>(
    _ count: Int, minimumPartSize: Int,
    _ body: @escaping @Sendable (Range<Int>) throws(Failure) -> PartResult
  ) async throws(Failure) -> [PartResult] {
    let ranges = parts(of: count, minimumPartSize: minimumPartSize)
    guard ranges.count > 1 else { return try ranges.map { range throws(Failure) in try body(range) } }
    let results = await withTaskGroup(of: (Int, Result<PartResult, Failure>).self) { group in
      for (part, range) in ranges.enumerated() {
        group.addTask(executorPreference: globalConcurrentExecutor) {
          (part, Result { () throws(Failure) -> PartResult in try body(range) })
        }
      }
      var results = [Result<PartResult, Failure>?](repeating: nil, count: ranges.count)
      for await (part, result) in group { results[part] = result }
      return results
    }
    return try results.map { result throws(Failure) in try result.unsafelyUnwrapped.get() }
  }

  /// ``map(_:minimumPartSize:_:)`` for a caller that cannot await: the calling thread runs one
  /// part and blocks until the others, run by Dispatch's worker threads, are done. Never call
  /// it from a task on the cooperative pool, whose threads must not block.
  package static func mapBlocking<PartResult: Sendable, Failure: Error>(
    _ count: Int, minimumPartSize: Int,
    _ body: @Sendable (Range<Int>) throws(Failure) -> PartResult
  ) throws(Failure) -> [PartResult] {
    let ranges = parts(of: count, minimumPartSize: minimumPartSize)
    guard ranges.count > 1 else { return try ranges.map { range throws(Failure) in try body(range) } }
    let results = Mutex([Result<PartResult, Failure>?](repeating: nil, count: ranges.count))
    DispatchQueue.concurrentPerform(iterations: ranges.count) { part in
      let result = Result { () throws(Failure) -> PartResult in try body(ranges[part]) }
      results.withLock { $0[part] = result }
    }
    return try results.withLock { $0 }.map { result throws(Failure) in try result.unsafelyUnwrapped.get() }
  }
}
