import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogTestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A writer killed with SIGKILL in the middle of writing loses nothing it acknowledged.
@Suite("Crash safety across processes")
struct CrashTests {
  @Test(arguments: ["process", "disk"])
  func killedWriterLosesNothingAcknowledged(durability: String) async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try HelperExecutable.path())
    process.arguments = ["write-until-killed", location.path, durability]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    // Read acknowledgements until enough have arrived, then kill without warning.
    var acknowledged = -1
    var buffer = ""
    let deadline = Date().addingTimeInterval(60)
    while acknowledged < 300 && Date() < deadline {
      let data = output.fileHandleForReading.availableData
      if data.isEmpty { break }
      buffer += String(decoding: data, as: UTF8.self)
      let lines = buffer.split(separator: "\n", omittingEmptySubsequences: false)
      buffer = String(lines.last ?? "")
      for line in lines.dropLast() where line.hasPrefix("ack ") {
        acknowledged = max(acknowledged, Int(line.dropFirst(4)) ?? -1)
      }
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(acknowledged >= 300, "the writer acknowledged writes before it was killed")

    // The lock of the dead writer is stale: a new writer opens the store.
    let store = try await Store<JSONValue>.open(location.path)
    for index in 0...acknowledged {
      let record = try store.get("k\(index)")
      #expect(record?["n"] == .int(Int64(index)), "acknowledged write k\(index) survived")
      if record == nil { break }
    }
    try await store.set("after-crash", true)
    try await store.close()
  }

}
