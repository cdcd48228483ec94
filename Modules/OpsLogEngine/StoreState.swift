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
  /// Bytes of its WAL line, newline included.
  @usableFromInline var lineLength: Int
  /// Where its line starts in the WAL this store appends to, recorded when the line was
  /// queued or read: undo cuts the file there, never at a length computed from the end
  /// (Docs/FORMAT.md, "Undo"). -1 for a line of another file (another agent's WAL).
  @usableFromInline var offset: Int
  /// 1 for an operation of its own, N for the first operation of a batch of N, 0 for the
  /// later ones of a batch: undo takes a unit back whole.
  @usableFromInline var unitSize: Int
  /// Its place in the commit pipeline; see ``CommitPipeline``.
  @usableFromInline var sequence: UInt64
  /// The record's ``StoredForm`` before the operation, when the operation changed it (`nil`:
  /// it did not), so that undo puts the stored JSON back too.
  @usableFromInline var storedBefore: StoredForm??
  /// Whether it changed the state: an operation merged in from another writer that loses
  /// last-writer-wins against the key's current stamp is kept for history but changed nothing.
  @usableFromInline var applied: Bool

  @inlinable @inline(__always)
  init(
    operation: LogOperation<Record>, previousRecord: Record?, slot: Int, lineLength: Int, offset: Int,
    unitSize: Int = 1, sequence: UInt64, applied: Bool = true, storedBefore: StoredForm?? = nil
  ) {
    self.storedBefore = storedBefore
    self.operation = operation
    self.previousRecord = previousRecord
    self.slot = slot
    self.lineLength = lineLength
    self.offset = offset
    self.unitSize = unitSize
    self.sequence = sequence
    self.applied = applied
  }
}

extension JournalEntry {
  /// The operation as a change feed reports it taken back: with its full previous record,
  /// never a delta patch, so that a consumer can revert it without the record's JSON.
  var undoneOperation: LogOperation<Record> {
    var undone = operation
    if let previousRecord {
      undone.previous = .record(previousRecord)
    } else if operation.kind == .set {
      undone.previous = .none
    }
    return undone
  }
}

/// Everything mutable about an open store, behind the store's `Mutex`, by concern: the
/// records (table and journal), the commit pipeline, the log files, following, lifecycle.
@usableFromInline
struct StoreState<Record: Sendable>: Sendable {
  // MARK: Records
  @usableFromInline var table = RecordTable<Record>()
  /// Operations since the last checkpoint, oldest first.
  @usableFromInline var journal = ChunkedArray<JournalEntry<Record>>()
  /// Journal entries below this index belong to a checkpoint in progress: they are in the
  /// snapshot being written, so undo may not take them back; a failed checkpoint lowers it
  /// to 0 again, a finished one drops them.
  var journalFloor = 0
  /// How merged operations compete for a record: the strategy's
  /// (``LogStrategy/makeMergePolicy()``), set when the store is made.
  var merge: any MergePolicy = EveryOperationApplies()
  /// The stored JSON of the records whose JSON has fields `Record` does not decode (or a
  /// `null` it reads as absent), by ID; empty when the type reads every record completely
  /// (see ``StoredForm``).
  @usableFromInline var storedForms: [ExactString: StoredForm] = [:]
  /// Operations written or buffered since the last checkpoint cut.
  @usableFromInline var operationsSinceCheckpoint = 0

  // MARK: Commit pipeline
  @usableFromInline var pipeline: CommitPipeline
  /// Bumped by every rollback and reload: a step that read the state before an `await`
  /// checks it.
  var generation = 0

  // MARK: Log files
  var manifest: ManifestInfo
  /// The WAL being appended to (or, for a reader, followed).
  var walPath: String
  /// How much of `walPath` the state holds: for a writer, its length once every taken batch
  /// is written; for a reader following another process, how far it has read complete units.
  var walLength: Int {
    get { pipeline.committedLength }
    set { pipeline.switchWAL(length: newValue) }
  }
  /// Snapshot and WAL paths of superseded generations, oldest first, for garbage collection.
  var retiredGenerations: [[String]] = []

  // MARK: Following another writer (read-only single-writer stores)
  var manifestToken: FileChangeToken?
  /// Where a follower stands: the generation it follows, the offset of the next line of its
  /// WAL and the last line applied (``FollowCursor``, the cursor agents keep too); `nil` for a
  /// store that follows no single writer. Set through ``follow(to:)`` only.
  private(set) var followCursor: FollowCursor?
  /// Hashes of the lines read from the current WAL, to recognise the lines a checkpoint
  /// carries over into the next WAL.
  var tailLineHashes: [Int] = []
  /// Whether a read of the followed WAL skipped a malformed line (kept until the follower
  /// moves on to another WAL).
  var followedWALIsDamaged = false
  /// Whether the last read of the followed WAL ended in bytes that are not a whole line yet.
  var followedWALEndsInPartialLine = false
  /// Whether the followed WAL, once a checkpoint has replaced it, may replay to something
  /// else than the snapshot the checkpoint wrote (a foreign writer's undo that cut the wrong
  /// bytes, a crash it did not repair before appending again): the follower then reloads from
  /// that snapshot instead of going on line by line, since a fresh open reads the snapshot.
  /// This project's writers never leave such a WAL behind.
  var followedWALMayDifferFromSnapshot: Bool { followedWALIsDamaged || followedWALEndsInPartialLine }
  /// The consumers of ``Store/changes(pollInterval:)`` and ``Store/watch(interval:)``.
  @usableFromInline var feed = ChangeFeed<Record>()

  // MARK: Lifecycle
  @usableFromInline var isClosed = false
  /// `close()` has begun: mutations are refused, reads still work.
  @usableFromInline var isClosing = false
  @usableFromInline var checkpointRunning = false

  /// Notes what a read of the followed WAL met (``followedWALMayDifferFromSnapshot``); a read
  /// of a new generation's WAL from its start forgets the old one's.
  mutating func noteFollowedRead(_ wal: WALReadResult, startsGeneration: Bool = false) {
    if startsGeneration { followedWALIsDamaged = false }
    if wal.malformedLines > 0 { followedWALIsDamaged = true }
    followedWALEndsInPartialLine = wal.partialTailLength > 0
  }

  /// Notes what loading the state (an open or a reload) met in the WAL it now follows.
  mutating func noteFollowedLoad(_ load: LogLoad) {
    followedWALIsDamaged = load.malformedLines > 0
    followedWALEndsInPartialLine = false
  }

  /// Moves the follower's cursor; the WAL the state reflects and how much of it is read go
  /// with it, so that the two never disagree.
  mutating func follow(to cursor: FollowCursor) {
    followCursor = cursor
    walPath = cursor.generation.activeWAL
    walLength = cursor.activePosition?.offset ?? 0
  }

  init(manifest: ManifestInfo, walPath: String, walLength: Int) {
    self.manifest = manifest
    self.walPath = walPath
    self.pipeline = CommitPipeline(committedLength: walLength)
  }
}
