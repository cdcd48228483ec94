import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogStorage
import Testing

/// The single writer's promises under damage and failure: crash-atomic batches, undo by
/// recorded offsets, memory equal to a reopen after a failed step, exact IDs, schema safety.
@Suite("Integrity of the single writer")
struct IntegrityTests {
  /// A WAL line as this project writes it.
  static func line(_ id: String, _ title: String, batch: Int? = nil) -> String {
    var text =
      #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"\#(id)","prev":null,"data":{"title":"\#(title)","status":"s","priority":1,"notes":""}"#
    if let batch { text += #","batch":\#(batch)"# }
    return text + "}"
  }

  func ids(_ store: Store<Todo>) throws -> [String] { try store.entries().map(\.id) }

  // MARK: Batches

  @Test(arguments: BackendKind.allCases)
  func aBatchWritesItsSizeOnItsFirstLine(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self)
    try await store.batch { batch in
      batch.set("a", Todo(title: "A", status: "s"))
      batch.set("b", Todo(title: "B", status: "s"))
      batch.set("c", Todo(title: "C", status: "s"))
    }
    try await store.batch { batch in batch.set("d", Todo(title: "D", status: "s")) }
    let lines = try await walLines(location, store)
    #expect(lines.count == 4)
    #expect(lines[0].hasSuffix(#","batch":3}"#))
    #expect(!lines[1].contains("batch") && !lines[2].contains("batch"))
    #expect(!lines[3].contains("batch"), "a batch of one is a plain line")
    try await store.close()
  }

  /// A crash can leave any prefix of a batch's append; a reopen shows none of it, and a writable
  /// open cuts it off so that the next write is not read as part of it.
  @Test(arguments: BackendKind.allCases)
  func aBatchCutShortAnywhereIsSkippedWholeAndCutOff(kind: BackendKind) async throws {
    let batch = (0..<5).map { Self.line("b\($0)", "B\($0)", batch: $0 == 0 ? 5 : nil) + "\n" }.joined()
    let prefix = Self.line("a", "A") + "\n"
    let cuts =
      [1, 40, batch.utf8.count / 2, batch.utf8.count - 1]
      + batch.utf8.indices.filter { batch.utf8[$0] == 0x0A }.map {
        batch.utf8.distance(from: batch.utf8.startIndex, to: $0) + 1
      }
      .dropLast()
    for cut in cuts {
      let location = TestLocation(kind)
      defer { location.cleanUp() }
      try await plantWAL(Array(prefix.utf8) + Array(batch.utf8.prefix(cut)), at: location)
      let reader = try await location.open(Todo.self) { $0.readOnly = true }
      #expect(try ids(reader) == ["a"], "cut at \(cut)")
      try await reader.close()

      let writer = try await location.open(Todo.self) { $0.checkpointOnClose = false }
      #expect(try ids(writer) == ["a"])
      try await writer.set("c", Todo(title: "C", status: "s"))
      try await writer.close()
      let reopened = try await location.open(Todo.self) { $0.readOnly = true }
      #expect(try ids(reopened) == ["a", "c"], "cut at \(cut)")
      try await reopened.close()
    }
  }

