import Logging
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogTestSupport
import OpsLogTypes
import Testing

@Suite("Agents log to StoreOptions.logger")
struct AgentLoggerTests {
  @Test func theIgnoredWriteModeIsLoggedToTheGivenLogger() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let log = CapturedLog()
    let agent = try await Store<Note>.open(
      location, agentId: "agent-A",
      options: agentOptions {
        $0.writeMode = .group
        $0.logger = log.logger
      })
    try await agent.close()
    let warnings = log.messages(at: .warning)
    #expect(warnings.contains { $0.message.contains("multi-writer agents write immediately") }, "\(warnings)")
    #expect(warnings.allSatisfy { $0.metadata["store"] == "\(location)" })
  }
}
