import Foundation
import OpsLogEngine
import OpsLogTestSupport
import Synchronization
import Testing

/// A failed write at any step leaves memory equal to the disk: one scenario (sets, updates,
/// deletes, batches, undo, archive into a new and an existing segment, compact, close) is run
/// once without faults to count its write-like calls, then again with
/// `MemoryDisk.failWrite(_:after: k)` for every `k` up to that count, in every write mode and
/// for both faults. After the first call that throws (whichever it is), the store's
/// `entries()`, `operations()` and `archiveSegments()` must equal what a fresh read-only open of
/// the same disk shows; after the faulted store is closed (which may throw), a writable open
/// must succeed, show the same, and take a new write.
@Suite("Fault sweep: a failed write at any step")
struct FaultSweepTests {
  /// `exactHistory`: no automatic checkpoint (a threshold of 1,000), so that the history
  /// (`operations()`) is compared too; otherwise a small threshold, so that faults also land
  /// in background checkpoints, and the records are compared.
  @Test(arguments: [WriteMode.immediate, .group, .async], [true, false])
  func memoryEqualsTheDiskAfterAFailedWrite(mode: WriteMode, exactHistory: Bool) async throws {
    let sweep = FaultSweep(mode: mode, exactHistory: exactHistory)
    let writes = try await sweep.countWrites()
    #expect(writes > 20, "the scenario makes enough write-like calls to be worth sweeping")
    var injected = 0
    var thrown = 0
    // Group and async modes write in the background, so a run may make a few calls more or
    // less than the counted one; the sweep goes on until a fault is no longer reached.
    var k = 0
    var unreachedInARow = 0
    while k <= writes + 5 && unreachedInARow < 3 {
      for fault in [MemoryDisk.Fault.diskFull, .ioError] {
        let outcome: FaultSweep.Outcome
        do {
          outcome = try await sweep.run(fault: fault, after: k)
        } catch {
          Issue.record("\(mode), fault \(fault) after \(k) writes: \(error)")
          continue
        }
        if outcome.fired { injected += 1 }
        if outcome.threw { thrown += 1 }
        unreachedInARow = outcome.fired ? 0 : unreachedInARow + 1
      }
      k += 1
    }
    if mode == .immediate && exactHistory {
      // Nothing runs in the background: every run makes the counted calls, so every one of
      // them was failed once, for each fault.
      #expect(injected == 2 * writes, "every counted write-like call was failed once")
    }
    print(
      "fault sweep \(mode) \(exactHistory ? "no automatic checkpoints" : "automatic checkpoints"):"
        + " \(writes) write-like calls, \(injected) faults injected, \(thrown) of them thrown to a caller")
  }
}

/// The smallest case the sweep found: a failed append after an undo took operations back
/// out of the buffer.
@Suite("Fault sweep: regressions")
struct FaultSweepRegressionTests {
  /// An undo of a buffered operation leaves a gap in the sequences of the buffer; the append
  /// that then fails must still roll back every operation it carried, not only as many as
  /// the buffer holds counted back from the newest.
  @Test(arguments: [WriteMode.group, .async])
  func aFailedAppendAfterAnUndoOfBufferedOperationsRollsAllOfThemBack(mode: WriteMode) async throws {
    let disk = MemoryDisk()
    var options = StoreOptions()
    options.backend = MemoryBackend(disk: disk)
    options.writeMode = mode
    options.groupCommitSize = 100
    options.groupCommitInterval = .seconds(3_600)
    let store = try await Store<Todo>.open("/memory/undo-gap", options: options)
    // Async mode writes in the background: the fault is armed first, so that whichever
    // append comes first fails, and it carries "a" whatever the timing.
    disk.failWrite(.ioError, after: 0)
    try await store.set("a", Todo(title: "a", status: "new"))
    try await store.set("b", Todo(title: "b", status: "new"))
    _ = try? await store.undo()
    try? await store.set("c", Todo(title: "c", status: "new"))
    for _ in 0..<3 {
      do {
        try await store.flush()
        break
      } catch {}
    }
    var readOnly = StoreOptions()
    readOnly.backend = MemoryBackend(disk: disk)
    readOnly.readOnly = true
    let reader = try await Store<Todo>.open("/memory/undo-gap", options: readOnly)
    let memory = try store.entries().map(\.id)
    let onDisk = try reader.entries().map(\.id)
    #expect(memory == onDisk, "memory equals the disk")
    try await reader.close()
    try? await store.close()
  }
}

/// A record as the comparisons see it.
func describe(_ entries: [(id: String, record: Todo)]) -> [String] {
  entries.map { "\($0.id)=\($0.record.title)/\($0.record.status)/\($0.record.priority)/\($0.record.notes.count)" }
}

