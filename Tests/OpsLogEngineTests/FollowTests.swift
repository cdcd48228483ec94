import Foundation
import OpsLogCodec
import OpsLogEngine
import Testing

@Suite("tail, watch and streaming reads")
struct FollowTests {
  @Test(arguments: BackendKind.allCases)
  func readerFollowsTheWriterAcrossCheckpoints(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(
      JSONValue.self,
      {
        $0.checkpointThreshold = 1_000
        $0.checkpointOnClose = false
      })
    try await writer.set("a", 1)
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    #expect(try reader.get("a") == 1)
    #expect(try await reader.tail().isEmpty)
    try await writer.set("b", 2)
    try await writer.set("c", 3)
    #expect(try await reader.tail().map(\.id) == ["b", "c"])
    #expect(try await reader.tail().isEmpty, "only new operations")
    try await writer.set("d", 4)
    try await writer.compact()  // the writer moves to a new WAL
    try await writer.set("e", 5)
    #expect(try await reader.tail().map(\.id) == ["d", "e"], "nothing lost or repeated across a checkpoint")
    try await writer.delete("a")
    #expect(try await reader.tail().map(\.kind) == [.delete])
    #expect(try reader.entries().map(\.id) == ["b", "c", "d", "e"])
    try await reader.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aHalfWrittenLineIsReadOnceComplete(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(JSONValue.self, { $0.checkpointOnClose = false })
    let walPath = try writer.manifest().activeOps
    try await writer.close()
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    let line =
      OperationLine.encode(
        LogOperation(timestamp: ISOTime.now(), kind: .set, id: "late", data: ["x": 1], previous: .none)) + [
        UInt8(ascii: "\n")
      ]
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.append(walPath, Array(line.prefix(20)), durability: .process)
    #expect(try await reader.tail().isEmpty)
    try await backend.append(walPath, Array(line.dropFirst(20)), durability: .process)
    #expect(try await reader.tail().map(\.id) == ["late"])
    try await backend.shutdown()
    try await reader.close()
  }

  /// Found by the differential run against the reference (Tests/differential.sh): opslog for
  /// Node's undo takes a character offset for a byte offset, so after non-ASCII records it
  /// cuts into an earlier line, and its next append glues a line to what is left; its
  /// checkpoint then writes from memory a snapshot that the WAL's replay does not give. A
  /// follower that went on from its replay differed from a fresh open for good.
  @Test(arguments: [BackendKind.memory, .filesystem], [false, true])
  func aFollowerReloadsWhenTheWALACheckpointReplacedWasDamaged(kind: BackendKind, endsInPartialLine: Bool)
    async throws
  {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(
      JSONValue.self,
      {
        $0.checkpointOnClose = false
        $0.checkpointThreshold = 1_000
      })
    try await writer.set("a", ["name": "é😀"])
    try await writer.set("b", ["name": "b"])
    let manifest = try writer.manifest()
    try await writer.close()
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    #expect(try reader.count() == 2)

    // The foreign writer: its undo cuts into b's line and c's line is glued to the rest (or,
    // with `endsInPartialLine`, the WAL is left ending in the cut), then it checkpoints what
    // its memory holds, a, b and c.
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    let walBytes = try #require(try await backend.read(manifest.activeOps))
    let secondLine = try #require(walBytes.firstIndex(of: UInt8(ascii: "\n"))) + 1
    try await backend.truncate(manifest.activeOps, toLength: secondLine + 12, durability: .process)
    if !endsInPartialLine {
      let line = OperationLine.encode(
        LogOperation(timestamp: ISOTime.now(), kind: .set, id: "c", data: ["name": "c"], previous: .none))
      try await backend.append(manifest.activeOps, line + [UInt8(ascii: "\n")], durability: .process)
    }
    _ = try await reader.tail()
    #expect(try reader.get("b") == nil, "the cut line is taken back")
    let milliseconds = ISOTime.nowMilliseconds() + 10
    let snapshot = "snapshots/snap-\(milliseconds).jsonl"
    let wal = "ops/ops-\(milliseconds).jsonl"
    var snapshotText = #"{"version":1,"timestamp":"2026-12-07T00:00:00.000Z"}"# + "\n"
    for (id, name) in [("a", "é😀"), ("b", "b"), ("c", "c")] {
      snapshotText += #"{"id":"\#(id)","data":{"name":"\#(name)"}}"# + "\n"
    }
    try await backend.replace(snapshot, bytes: Array(snapshotText.utf8))
    try await backend.create(wal, durability: .process)
    var next = manifest
    next.currentSnapshot = snapshot
    next.activeOps = wal
    next.stats.activeRecords = 3
    try await backend.writeManifest(next)
    try await backend.shutdown()

    _ = try await reader.tail()
    let fresh = try await location.open(JSONValue.self, { $0.readOnly = true })
    #expect(try reader.entries().map(\.id) == fresh.entries().map(\.id))
    #expect(try reader.entries().map(\.record) == fresh.entries().map(\.record))
    #expect(try reader.count() == 3)
    try await fresh.close()
    try await reader.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aReaderKeepsTheHistoryOfTheWALItFollowedIntoAfterACheckpoint(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(
      JSONValue.self,
      {
        $0.checkpointThreshold = 1_000
        $0.checkpointOnClose = false
      })
    try await writer.set("a", 1)
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    try await writer.compact()
    try await writer.set("b", 2)
    try await writer.set("c", 3)
    #expect(try await reader.tail().map(\.id) == ["b", "c"])
    // The history since the checkpoint is what the writer's own shows.
    #expect(try reader.operations().map(\.id) == writer.operations().map(\.id))
    #expect(try reader.operations().map(\.id) == ["b", "c"])
    #expect(try reader.history(of: "c").count == 1)
    #expect(try reader.stats().opsCount == 2)
    try await reader.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func aSkipLoadReaderOpenedOnAHalfWrittenLineReadsItOnceComplete(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let writer = try await location.open(JSONValue.self, { $0.checkpointOnClose = false })
    try await writer.set("early", 0)
    let walPath = try writer.manifest().activeOps
    try await writer.close()
    let line =
      OperationLine.encode(
        LogOperation(timestamp: ISOTime.now(), kind: .set, id: "late", data: ["x": 1], previous: .none)) + [
        UInt8(ascii: "\n")
      ]
    let backend: any StorageBackend = kind == .memory ? MemoryBackend(disk: location.disk) : FsBackend()
    try await backend.initialize(location: location.path, readOnly: false)
    try await backend.append(walPath, Array(line.prefix(20)), durability: .process)
    let reader = try await location.open(
      JSONValue.self,
      {
        $0.readOnly = true
        $0.skipLoad = true
      })
    #expect(try await reader.tail().isEmpty)
    try await backend.append(walPath, Array(line.dropFirst(20)), durability: .process)
    #expect(try await reader.tail().map(\.id) == ["late"])
    try await backend.shutdown()
    try await reader.close()
  }

  @Test func watchDeliversAndEndsOnClose() async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let writer = try await location.open(JSONValue.self)
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    let stream = reader.watch(interval: .milliseconds(10))
    try await writer.set("a", 1)
    var iterator = stream.makeAsyncIterator()
    let first = try await iterator.next()
    #expect(first?.map(\.id) == ["a"])
    try await reader.close()
    let afterClose = try await iterator.next()
    #expect(afterClose == nil, "the stream finishes on close()")
    try await writer.close()
  }

  @Test(.timeLimit(.minutes(1))) func watchEndsWhenItsTaskIsCancelled() async throws {
    let location = TestLocation(.memory)
    let writer = try await location.open(JSONValue.self)
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    let consumer = Task {
      var batches = 0
      for try await _ in reader.watch(interval: .milliseconds(5)) { batches += 1 }
      return batches  // reached only when the stream finishes
    }
    try await writer.set("a", 1)
    // The watch, not this test, brings the write into the reader: wait (bounded) for it.
    let deadline = ContinuousClock.now + .seconds(30)
    while try reader.get("a") == nil && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(5))
    }
    #expect(try reader.get("a") == 1, "the watch applied what it read")
    consumer.cancel()
    // Returns only because the stream finished on cancellation (the time limit catches a hang).
    let delivered = try await consumer.value
    #expect(delivered <= 1, "one write, at most one batch")
    try await reader.close()
    try await writer.close()
  }

