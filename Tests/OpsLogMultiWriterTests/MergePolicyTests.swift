import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTypes
import Testing

/// Last-writer-wins as the multi-writer layer's merge policy: what a store that merges
/// incrementally holds is what a fresh open, replaying every line in (clock, agent id)
/// order, holds.
@Suite("Multi-writer agents: last-writer-wins merges")
struct MergePolicyTests {
  /// A delete that reaches a store where its record is gone already changes nothing there,
  /// but it is still the key's latest write: a write it outranks, merged later, loses to it.
  @Test func aDeleteOfAnAbsentRecordStillOutranksEarlierWrites() async throws {
    let location = temporaryLocation()
    defer { removeTemporaryLocation(location) }
    let c = try await Store<Note>.open(location, agentId: "C", options: agentOptions())
    try await c.set("k", Note(text: "C's"))  // (1, C)
    let b = try await Store<Note>.open(location, agentId: "B", options: agentOptions())
    let m = try await Store<Note>.open(location, agentId: "M", options: agentOptions())
    let z = try await Store<Note>.open(location, agentId: "Z", options: agentOptions())
    try await b.delete("k")  // (2, B)
    try await z.delete("k")  // (2, Z): the latest write of k
    try await b.refresh()  // Z's delete finds k gone in B's view
    try await m.set("k", Note(text: "M's"))  // (2, M): after B's delete, before Z's
    try await b.refresh()
    let fresh = try await Store<Note>.open(location, agentId: "R", options: agentOptions { $0.readOnly = true })
    #expect(try fresh.get("k") == nil)
    #expect(try b.get("k") == nil, "Z's delete outranks M's write in B's view too")
    for store in [b, c, m, z, fresh] { try await store.close() }
  }
}