func describe(_ operations: [LogOperation<Todo>]) -> [String] {
  operations.map { operation in
    "\(operation.kind) \(operation.id) \(operation.data.map { "\($0.title)/\($0.priority)" } ?? "-") \(operation.timestamp)"
  }
}

/// What the store shows: records, history, archive segments.
struct StoreView: Equatable, CustomStringConvertible {
  var records: [String]
  var operations: [String]
  var segments: [String]

  init(_ store: Store<Todo>, history: Bool) throws {
    records = describe(try store.entries())
    operations = history ? describe(try store.operations()) : []
    segments = try store.archiveSegments()
  }

  var description: String { "records \(records)\n  operations \(operations)\n  segments \(segments)" }
}

struct FaultSweep {
  let mode: WriteMode
  let exactHistory: Bool
  let path = "/memory/fault-sweep"

  func options(_ disk: MemoryDisk, readOnly: Bool = false, backend: (any StorageBackend)? = nil) -> StoreOptions {
    var options = StoreOptions()
    options.backend = backend ?? MemoryBackend(disk: disk)
    options.readOnly = readOnly
    options.writeMode = mode
    options.groupCommitSize = 3
    // No timer in group mode: its writes then happen at the same calls in every run.
    options.groupCommitInterval = .seconds(3_600)
    options.checkpointThreshold = exactHistory ? 1_000 : 5
    return options
  }

  /// The scenario, one named step at a time; the first step that throws ends it.
  static let steps: [(name: String, run: @Sendable (Store<Todo>) async throws -> Void)] = [
    (
      "sets",
      { store in for index in 0..<10 { try await store.set("a\(index)", Todo(title: "A\(index)", status: "new")) } }
    ),
    (
      "updates",
      { store in
        try await store.set("a1", Todo(title: "A1", status: "done"))  // a delta
        try await store.set("a2", Todo(title: "A2", status: "new", priority: 3))
        try await store.set("a3", Todo(title: "A3 renamed", status: "done", priority: 2, notes: "a long note"))
      }
    ),
    ("delete", { store in try await store.delete("a4") }),
    (
      "batch",
      { store in
        try await store.batch { batch in
          batch.set("b0", Todo(title: "B0", status: "new"))
          batch.set("b1", Todo(title: "B1", status: "new"))
          batch.set("a5", Todo(title: "A5 in batch", status: "done"))
          try batch.delete("a6")
        }
      }
    ),
    ("undo the batch", { store in _ = try await store.undo() }),
    ("undo the delete", { store in _ = try await store.undo() }),
    (
      "second batch",
      { store in
        try await store.batch { batch in
          for index in 0..<3 { batch.set("b\(index)", Todo(title: "B\(index)", status: "batched")) }
          try batch.delete("a7")
        }
      }
    ),
    ("set to undo", { store in try await store.set("a8", Todo(title: "A8 changed", status: "done")) }),
    ("undo the set", { store in _ = try await store.undo() }),
    (
      "archive into a new segment",
      { store in _ = try await store.archive(segment: "2025-Q1") { _, id in id == "a0" || id == "a1" } }
    ),
    (
      "sets after archive",
      { store in for id in ["c0", "c1"] { try await store.set(id, Todo(title: id, status: "new")) } }
    ),
    (
      "archive into the existing segment",
      { store in _ = try await store.archive(segment: "2025-Q1") { _, id in id == "c0" } }
    ),
    (
      "archive into another segment",
      { store in _ = try await store.archive(segment: "2025-Q2") { _, id in id == "b0" } }
    ),
    (
      "more writes",
      { store in
        for index in 0..<4 {
          try await store.set("d\(index)", Todo(title: "D\(index)", status: "new", priority: index))
        }
        try await store.delete("a9")
      }
    ),
    ("compact", { store in try await store.compact() }),
    (
      "writes after compact",
      { store in
        try await store.set("e0", Todo(title: "E0", status: "new"))
        try await store.set("e1", Todo(title: "E1", status: "new"))
        try await store.set("e0", Todo(title: "E0", status: "done"))
      }
    ),
    ("undo after compact", { store in _ = try await store.undo() }),
    ("flush", { store in try await store.flush() }),
  ]

  /// The scenario without faults, through a backend that counts the write-like calls as
  /// `MemoryDisk.failWrite` counts them. Checks that the scenario does what it says.
  func countWrites() async throws -> Int {
    let disk = MemoryDisk()
    let counter = WriteCounter()
    let store = try await Store<Todo>.open(
      path, options: options(disk, backend: ForwardingBackend(MemoryBackend(disk: disk), after: counter.note)))
    for step in Self.steps { try await step.run(store) }
    #expect(try store.get("a4") != nil, "the delete was undone")
    #expect(try store.get("a6") != nil && store.get("b1")?.status == "batched", "the batch was undone whole")
    #expect(try store.get("a8")?.title == "A8", "the set was undone")
    #expect(try store.get("a0") == nil && store.get("c0") == nil && store.get("b0") == nil, "archived")
    #expect(try store.archiveSegments().count == 2)
    #expect(try store.get("e0")?.status == "new", "the undo after compact")
    let before = try StoreView(store, history: exactHistory)
    try await store.close()
    let reopened = try await Store<Todo>.open(path, options: options(disk, readOnly: true))
    #expect(try StoreView(reopened, history: false).records == before.records)
    #expect(try await reopened.loadArchive("2025-Q1").keys.sorted() == ["a0", "a1", "c0"])
    try await reopened.close()
    return counter.writes
  }

