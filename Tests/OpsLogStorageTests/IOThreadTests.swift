import Dispatch
import Foundation
import OpsLogTypes
import Synchronization
import Testing

@testable import OpsLogStorage

/// The I/O thread as a task executor: a task that prefers it runs on the thread, and the
/// backend's calls made from there run in place.
@Suite("FsBackend task executor")
struct IOTaskExecutorTests {
  @Test func aPreferringTaskRunsOnTheIOThreadAndCallsRunInPlace() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      #expect(!backend.ioExecutor.isCurrent, "a task with no preference is not on the I/O thread")
      #expect(!backend.ioThread.isCurrent)
      let executor = try #require(backend.taskExecutor)
      try await withTaskExecutorPreference(executor) {
        #expect(backend.ioExecutor.isCurrent)
        #expect(backend.ioThread.isCurrent)
        for line in 0..<100 {
          try await backend.append("ops/wal.jsonl", Array("line \(line)\n".utf8), durability: .process)
          // Still on the thread after each call: nothing hopped away and back.
          #expect(backend.ioThread.isCurrent)
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

/// The I/O thread on its own: order, results and errors, callers that watch and callers that
/// suspend, and the thread's end when idle.
@Suite("I/O thread")
struct IOThreadTests {
  struct JobFailed: Error, Equatable { var number: Int }

  /// What jobs saw, shared between the test and its jobs.
  final class Log<Value: Sendable>: Sendable {
    let entries: Mutex<Value>
    init(_ initial: Value) { entries = Mutex(initial) }
    var value: Value { entries.withLock { $0 } }
  }

  @Test func jobsRunInOrderOnTheThreadAndNowhereElse() async throws {
    let thread = IOThread()
    #expect(!thread.isCurrent)
    let seen = Log<[Int]>([])
    for number in 0..<1_000 {
      thread.submit {
        precondition(thread.isCurrent)
        seen.entries.withLock { $0.append(number) }
      }
    }
    // A job submitted last runs last, so when it returns every earlier one has run.
    let onThread = try await thread.run(expectingQuickWork: false) { thread.isCurrent }
    #expect(onThread)
    #expect(seen.value == Array(0..<1_000))
    #expect(!thread.isCurrent)
  }

  @Test(arguments: [false, true])
  func resultsAndErrorsReachTheirCallers(quick: Bool) async throws {
    let thread = IOThread()
    for number in 0..<200 {
      // Some jobs outlast the caller's watch, so both the watching and the suspending path run.
      let slow = number % 20 == 0
      let job: @Sendable () throws -> Int = {
        if slow { usleep(2_000) }
        if number % 7 == 0 { throw JobFailed(number: number) }
        return number * 2
      }
      if number % 7 == 0 {
        await #expect(throws: JobFailed(number: number)) { try await thread.run(expectingQuickWork: quick, job) }
      } else {
        #expect(try await thread.run(expectingQuickWork: quick, job) == number * 2)
      }
    }
  }

  @Test func concurrentCallersEachGetTheirOwnResultInTheirOwnOrder() async throws {
    let thread = IOThread()
    let log = Log<[Int: [Int]]>([:])
    let echoes = try await withThrowingTaskGroup(of: Bool.self) { group in
      for caller in 0..<32 {
        group.addTask { try await Self.call(thread, as: caller, logging: log) }
      }
      return try await group.reduce(into: [Bool]()) { $0.append($1) }
    }
    #expect(echoes.count == 32 && echoes.allSatisfy { $0 }, "every caller got its own results back")
    #expect(log.value.values.allSatisfy { $0 == Array(0..<100) })
  }

  /// 100 jobs from one caller, half of them watched for; whether each returned its own value.
  static func call(_ thread: IOThread, as caller: Int, logging log: Log<[Int: [Int]]>) async throws -> Bool {
    var allEchoed = true
    for step in 0..<100 {
      let echoed = try await thread.run(expectingQuickWork: step % 2 == 0) {
        log.entries.withLock { $0[caller, default: []].append(step) }
        return caller * 1_000 + step
      }
      allEchoed = allEchoed && echoed == caller * 1_000 + step
    }
    return allEchoed
  }

  @Test func theThreadStaysAwakeLongerOnlyForASteadyStreamOfJobs() {
    #expect(IOThread.idleSpin(afterIdle: .microseconds(5)) == .microseconds(50))
    #expect(IOThread.idleSpin(afterIdle: .microseconds(20)) == .microseconds(50))
    #expect(IOThread.idleSpin(afterIdle: .microseconds(40)) == .microseconds(80))
    #expect(IOThread.idleSpin(afterIdle: .microseconds(49)) == .microseconds(98))
    #expect(IOThread.idleSpin(afterIdle: .microseconds(50)) == .zero)
    #expect(IOThread.idleSpin(afterIdle: .microseconds(150)) == .zero)
    #expect(IOThread.idleSpin(afterIdle: .seconds(1)) == .zero)
  }

  @Test func theThreadEndsWhenIdleAndStartsAgainOnDemand() async throws {
    let thread = IOThread()
    let first = try await thread.run(expectingQuickWork: true) { IOThread.currentThreadIdentity() }
    #expect(first != 0)
    // Idle for longer than the thread waits before it ends (polled: a loaded machine may run
    // the thread's last look late).
    var ended = false
    for _ in 0..<100 where !ended {
      try await Task.sleep(for: .milliseconds(100))
      ended = thread.state.withLock { !$0.running } && thread.threadIdentity.load(ordering: .acquiring) == 0
    }
    #expect(ended, "the thread ends after \(IOThread.idleExit) with nothing to do")
    let second = try await thread.run(expectingQuickWork: true) { thread.isCurrent }
    #expect(second, "a new thread ran the job")
  }
}
