import Foundation
import OpsLogEngine
import OpsLogStorage
import OpsLogTypes
import Testing

/// `walOperations(since:)` and `streamSnapshot()` read files a checkpoint may replace and, past
/// ``StoreOptions/retainedGenerations``, remove: the writer's own automatic checkpoint, or a
/// follower's writer's. A file gone that way is not damage, and the stream must not say the
/// store is damaged (`corrupted`, "restore from a backup").
@Suite("Streaming reads while checkpoints replace the files")
struct StreamingUnderCheckpointTests {
  /// A follower that has not polled since its writer checkpointed twice (the default keeps
  /// one generation, so the follower's WAL and snapshot are gone).
  func staleFollower(_ location: TestLocation, longLines: Bool = false) async throws -> (
    writer: Store<JSONValue>, follower: Store<JSONValue>
  ) {
    let writer = try await location.open(
      JSONValue.self,
      {
        $0.checkpointThreshold = 1_000_000
        $0.checkpointOnClose = false
      })
    let pad = String(repeating: "p", count: longLines ? 200_000 : 4)
    for index in 0..<10 { try await writer.set("old\(index)", .string(pad)) }
    let follower = try await location.open(JSONValue.self, { $0.readOnly = true })
    return (writer, follower)
  }

  func checkpointTwice(_ writer: Store<JSONValue>) async throws {
    try await writer.compact()
    try await writer.set("new", 1)
    try await writer.compact()
    try await writer.set("newer", 2)
  }

  @Test(arguments: BackendKind.allCases)
  func aStreamStartedAfterItsWALWasReplacedStreamsTheNewOne(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let (writer, follower) = try await staleFollower(location)
    try await checkpointTwice(writer)
    var ids: [String] = []
    for try await operation in follower.walOperations() { ids.append(operation.id) }
    #expect(ids == ["newer"], "the WAL the store names now")
    var snapshot: [String] = []
    for try await (id, _) in follower.streamSnapshot() { snapshot.append(id) }
    #expect(snapshot == (0..<10).map { "old\($0)" } + ["new"], "the snapshot the store names now")
    try await follower.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aStreamThatReadItsWALToTheEndEndsWhenTheWALIsRemoved(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let (writer, follower) = try await staleFollower(location)
    var iterator = follower.walOperations().makeAsyncIterator()
    var ids = [try #require(try await iterator.next()).id]  // the first read took the whole file
    try await checkpointTwice(writer)
    while let operation = try await iterator.next() { ids.append(operation.id) }
    #expect(ids == (0..<10).map { "old\($0)" })
    try await follower.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aStreamCutOffInsideItsWALSaysWhy(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    // 10 lines of 200 KB: the first 1 MiB window holds five of them.
    let (writer, follower) = try await staleFollower(location, longLines: true)
    var iterator = follower.walOperations().makeAsyncIterator()
    _ = try await iterator.next()
    try await checkpointTwice(writer)
    var streamed = 1
    do {
      while try await iterator.next() != nil { streamed += 1 }
      Issue.record("the stream ended after \(streamed) of 10 operations, with no error")
    } catch OpsLogError.io(_, let errno, let reason) {
      #expect(errno == ENOENT)
      #expect(reason.contains("a checkpoint replaced this WAL while it was streamed"))
      #expect(streamed < 10)
    }
    try await follower.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aWALMissingThatNothingReplacedIsStillDamage(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let (writer, follower) = try await staleFollower(location)
    let wal = try follower.manifest().activeOps
    try await writer.close()
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.remove(wal)  // by hand: the manifest still names it
    try await backend.shutdown()
    await #expect(throws: OpsLogError.corrupted(path: wal, reason: "the WAL the manifest names does not exist")) {
      for try await _ in follower.walOperations() {}
    }
    try await follower.close()
  }
}
