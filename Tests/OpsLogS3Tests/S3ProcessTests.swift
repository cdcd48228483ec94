import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogS3
import OpsLogTestSupport
import OpsLogTypes
import Synchronization
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Agent and writer processes on one bucket prefix, killed with SIGKILL at chosen moments:
/// nothing acknowledged is lost, nothing is applied twice, and survivors take leases over
/// after they expire.
@Suite("S3 processes")
struct S3ProcessTests {
  /// A running `OpsLogS3TestHelper` and the lines it printed so far.
  final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    let pending = Mutex<[UInt8]>([])

    func take(_ data: Data) {
      pending.withLock { pending in
        pending += data
        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
          let line = String(decoding: pending[..<newline], as: UTF8.self)
          pending.removeSubrange(...newline)
          lines.withLock { $0.append(line) }
        }
      }
    }
  }

  final class Child: Sendable {
    let process: Process
    let output = Lines()

    init(_ arguments: [String]) throws {
      process = Process()
      process.executableURL = URL(fileURLWithPath: try HelperExecutable.path(named: "OpsLogS3TestHelper"))
      process.arguments = arguments
      let output = Pipe()
      process.standardOutput = output
      process.standardError = FileHandle.standardError
      let lines = self.output
      output.fileHandleForReading.readabilityHandler = { handle in lines.take(handle.availableData) }
      try process.run()
    }

    var acknowledged: [String] {
      output.lines.withLock { $0.filter { $0.hasPrefix("ack ") }.map { String($0.dropFirst(4)) } }
    }
    func printed(_ line: String) -> Bool { output.lines.withLock { $0.contains(line) } }

    func wait(until condition: (Child) -> Bool, timeout: Duration = .seconds(60)) async throws {
      let deadline = ContinuousClock.now + timeout
      while !condition(self) {
        if ContinuousClock.now > deadline {
          throw OpsLogError.invalidArgument("child timed out: \(output.lines.withLock { $0 })")
        }
        if !process.isRunning && !condition(self) {
          try await Task.sleep(for: .milliseconds(100))
          if !condition(self) { throw OpsLogError.invalidArgument("child exited: \(output.lines.withLock { $0 })") }
        }
        try await Task.sleep(for: .milliseconds(20))
      }
    }

    func kill() {
      Glibc.kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }

    func finish() async throws {
      try await wait(until: { $0.printed("done") }, timeout: .seconds(120))
      process.waitUntilExit()
    }
  }

  func helperArguments(_ mode: String, _ location: String, _ name: String, count: Int, compactEvery: Int) throws
    -> [String]
  {
    let endpoint = try S3TestServer.endpoint()
    return [mode, endpoint.proxy, endpoint.bucket, location, name, String(count), String(compactEvery)]
  }

  func verify(_ location: String, contains acknowledged: [String]) async throws {
    let checker = try await Store<Note>.open(
      location, agentId: "checker", options: try s3Options { $0.readOnly = true })
    let ids = try checker.entries().map(\.id)
    #expect(Set(ids).count == ids.count)
    let missing = Set(acknowledged).subtracting(ids)
    #expect(missing.isEmpty, "acknowledged but lost: \(missing.sorted())")
    try await checker.close()
  }

  @Test(arguments: [2, 4])
  func agentsSurviveTheKillOfTheCompactingAgent(agents: Int) async throws {
    let location = freshLocation("agents\(agents)")
    var children: [Child] = []
    for index in 0..<agents {
      children.append(
        try Child(try helperArguments("agent", location, "agent\(index)", count: 40, compactEvery: index == 0 ? 10 : 0))
      )
    }
    // The first agent compacts every ten writes: kill it inside its first compaction.
    try await children[0].wait(until: { $0.printed("compacting") })
    children[0].kill()
    let killedAcknowledged = children[0].acknowledged
    for child in children.dropFirst() { try await child.finish() }
    var acknowledged = killedAcknowledged
    for child in children.dropFirst() { acknowledged += child.acknowledged }
    #expect(acknowledged.count >= 10 + 40 * (agents - 1))

    // The killed agent comes back (its `.compact-lock` lease has expired by then or is taken
    // over), finishes, and compacts; everything acknowledged by anyone is there once.
    try await Task.sleep(for: .seconds(2))
    let restarted = try Child(try helperArguments("agent", location, "agent0", count: 40, compactEvery: 20))
    try await restarted.finish()
    acknowledged += restarted.acknowledged
    try await verify(location, contains: acknowledged)
  }

  @Test func aKilledWritersLeaseIsTakenOverAfterExpiry() async throws {
    let location = freshLocation()
    let first = try Child(try helperArguments("writer", location, "w", count: 1000, compactEvery: 25))
    try await first.wait(until: { $0.acknowledged.count >= 30 })
    first.kill()
    let acknowledged = first.acknowledged
    let started = ContinuousClock.now
    let second = try Child(try helperArguments("writer", location, "v", count: 10, compactEvery: 0))
    try await second.finish()
    // The second writer waited for the lease (5 s) rather than breaking in.
    #expect(ContinuousClock.now - started >= .milliseconds(1500))
    #expect(
      second.output.lines.withLock { $0.first { $0.hasPrefix("open ") } }.flatMap { Int($0.dropFirst(5)) } ?? 0
        >= acknowledged.count)
    let reader = try await Store<Note>.open(location, options: try s3Options { $0.readOnly = true })
    let ids = Set(try reader.entries().map(\.id))
    #expect(Set(acknowledged).subtracting(ids).isEmpty)
    #expect(Set(second.acknowledged).subtracting(ids).isEmpty)
    try await reader.close()
  }
}