  @Test(arguments: BackendKind.allCases)
  func streamingReadsMatchTheFiles(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self, { $0.checkpointThreshold = 10_000 })
    for index in 0..<30 { try await store.set("t\(index)", Todo(title: "T\(index)", status: "active")) }
    try await store.compact()
    try await store.set("t0", Todo(title: "changed", status: "done"))
    try await store.set("new", Todo(title: "N", status: "active"))
    var streamed: [String] = []
    for try await (id, record) in store.streamSnapshot() {
      streamed.append(id)
      #expect(!record.title.isEmpty)
    }
    #expect(streamed == (0..<30).map { "t\($0)" }, "the snapshot on disk, without the WAL")
    var operations: [String] = []
    for try await operation in store.walOperations() { operations.append(operation.id) }
    #expect(operations == ["t0", "new"])
    try await store.close()
  }

  /// A checkpoint starts a WAL that no line was written to yet: streaming it is an empty
  /// stream, not a damaged store, for the writer and for a follower alike.
  @Test(arguments: BackendKind.allCases)
  func walOperationsOfAWALWithNoLineYetIsEmpty(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(JSONValue.self, { $0.checkpointThreshold = 10_000 })
    func streamed(_ store: Store<JSONValue>) async throws -> [String] {
      var ids: [String] = []
      for try await operation in store.walOperations() { ids.append(operation.id) }
      return ids
    }
    #expect(try await streamed(store).isEmpty, "a new store")
    try await store.set("a", 1)
    try await store.compact()
    #expect(try await streamed(store).isEmpty, "right after a checkpoint")
    let reader = try await location.open(JSONValue.self, { $0.readOnly = true })
    #expect(try await streamed(reader).isEmpty)
    try await store.set("b", 2)
    #expect(try await streamed(store) == ["b"])
    try await reader.close()
    try await store.close()
  }
}