  struct Outcome {
    var fired: Bool
    var threw: Bool
  }

  /// One faulted run: `after` write-like calls succeed, the next fails with `fault`.
  func run(fault: MemoryDisk.Fault, after: Int) async throws -> Outcome {
    let disk = MemoryDisk()
    let context = "\(mode), fault \(fault) after \(after) writes"
    disk.failWrite(fault, after: after)
    let counter = WriteCounter()
    let store: Store<Todo>
    do {
      store = try await Store<Todo>.open(
        path, options: options(disk, backend: ForwardingBackend(MemoryBackend(disk: disk), after: counter.note)))
    } catch {
      disarm(disk)
      // A failed open leaves nothing behind: the next one starts a fresh store.
      let reopened = try await Store<Todo>.open(path, options: options(disk))
      #expect(try reopened.count() == 0, "\(context): open failed with \(error), and a new open finds a fresh store")
      try await reopened.close()
      return Outcome(fired: true, threw: true)
    }
    var failedStep: String?
    for step in Self.steps {
      do {
        try await step.run(store)
      } catch {
        failedStep = "\(step.name) threw \(error)"
        break
      }
    }
    let stepContext = "\(context), \(failedStep ?? "nothing threw")"

    // Memory against a fresh read-only open. Buffered operations are written first (a
    // failure already reported, the next flush writes them), so that both hold the same.
    if mode != .immediate {
      for _ in 0..<3 {
        do {
          try await store.flush()
          break
        } catch {}
      }
    }
    let memory = try StoreView(store, history: exactHistory)
    let reader = try await Store<Todo>.open(path, options: options(disk, readOnly: true))
    let onDisk = try StoreView(reader, history: exactHistory)
    try await reader.close()
    #expect(memory == onDisk, "\(stepContext):\n memory \(memory)\n a reopen \(onDisk)")

    // Closing (which may throw: its checkpoint writes), then a writable open and a new write.
    var closeError: (any Error)?
    do { try await store.close() } catch { closeError = error }
    // A fault the scenario and the close did not reach must not fail the checks below.
    disarm(disk)
    let fired = counter.failures > 0
    let reopened = try await Store<Todo>.open(path, options: options(disk))
    let afterClose = try StoreView(reopened, history: false)
    #expect(
      afterClose.records == memory.records && afterClose.segments == memory.segments,
      "\(stepContext), close \(closeError.map { "threw \($0)" } ?? "worked"):\n memory \(memory)\n reopen \(afterClose)"
    )
    try await reopened.set("after", Todo(title: "after", status: "new"))
    try await reopened.close()
    let last = try await Store<Todo>.open(path, options: options(disk, readOnly: true))
    #expect(try last.get("after") != nil && last.count() == memory.records.count + 1, "\(stepContext)")
    try await last.close()

    return Outcome(fired: fired, threw: failedStep != nil || closeError != nil)
  }

  /// Replaces a fault that has not fired yet with one that never will.
  func disarm(_ disk: MemoryDisk) {
    disk.failWrite(.ioError, after: Int.max)
  }
}

/// Counts write-like calls the way `MemoryDisk.failWrite` does: one for a non-empty append, a
/// create, a truncate, a blob write; two for a replace. Also counts the write-like calls that
/// failed: ``note(_:error:)`` is a `ForwardingBackend`'s `after` hook.
final class WriteCounter: Sendable {
  private let counts = Mutex((writes: 0, failures: 0))

  var writes: Int { counts.withLock { $0.writes } }
  var failures: Int { counts.withLock { $0.failures } }

  func note(_ call: ForwardingBackend.Call, error: (any Error)?) {
    let steps: Int
    switch call {
    case .replace: steps = 2
    case .create, .truncate, .writeBlob: steps = 1
    case .append(_, let bytes, _): steps = bytes.isEmpty ? 0 : 1
    default: return
    }
    guard let error else {
      counts.withLock { $0.writes += steps }
      return
    }
    // The failures that `MemoryDisk.failWrite` injects (ENOSPC, EIO).
    if case OpsLogError.io(_, let errno, _) = error, errno == ENOSPC || errno == EIO {
      counts.withLock { $0.failures += 1 }
    }
  }
}
