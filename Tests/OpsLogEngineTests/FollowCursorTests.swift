import Foundation
import OpsLogCodec
import OpsLogStorage
import Testing

@_spi(LogStrategy) @testable import OpsLogEngine

/// The one cursor of every follower (Docs/Architecture.md, "Following a writer and the change
/// feed"): what each of its checks says about the files, apart from any store.
@Suite("The follower's cursor")
struct FollowCursorTests {
  static func line(_ id: String, _ value: Int) -> [UInt8] {
    OperationLine.encode(
      LogOperation(
        timestamp: "2026-12-02T10:00:00.000Z", kind: .set, id: id, data: ["n": .int(Int64(value))], previous: .none))
      + [UInt8(ascii: "\n")]
  }

  static func manifest(
    snapshot: String = "snapshots/snap-1.jsonl", wal: String = "ops/ops-1.jsonl", archived: Int = 0,
    segments: [String] = [], version: Int = 1
  ) -> ManifestInfo {
    ManifestInfo(
      version: version, currentSnapshot: snapshot, activeOps: wal, archiveSegments: segments,
      stats: ManifestStats(
        activeRecords: 0, archivedRecords: archived, opsCount: 0, created: "2026-12-02T10:00:00.000Z",
        lastCheckpoint: "2026-12-02T10:00:00.000Z"))
  }

  /// A memory backend holding `ops/ops-1.jsonl` with lines a and b, and a cursor past them.
  static func followedWAL() async throws -> (MemoryBackend, FollowCursor) {
    let backend = MemoryBackend()
    try await backend.initialize(location: "/cursor", readOnly: false)
    try await backend.create("ops/ops-1.jsonl", durability: .process)
    try await backend.append("ops/ops-1.jsonl", line("a", 1) + line("b", 2), durability: .process)
    let read = try await backend.readWAL("ops/ops-1.jsonl")
    return (backend, FollowCursor(generation: manifest(), after: read))
  }

  @Test func aWALThatOnlyGrewIsIntactAndTheCursorMovesPastWhatWasRead() async throws {
    let (backend, cursor) = try await Self.followedWAL()
    let start = Self.line("a", 1).count + Self.line("b", 2).count
    #expect(cursor.activePosition?.offset == start)
    #expect(try await cursor.check("ops/ops-1.jsonl", backend: backend) == .intact(size: start))
    try await backend.append("ops/ops-1.jsonl", Self.line("c", 3), durability: .process)
    #expect(
      try await cursor.check("ops/ops-1.jsonl", backend: backend) == .intact(size: start + Self.line("c", 3).count))
    var moved = cursor
    let read = try await backend.readWAL("ops/ops-1.jsonl", from: start)
    moved.advance("ops/ops-1.jsonl", over: read)
    #expect(moved.activePosition?.offset == start + Self.line("c", 3).count)
    #expect(moved.activePosition?.lastApplied?.offset == start)
  }

  @Test func aWALCutBelowTheOffsetWasUndone() async throws {
    let (backend, cursor) = try await Self.followedWAL()
    try await backend.truncate("ops/ops-1.jsonl", toLength: Self.line("a", 1).count, durability: .process)
    #expect(try await cursor.check("ops/ops-1.jsonl", backend: backend) == .undone)
  }

  @Test func aLastAppliedLineWrittenAgainWithOtherBytesWasUndoneEvenWhenTheFileGrewPastIt() async throws {
    let (backend, cursor) = try await Self.followedWAL()
    // b undone, then a line of the same length and a longer one written in its place: the
    // file is longer than the offset, but the line the cursor applied is gone.
    try await backend.truncate("ops/ops-1.jsonl", toLength: Self.line("a", 1).count, durability: .process)
    try await backend.append("ops/ops-1.jsonl", Self.line("x", 9) + Self.line("y", 10), durability: .process)
    #expect(Self.line("x", 9).count == Self.line("b", 2).count)
    #expect(try await cursor.check("ops/ops-1.jsonl", backend: backend) == .undone)
  }

  @Test func aWALThatIsGoneOrNotFollowedIsMissing() async throws {
    let (backend, cursor) = try await Self.followedWAL()
    #expect(try await cursor.check("ops/ops-2.jsonl", backend: backend) == .missing, "not followed")
    try await backend.remove("ops/ops-1.jsonl")
    #expect(try await cursor.check("ops/ops-1.jsonl", backend: backend) == .missing)
  }

  @Test func aManifestIsTheSameGenerationACheckpointOrARebase() {
    let generation = LogGeneration(Self.manifest())
    #expect(generation.change(to: Self.manifest()) == .same)
    var registered = Self.manifest()
    registered.activeAgentOps = [(agent: "agent-a", path: "ops/agent-agent-a-2.jsonl")]
    #expect(generation.change(to: registered) == .same, "an agent registering is no new generation")
    #expect(
      generation.change(to: Self.manifest(snapshot: "snapshots/snap-2.jsonl", wal: "ops/ops-2.jsonl")) == .checkpointed)
    #expect(generation.change(to: Self.manifest(wal: "ops/ops-2.jsonl")) == .checkpointed)
    guard case .rebased = generation.change(to: Self.manifest(snapshot: "snapshots/snap-2.jsonl", archived: 3)) else {
      Issue.record("a changed archivedRecords must rebase")
      return
    }
    guard case .rebased = generation.change(to: Self.manifest(segments: ["archive/archive-2025.json"])) else {
      Issue.record("a changed segment list must rebase")
      return
    }
    guard case .rebased = generation.change(to: Self.manifest(snapshot: "snapshots/snap-2.jsonl", version: 2)) else {
      Issue.record("a version change must rebase")
      return
    }
  }
}