@Suite("Streaming a large WAL and crashing in memory")
struct LargeWALAndMemoryCrashTests {
  @Test func walOperationsStreamsAWALLargerThanItsWindow() async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(JSONValue.self, { $0.checkpointThreshold = 1_000_000 })
    let long = String(repeating: "w", count: 3_000_000)  // one line wider than the 1 MiB window
    try await store.batch { batch in
      for index in 0..<15_000 { batch.set("k\(index)", ["i": .int(Int64(index)), "pad": "0123456789abcdef"]) }
      batch.set("long", .string(long))
      batch.set("after", true)
    }
    var count = 0
    var sawLong = false
    for try await operation in store.walOperations() {
      count += 1
      if operation.id == "long" { sawLong = operation.data == .string(long) }
    }
    #expect(count == 15_002)
    #expect(sawLong)
    try await store.close()
  }

  @Test func aCrashedMemoryWriterLosesNothingAcknowledged() async throws {
    let disk = MemoryDisk()
    var options = StoreOptions()
    let crashing = MemoryBackend(disk: disk)
    options.backend = crashing
    options.checkpointThreshold = 7
    let store = try await Store<JSONValue>.open("/crash", options: options)
    for index in 0..<50 { try await store.set("k\(index)", .int(Int64(index))) }
    try await store.delete("k3")
    crashing.simulateCrash()  // no close, no checkpoint; its lock is left behind, stale

    var reopenOptions = StoreOptions()
    reopenOptions.backend = MemoryBackend(disk: disk)
    let reopened = try await Store<JSONValue>.open("/crash", options: reopenOptions)
    #expect(try reopened.count() == 49)
    #expect(try reopened.get("k3") == nil)
    #expect(try reopened.get("k49") == 49)
    try await reopened.close()
  }
}
