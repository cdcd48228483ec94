import Foundation
import OpsLogTestSupport
import OpsLogTypes
import Synchronization
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Locks between real processes: the test helper executable takes and holds locks, and is
/// killed with `SIGKILL` to leave stale ones behind.
@Suite("FsBackend locks across processes")
struct FsBackendProcessTests {
  @Test func lockHeldByAnotherProcessIsRefusedNamingItsPID() async throws {
    try await withTemporaryDirectory { root in
      let helper = try HelperProcess(["hold-lock", root, ".lock", "60"])
      defer { helper.kill() }
      #expect(try await helper.firstLine() == "locked")

      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      let refused = await thrownError { try await backend.acquireLock(".lock") }
      #expect(lockHolder(refused) == "process \(helper.pid)")
      // The refusal left the holder's lock file as it was.
      #expect(try await backend.read(".lock") == bytes(String(helper.pid)))

      // Killed without a chance to clean up, the helper leaves its lock file behind, stale.
      helper.kill()
      #expect(try await backend.read(".lock") == bytes(String(helper.pid)))
      try await backend.acquireLock(".lock")
      #expect(try await backend.read(".lock") == bytes(String(getpid())))
      try await backend.shutdown()
      #expect(!FileManager.default.fileExists(atPath: root + "/.lock"))
    }
  }

  @Test func lockHeldByThisProcessIsRefusedToAHelper() async throws {
    try await withTemporaryDirectory { root in
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      try await backend.acquireLock(".compact-lock")

      let refused = try HelperProcess(["try-lock", root, ".compact-lock"])
      defer { refused.kill() }
      #expect(try await refused.firstLine() == "refused process \(getpid())")
      #expect(try await refused.exitStatus() == 3)

      try await backend.releaseLock(".compact-lock")
      let taken = try HelperProcess(["try-lock", root, ".compact-lock"])
      defer { taken.kill() }
      #expect(try await taken.firstLine() == "locked")
      #expect(try await taken.exitStatus() == 0)
      try await backend.shutdown()
    }
  }

  @Test func lockFileWithADeadPIDIsTakenOver() async throws {
    try await withTemporaryDirectory { root in
      let finished = try HelperProcess(executable: "/bin/true", [])
      #expect(try await finished.exitStatus() == 0)
      // Reaped, so the PID is no process (short of reuse, which takes a wrap of the PID space).
      #expect(kill(finished.pid, 0) == -1 && errno == ESRCH)
      try String(finished.pid).write(toFile: root + "/.lock", atomically: false, encoding: .utf8)

      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      try await backend.acquireLock(".lock")
      #expect(try await backend.read(".lock") == bytes(String(getpid())))
      try await backend.shutdown()
    }
  }

  @Test(arguments: ["", "garbage", "-5", "0", "12abc"])
  func lockFileWithoutAPIDIsTakenOver(content: String) async throws {
    try await withTemporaryDirectory { root in
      try content.write(toFile: root + "/.lock", atomically: false, encoding: .utf8)
      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      try await backend.acquireLock(".lock")
      #expect(try await backend.read(".lock") == bytes(String(getpid())))
      try await backend.shutdown()
    }
  }

  @Test func lockFileOfALiveProcessWithoutFlockIsRefused() async throws {
    try await withTemporaryDirectory { root in
      // Stands in for opslog for Node: a live PID in the file, and no flock on it.
      let sleeper = try HelperProcess(executable: "/bin/sleep", ["60"])
      defer { sleeper.kill() }
      try String(sleeper.pid).write(toFile: root + "/.lock", atomically: false, encoding: .utf8)

      let backend = FsBackend()
      try await backend.initialize(location: root, readOnly: false)
      let refused = await thrownError { try await backend.acquireLock(".lock") }
      #expect(lockHolder(refused) == "process \(sleeper.pid)")
      #expect(try await backend.read(".lock") == bytes(String(sleeper.pid)))

      let helper = try HelperProcess(["try-lock", root, ".lock"])
      defer { helper.kill() }
      #expect(try await helper.firstLine() == "refused process \(sleeper.pid)")

      sleeper.kill()
      try await backend.acquireLock(".lock")
      try await backend.shutdown()
    }
  }