  @Test func aBatchDamagedInTheMiddleIsSkippedWholeAndItsNeighboursKept() async throws {
    let location = TestLocation(.memory)
    let lines = [
      Self.line("a", "A"),
      Self.line("b0", "B", batch: 3), Self.line("b1", "B"), #"{"ts":"x","op":"set""#,
      Self.line("z", "Z"),
    ]
    try await plantWAL(Array((lines.joined(separator: "\n") + "\n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try ids(store) == ["a", "z"])
    try await store.close()
  }

  @Test func aBatchWhoseFirstLineIsDamagedLeavesTheRestAsSingleOperations() async throws {
    let location = TestLocation(.memory)
    let lines = [#"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"b0""#, Self.line("b1", "B"), Self.line("b2", "B")]
    try await plantWAL(Array((lines.joined(separator: "\n") + "\n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try ids(store) == ["b1", "b2"])
    try await store.close()
  }

  @Test func aBatchIsOneUndoStepAfterAReopenToo() async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self) { $0.checkpointOnClose = false }
    try await store.set("a", Todo(title: "A", status: "s"))
    try await store.batch { batch in
      batch.set("b", Todo(title: "B", status: "s"))
      try batch.delete("a")
      batch.set("c", Todo(title: "C", status: "s"))
    }
    try await store.close()
    let reopened = try await location.open(Todo.self) { $0.checkpointOnClose = false }
    #expect(try ids(reopened) == ["b", "c"])
    #expect(try await reopened.undo())
    #expect(try ids(reopened) == ["a"])
    #expect(try await walLines(location, reopened).count == 1)
    try await reopened.close()
  }

  @Test func aBatchWrittenByOpslogForNodeReadsLineByLine() async throws {
    // The reference ignores the field and never writes it: its lines are all plain.
    let location = TestLocation(.memory)
    let lines = [Self.line("a", "A"), Self.line("b", "B")]
    try await plantWAL(Array((lines.joined(separator: "\n") + "\n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.checkpointOnClose = false }
    #expect(try await store.undo())
    #expect(try ids(store) == ["a"])
    try await store.close()
  }

  @Test func aBatchLineBreakingTheBatchRuleIsMalformed() throws {
    #expect(throws: OpsLogError.self) {
      try OperationLine.decodeEncodedLine(ArraySlice(Self.line("a", "A", batch: 1).utf8))
    }
    #expect(throws: OpsLogError.self) {
      try OperationLine.decodeEncodedLine(ArraySlice(Self.line("a", "A").dropLast().appending(#","batch":"2"}"#).utf8))
    }
    let decoded = try OperationLine.decodeEncodedLine(ArraySlice(Self.line("a", "A", batch: 7).utf8))
    #expect(decoded.batch == 7)
  }

  // MARK: Undo by recorded offsets

  /// The issue's reproduction: a complete line that replay skips ends the WAL.
  @Test(arguments: BackendKind.allCases)
  func undoCutsAtTheRecordedOffsetNotALengthFromTheEnd(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let lines = [Self.line("a", "A"), Self.line("b", "B"), #"{"ts":"x","op":"set","id":"z","prev":null,"data":null}"#]
    try await plantWAL(Array((lines.joined(separator: "\n") + "\n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.checkpointOnClose = false }
    #expect(try await store.undo())
    #expect(try ids(store) == ["a"])
    try await store.set("c", Todo(title: "C", status: "s"))
    try await store.close()
    let reopened = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try ids(reopened) == ["a", "c"])
    try await reopened.close()
  }

  @Test func undoAfterABlankLineCutsItToo() async throws {
    let location = TestLocation(.memory)
    try await plantWAL(Array((Self.line("a", "A") + "\n" + Self.line("b", "B") + "\n   \n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.checkpointOnClose = false }
    #expect(try await store.undo())
    try await store.set("c", Todo(title: "C", status: "s"))
    #expect(try await walLines(location, store).count == 2)
    try await store.close()
    let reopened = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try ids(reopened) == ["a", "c"])
    try await reopened.close()
  }

  // MARK: Memory equals disk after a failed step

  /// A fault at every write step of archive's checkpoint (segment, snapshot, new WAL,
  /// manifest): memory shows what a reopen shows.
  @Test(arguments: [MemoryDisk.Fault.diskFull, .ioError])
  func archiveWhoseCheckpointFailsLeavesMemoryEqualToDisk(fault: MemoryDisk.Fault) async throws {
    var step = 0
    var failures = 0
    while step < 40 {
      let location = TestLocation(.memory)
      let store = try await location.open(Todo.self) { $0.checkpointOnClose = false }
      for index in 0..<6 { try await store.set("k\(index)", Todo(title: "K\(index)", status: "s", priority: index)) }
      try await store.delete("k4")
      location.disk.failWrite(fault, after: step)
      let archived: Int
      do {
        archived = try await store.archive(segment: "2025-Q4") { record, _ in record.priority % 2 == 0 }
      } catch {
        archived = -1
        failures += 1
      }
      let memory = try ids(store)
      let history = try store.operations().count
      let reader = try await location.open(Todo.self) { $0.readOnly = true }
      #expect(memory == (try ids(reader)), "fault after \(step) writes")
      #expect(history == (try reader.operations().count), "fault after \(step) writes")
      try await reader.close()
      if archived >= 0 {
        #expect(archived == 2)
        #expect(memory == ["k1", "k3", "k5"])
        break
      }
      #expect(memory == ["k0", "k1", "k2", "k3", "k5"])
      // The store still works: undo and writes after the failure.
      #expect(try await store.undo())
      #expect(try ids(store) == ["k0", "k1", "k2", "k3", "k4", "k5"])
      try? await store.close()
      step += 1
    }
    #expect(failures >= 3, "the sweep reached the segment, the snapshot and the manifest")
  }

  @Test func compactWhoseCheckpointFailsKeepsHistoryAndUndo() async throws {
    for step in 0..<4 {
      let location = TestLocation(.memory)
      let store = try await location.open(Todo.self) { $0.checkpointOnClose = false }
      try await store.set("a", Todo(title: "A", status: "s"))
      try await store.set("b", Todo(title: "B", status: "s"))
      location.disk.failWrite(.ioError, after: step)
      do {
        try await store.compact()
        #expect(try store.operations().isEmpty)
        try await store.close()
        continue
      } catch {}
      #expect(try store.operations().count == 2)
      #expect(try await store.undo())
      let reader = try await location.open(Todo.self) { $0.readOnly = true }
      #expect(try ids(reader) == ["a"])
      try await reader.close()
      try? await store.close()
    }
  }

  @Test(arguments: [WriteMode.group, .async])
  func aDeferredWriteFailureSaysWhatWasRolledBack(mode: WriteMode) async throws {
    let location = TestLocation(.memory)
    let store = try await location.open(Todo.self) {
      $0.writeMode = mode
      $0.groupCommitSize = 1_000
      $0.checkpointOnClose = false
    }
    try await store.set("kept", Todo(title: "K", status: "s"))
    try await store.flush()
    location.disk.failWrite(.diskFull)
    try await store.set("a", Todo(title: "A", status: "s"))
    try await store.set("b", Todo(title: "B", status: "s"))
    await #expect {
      try await store.flush()
    } throws: { error in
      guard case OpsLogError.io(_, let errno, let reason) = error else { return false }
      return errno == ENOSPC && reason.contains("2 buffered operations") && reason.contains("rolled back")
    }
    #expect(try ids(store) == ["kept"])
    let reader = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try ids(reader) == ["kept"])
    try await reader.close()
    try await store.close()
  }

  /// Writes that pass the threshold while a background checkpoint runs get the next one.
  @Test func aCheckpointFollowsWhenTheThresholdWasReachedAgainMeanwhile() async throws {
    let location = TestLocation(.filesystem)
    defer { location.cleanUp() }
    let store = try await location.open(Todo.self) {
      $0.checkpointThreshold = 10
      $0.checkpointOnClose = false
    }
    let padding = String(repeating: "x", count: 2_000)
    for round in 0..<6 {
      for index in 0..<200 {
        try await store.set("k\(index)", Todo(title: "\(round)", status: "s", notes: padding))
      }
    }
    // Once the writes stop, the background checkpoints catch up.
    var waited = 0
    while try store.stats().opsCount >= 10 && waited < 200 {
      try await Task.sleep(for: .milliseconds(20))
      waited += 1
    }
    #expect(try store.stats().opsCount < 10)
    try await store.close()
  }

  // MARK: IDs by code points

  @Test(arguments: BackendKind.allCases)
  func idsThatDifferOnlyInCompositionAreTwoRecords(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let composed = "caf\u{E9}"
    let decomposed = "cafe\u{301}"
    #expect(composed == decomposed, "Swift's == is canonical equivalence")
    let store = try await location.open(Todo.self) { $0.checkpointOnClose = true }
    try await store.set(composed, Todo(title: "composed", status: "s"))
    try await store.set(decomposed, Todo(title: "decomposed", status: "s"))
    #expect(try store.count() == 2)
    #expect(try store.get(composed)?.title == "composed")
    #expect(try store.get(decomposed)?.title == "decomposed")
    #expect(try store.history(of: composed).count == 1)
    try await store.batch { batch in
      batch.set(composed, Todo(title: "composed 2", status: "s"))
      #expect(batch.get(decomposed)?.title == "decomposed")
    }
    try await store.delete(decomposed)
    #expect(try store.get(composed)?.title == "composed 2")
    #expect(try await store.undo())
    #expect(try store.get(decomposed)?.title == "decomposed")
    try await store.close()
    let reopened = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try reopened.count() == 2)
    #expect(try reopened.get(decomposed)?.title == "decomposed")
    try await reopened.close()
  }

  /// Found by the differential run against the reference (Tests/differential.sh): the
  /// reference reads both records back from the segment, and `loadArchive`'s dictionary keeps
  /// one; `loadArchiveEntries` keeps both, in the segment's order.
  @Test(arguments: BackendKind.allCases)
  func archivedIDsThatDifferOnlyInCompositionAreTwoRecords(kind: BackendKind) async throws {
    let location = TestLocation(kind)
    defer { location.cleanUp() }
    let composed = "caf\u{E9}"
    let decomposed = "cafe\u{301}"
    let store = try await location.open(Todo.self)
    try await store.set(composed, Todo(title: "composed", status: "s"))
    try await store.set("kept", Todo(title: "kept", status: "s"))
    try await store.set(decomposed, Todo(title: "decomposed", status: "s"))
    #expect(try await store.archive(segment: "2025-Q4") { _, id in id != "kept" } == 2)
    let entries = try await store.loadArchiveEntries("2025-Q4")
    #expect(
      entries.map(\.id).map { Array($0.unicodeScalars) } == [composed, decomposed].map { Array($0.unicodeScalars) })
    #expect(entries.map(\.record.title) == ["composed", "decomposed"])
    // The dictionary cannot hold both: Swift's String == calls them one key.
    #expect(try await store.loadArchive("2025-Q4").count == 1)
    try await store.close()
    let reopened = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(
      try await reopened.loadArchiveEntries("archive/archive-2025-Q4.json").map(\.record.title) == [
        "composed", "decomposed",
      ])
    await #expect(throws: OpsLogError.archiveSegmentNotFound("2024-Q1")) {
      try await reopened.loadArchiveEntries("2024-Q1")
    }
    try await reopened.close()
  }

  // MARK: Schema safety

  @Test(arguments: [true, false])
  func aStoreOfANewerVersionIsRefusedAndNotWritten(readOnly: Bool) async throws {
    let location = TestLocation(.memory)
    let newer = try await location.open(Todo.self) { $0.version = 2 }
    try await newer.set("a", Todo(title: "A", status: "s"))
    try await newer.close()
    let inspector = try await location.inspector()
    let before = try await inspector.read("manifest.json")
    let files = try await inspector.list("snapshots")
    await #expect(throws: OpsLogError.versionTooNew(stored: 2, supported: 1)) {
      try await location.open(Todo.self) { $0.readOnly = readOnly }
    }
    #expect(try await inspector.read("manifest.json") == before)
    #expect(try await inspector.list("snapshots") == files)
    try await inspector.shutdown()
    let description = OpsLogError.versionTooNew(stored: 2, supported: 1).description
    #expect(description.contains("2") && description.contains("nothing was written"))
  }

  // MARK: Operations by time

  @Test func operationsSinceComparesTimesNotText() async throws {
    let location = TestLocation(.memory)
    let lines = [
      #"{"ts":"2026-04-01T06:03:21.500Z","op":"set","id":"a","prev":null,"data":{"title":"A","status":"s","priority":1,"notes":""}}"#,
      #"{"ts":"2026-04-01T06:03:22.925Z","op":"set","id":"b","prev":null,"data":{"title":"B","status":"s","priority":1,"notes":""}}"#,
    ]
    try await plantWAL(Array((lines.joined(separator: "\n") + "\n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try store.operations(since: "2026-04-01T06:03:22Z").map(\.id) == ["b"])
    #expect(try store.operations(since: "2026-04-01T08:03:22+02:00").map(\.id) == ["b"])
    #expect(try store.operations(since: "2026-04-01T06:03:20.000Z").map(\.id) == ["a", "b"])
    #expect(try store.operations(since: Date(timeIntervalSince1970: 1_775_023_402)).map(\.id) == ["b"])
    #expect(try store.operations(since: nil).count == 2)
    #expect(throws: OpsLogError.self) { try store.operations(since: "yesterday") }
    try await store.close()
  }

  // MARK: Repeated keys

  /// A record whose key repeats, the first value of the wrong type: the last value wins, as in
  /// `JSON.parse` (the fuzzer found the streaming decoder failing on the first, 2026-12-03).
  @Test func aRecordThatRepeatsAKeyOpensWithTheLastValue() async throws {
    let location = TestLocation(.memory)
    let line =
      #"{"ts":"2026-04-01T06:03:21.500Z","op":"set","id":"a","prev":null,"data":{"title":"A","status":"s","priority":"high","priority":3,"notes":""}}"#
    try await plantWAL(Array((line + "\n").utf8), at: location)
    let store = try await location.open(Todo.self) { $0.readOnly = true }
    #expect(try store.get("a")?.priority == 3)
    try await store.close()
  }
}
