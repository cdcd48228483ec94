import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// One operation since the last checkpoint: what `history`, `operations` and `undo` need.
@usableFromInline
struct JournalEntry<Record: Sendable>: Sendable {
  @usableFromInline var operation: LogOperation<Record>
  /// The record before the operation, for an in-memory undo without applying patches.
  @usableFromInline var previousRecord: Record?
  /// The slot the record occupied (a delete's hole), so undo restores its exact place.
  @usableFromInline var slot: Int
  /// Bytes of its WAL line, newline included: undo cuts exactly this much off the file.
  @usableFromInline var lineLength: Int
  /// Its place in the commit pipeline; see ``CommitPipeline``.
  @usableFromInline var sequence: UInt64
  /// Whether it changed the state: an operation merged in from another writer that loses
  /// last-writer-wins against the key's current stamp is kept for history but changed nothing.
  @usableFromInline var applied: Bool

  @inlinable
  init(
    operation: LogOperation<Record>, previousRecord: Record?, slot: Int, lineLength: Int, sequence: UInt64,
    applied: Bool = true
  ) {
    self.operation = operation
    self.previousRecord = previousRecord
    self.slot = slot
    self.lineLength = lineLength
    self.sequence = sequence
    self.applied = applied
  }
}

/// Someone waiting for the WAL write of every operation up to `sequence`.
struct CommitWaiter: Sendable {
  var sequence: UInt64
  var continuation: CheckedContinuation<CommitSignal, any Error>
}

/// What a waiter is told when it wakes.
enum CommitSignal: Sendable {
  /// Its operations are in the WAL.
  case written
  /// Nobody is writing: it must write the pending buffer itself.
  case lead
}

/// Everything mutable about an open store, behind the store's `Mutex`.
@usableFromInline
struct StoreState<Record: Sendable>: Sendable {
  @usableFromInline var table = RecordTable<Record>()
  /// Operations since the last checkpoint cut, oldest first.
  @usableFromInline var journal = ChunkedArray<JournalEntry<Record>>()
  /// Per key, the stamp of the operation whose effect the table holds (multi-writer merges);
  /// empty for unstamped operations, and reset by every new base (checkpoint, reload).
  var winningStamps: [String: OperationStamp] = [:]
  var manifest: ManifestInfo
  @usableFromInline var isClosed = false
  /// `close()` has begun: mutations are refused, reads still work.
  @usableFromInline var isClosing = false

  /// The WAL being appended to (or, for a reader, followed).
  var walPath: String
  /// How much of `walPath` the state holds: for a writer, its length once every taken batch
  /// is written; for a reader following another process, how far it has read complete lines.
  var walLength: Int

  // Commit pipeline: operations get increasing sequence numbers; their lines wait in
  // `pending` until a writer takes them.
  @usableFromInline var pending: [UInt8] = []
  /// An empty buffer with capacity, from the last write, that becomes `pending` next.
  var spareBuffer: [UInt8] = []
  @usableFromInline var pendingCount = 0
  @usableFromInline var nextSequence: UInt64 = 1
  /// Every sequence up to this one has been taken by a writer (in flight or written).
  var takenSequence: UInt64 = 0
  /// Every sequence up to this one is in the WAL.
  var writtenSequence: UInt64 = 0
  var writerActive = false
  var waiters: [CommitWaiter] = []
  /// A failed write whose operations are being rolled back: nothing more is written and new
  /// mutations are refused until the rollback is done.
  var failure: (any Error)? = nil
  /// A failure that cost operations whose callers were already told they succeeded (group
  /// and async modes): the next write call, `flush()`, `sync()` or `close()` throws it.
  @usableFromInline var backgroundError: (any Error)? = nil
  /// Sequences lost to failed writes, so a caller still on its way to wait learns of it.
  var failedRanges: [(range: ClosedRange<UInt64>, error: any Error)] = []
  /// Bumped by every rollback: a step that read the state before an `await` checks it.
  var generation = 0
  @usableFromInline var backgroundWriterScheduled = false

  /// Operations written or buffered since the last checkpoint cut.
  @usableFromInline var operationsSinceCheckpoint = 0
  @usableFromInline var checkpointRunning = false
  @usableFromInline var groupTimerArmed = false

  // Following another writer (read-only single-writer stores).
  var manifestToken: FileChangeToken?
  /// Hashes of the lines read from the current WAL, to recognise the lines a checkpoint
  /// carries over into the next WAL.
  var tailLineHashes: [Int] = []

  var watchers: [Int: AsyncThrowingStream<[LogOperation<Record>], any Error>.Continuation] = [:]
  var nextWatcherID = 0

  /// Snapshot and WAL paths of superseded generations, oldest first, for garbage collection.
  var retiredGenerations: [[String]] = []

  init(manifest: ManifestInfo, walPath: String, walLength: Int) {
    self.manifest = manifest
    self.walPath = walPath
    self.walLength = walLength
  }

  /// Resumes nothing itself: returns the waiters whose operations are now written.
  mutating func collectWritten() -> [CommitWaiter] {
    var ready: [CommitWaiter] = []
    waiters.removeAll { waiter in
      if waiter.sequence <= writtenSequence {
        ready.append(waiter)
        return true
      }
      return false
    }
    return ready
  }
}