  /// Eight processes race for one lock, over a stale lock file or none. The winner holds it
  /// until every contender has answered, so exactly one may have succeeded.
  @Test(arguments: [true, false])
  func racingProcessesNeverBothHoldTheLock(overStaleLockFile: Bool) async throws {
    try await withTemporaryDirectory { root in
      if overStaleLockFile {
        let finished = try HelperProcess(executable: "/bin/true", [])
        _ = try await finished.exitStatus()
        try String(finished.pid).write(toFile: root + "/.lock", atomically: false, encoding: .utf8)
      }
      let contenders = try HelperProcess.start(8, ["hold-lock", root, ".lock", "120"])
      defer { for contender in contenders { contender.kill() } }
      var answers: [String] = []
      for contender in contenders {
        answers.append(try await contender.firstLine())
      }
      let winners = contenders.indices.filter { answers[$0] == "locked" }
      #expect(winners.count == 1, "answers: \(answers)")
      for index in contenders.indices where !winners.contains(index) {
        #expect(answers[index].hasPrefix("refused process "), "answer: \(answers[index])")
      }
      if let winner = winners.first {
        #expect(contenders[winner].linesSoFar() == ["locked"], "the winner still held the lock")
        let content = try String(contentsOfFile: root + "/.lock", encoding: .utf8)
        #expect(content == String(contenders[winner].pid))
        for index in contenders.indices where index != winner {
          #expect(answers[index] == "refused process \(contenders[winner].pid)")
        }
      }
    }
  }
}

/// A child process whose standard output is collected line by line as it arrives.
final class HelperProcess: Sendable {
  private let process: Process
  private let output = OutputBuffer()
  let pid: Int32

  /// What the child has printed, filled from the pipe's handler thread.
  final class OutputBuffer: Sendable {
    let bytes = Mutex<[UInt8]>([])
  }

  /// Starts the test helper with `arguments`.
  convenience init(_ arguments: [String]) throws {
    try self.init(executable: try HelperExecutable.path(), arguments)
  }

  init(executable: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.standardError
    let output = output
    pipe.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      if data.isEmpty {
        handle.readabilityHandler = nil
      } else {
        output.bytes.withLock { $0.append(contentsOf: data) }
      }
    }
    try process.run()
    self.process = process
    self.pid = process.processIdentifier
  }

  /// Starts `count` test helpers with `arguments`. If one fails to start, kills those already
  /// started, so that none outlives the test and writes to its directory after the removal.
  static func start(_ count: Int, _ arguments: [String]) throws -> [HelperProcess] {
    var started: [HelperProcess] = []
    do {
      for _ in 0..<count { started.append(try HelperProcess(arguments)) }
    } catch {
      for helper in started { helper.kill() }
      throw error
    }
    return started
  }

  /// The complete lines printed so far.
  func linesSoFar() -> [String] {
    let text = output.bytes.withLock { String(decoding: $0, as: UTF8.self) }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    lines.removeLast()  // the unfinished rest after the last newline
    return lines
  }

  /// Waits (polling, up to a generous timeout) for the first complete line.
  func firstLine(timeout: Duration = .seconds(60)) async throws -> String {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
      if let line = linesSoFar().first { return line }
      if !process.isRunning, let line = linesSoFar().first { return line }
      try await Task.sleep(for: .milliseconds(10))
    }
    throw HelperTimeout(pid: pid)
  }

  /// Waits for the process to exit and returns its exit status.
  func exitStatus(timeout: Duration = .seconds(60)) async throws -> Int32 {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while process.isRunning {
      guard clock.now < deadline else { throw HelperTimeout(pid: pid) }
      try await Task.sleep(for: .milliseconds(10))
    }
    return process.terminationStatus
  }

  /// Kills the process with `SIGKILL`, as a crash would, and reaps it so its PID is dead.
  func kill() {
    if process.isRunning { _ = Glibc.kill(pid, SIGKILL) }
    process.waitUntilExit()
  }

  struct HelperTimeout: Error, CustomStringConvertible {
    var pid: Int32
    var description: String { "helper process \(pid) did not answer in time" }
  }

}
