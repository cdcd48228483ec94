import Dispatch
import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogStorage

/// The I/O queue as a task executor: a task that prefers it runs on the queue, and the
/// backend's calls made from there run in place.
@Suite("FsBackend task executor")
struct QueueTaskExecutorTests {
  @Test func aPreferringTaskRunsOnTheIOQueueAndCallsRunInPlace() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      #expect(!backend.ioExecutor.isCurrent, "a task with no preference is not on the I/O queue")
      let executor = try #require(backend.taskExecutor)
      try await withTaskExecutorPreference(executor) {
        #expect(backend.ioExecutor.isCurrent)
        dispatchPrecondition(condition: .onQueue(backend.queue))
        for line in 0..<100 {
          try await backend.append("ops/wal.jsonl", Array("line \(line)\n".utf8), durability: .process)
          // Still on the queue after each call: nothing hopped away and back.
          dispatchPrecondition(condition: .onQueue(backend.queue))
        }
        try await backend.truncate("ops/wal.jsonl", toLength: 7, durability: .process)
      }
      #expect(!backend.ioExecutor.isCurrent, "the preference ends with its scope")
      let content = try await backend.read("ops/wal.jsonl")
      #expect(content.map { String(decoding: $0, as: UTF8.self) } == "line 0\n")
      try await backend.shutdown()
    }
  }

  @Test func callsFromTheExecutorStillReportErrors() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: true)
      try await withTaskExecutorPreference(backend.taskExecutor) {
        await #expect(throws: OpsLogError.readOnly) {
          try await backend.append("ops/wal.jsonl", [0x41], durability: .process)
        }
        await #expect(throws: OpsLogError.self) {
          try await backend.truncate("missing.jsonl", toLength: 0, durability: .process)
        }
        try await backend.shutdown()
        await #expect(throws: OpsLogError.closed) { try await backend.read("anything") }
      }
    }
  }

  @Test func theMemoryBackendOffersNoExecutor() {
    #expect(MemoryBackend(disk: MemoryDisk()).taskExecutor == nil)
  }
}
