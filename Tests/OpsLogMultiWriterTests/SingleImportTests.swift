import Foundation
import OpsLogMultiWriter  // alone, as Docs/API.md's example imports it
import Testing

@Test func oneImportOpensTheReferenceFixtureWithItsOperations() async throws {
  let location = temporaryLocation()
  defer { removeTemporaryLocation(location) }
  try FileManager.default.copyItem(
    at: fixturesDirectory.appendingPathComponent("multi-writer/store"), to: URL(fileURLWithPath: location))
  let expected = try JSONValue(
    parsing: Array(try Data(contentsOf: fixturesDirectory.appendingPathComponent("multi-writer/expected.json"))))
  var options = StoreOptions()
  options.readOnly = true
  let reader = try await Store<JSONValue>.open(location, agentId: "reader", options: options)
  #expect(Int64(try reader.operations().count) == expected["walOps"]?.intValue)
  #expect(Int64(try reader.count()) == expected["recordCount"]?.intValue)
  try await reader.close()
}
