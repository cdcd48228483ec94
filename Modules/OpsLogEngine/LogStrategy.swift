import Logging
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// The writer's agent id and Lamport clock, as an operation of a multi-writer store carries
/// them in its WAL line (`agent`, `clock`; Docs/FORMAT.md, Multi-writer). Which of two stamped
/// operations wins is the merge policy's to say, not the engine's.
@_spi(LogStrategy)
public struct OperationStamp: Sendable, Hashable {
  /// The writer's Lamport clock when it wrote the operation.
  public var clock: Int
  /// The writer's agent id.
  public var agent: String

  /// A stamp as it appears in a WAL line.
  public init(clock: Int, agent: String) {
    self.clock = clock
    self.agent = agent
  }

  /// The stamp of an operation that carries both `agent` and `clock`, else `nil`.
  public init?<Record>(of operation: LogOperation<Record>) {
    guard let agent = operation.agent, let clock = operation.clock else { return nil }
    self.init(clock: clock, agent: agent)
  }
}

/// How the operations of several writers compete for a record: the multi-writer layer's
/// last-writer-wins, behind the seam, so that the engine keeps the table and the journal and
/// holds no agent semantics. The engine asks the policy whether another writer's operation
/// takes effect, tells it which operations did, and asks it for the order in which to replay
/// a record's operations when one is taken out from among them.
///
/// A policy is a value in the store's state, changed only under the state's lock; its calls
/// must be quick and must never call back into the store.
@_spi(LogStrategy)
public protocol MergePolicy: Sendable {
  /// Forgets every winner: the state has a new base (an open, a reload, a checkpoint's
  /// switch), and the operations still in the journal are told again with ``took(_:)``.
  mutating func reset()
  /// Whether `operation`, another writer's, takes effect: it does not lose to the operation
  /// that last took effect on its record. One that loses stays in the history only.
  func admits<Record>(_ operation: LogOperation<Record>) -> Bool
  /// `operation` took effect on its record: this store's own, or another writer's that
  /// ``admits(_:)`` let through (a delete of a record already gone included, which changes
  /// nothing but is still the record's latest write).
  mutating func took<Record>(_ operation: LogOperation<Record>)
  /// The operation that last took effect on record `id` was taken back (undo, a failed
  /// append); `remaining` are the record's operations still in the journal, oldest first:
  /// the winner is chosen among them, or there is none.
  mutating func restore<Record>(id: String, among remaining: [LogOperation<Record>])
  /// Whether `first` replays before `second` when a record is re-derived from its remaining
  /// operations; operations neither precedes keep their journal order.
  func replays<Record>(_ first: LogOperation<Record>, before second: LogOperation<Record>) -> Bool
}

extension MergePolicy {
  /// ``reset()``, then ``took(_:)`` for every operation of `journal` in order.
  mutating func rebuild<Record>(from journal: ChunkedArray<JournalEntry<Record>>) {
    reset()
    // One writer's policy tracks nothing: skipping the pass saves copying every entry of a
    // long WAL on each open, a few percent of it, through unspecialized generic code.
    if self is EveryOperationApplies { return }
    for entry in journal { took(entry.operation) }
  }
}

/// The merge of a store with one writer at a time: every operation takes effect, in the
/// order of the log.
@_spi(LogStrategy)
public struct EveryOperationApplies: MergePolicy {
  public init() {}
  public mutating func reset() {}
  public func admits<Record>(_ operation: LogOperation<Record>) -> Bool { true }
  public mutating func took<Record>(_ operation: LogOperation<Record>) {}
  public mutating func restore<Record>(id: String, among remaining: [LogOperation<Record>]) {}
  public func replays<Record>(_ first: LogOperation<Record>, before second: LogOperation<Record>) -> Bool { false }
}

/// What a log strategy promises about the writers of a store, so that the engine acts on
/// declared properties instead of on which strategy it holds.
@_spi(LogStrategy)
public struct LogCapabilities: OptionSet, Sendable, Hashable {
  public let rawValue: Int
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// A writable open takes the exclusive `.lock`, so this store is the only writer; a
  /// read-only open follows that one writer with the engine's own ``Store/tail()`` (its WAL
  /// by byte offset, its checkpoints by the manifest's change token).
  public static let exclusiveWriter = LogCapabilities(rawValue: 1 << 0)
  /// Other writers append at the same time: every mutation first asks the strategy
  /// (``LogStrategy/checkBeforeMutation(backend:options:logger:)``), every operation is
  /// stamped (``LogStrategy/stamp()``), and following goes through
  /// ``LogStrategy/poll(backend:options:logger:)``.
  public static let concurrentWriters = LogCapabilities(rawValue: 1 << 1)
}

/// What a strategy found when it loaded the log: the lines to replay over the snapshot, in
/// replay order, and where this store appends.
@_spi(LogStrategy)
public struct LogLoad: Sendable {
  /// The manifest the load is based on (a strategy may have rewritten it, e.g. to register).
  public var manifest: ManifestInfo
  /// WAL lines to replay over `manifest.currentSnapshot`, in the order they apply.
  public var lines: [WALLine]
  /// The WAL this store appends to.
  public var appendPath: String
  /// `appendPath`'s length, complete lines only: where the next append goes.
  public var appendLength: Int
  /// Lines skipped as malformed while reading `lines` (reported with a warning on open).
  public var malformedLines: Int

  /// A load; the strategy vouches that `lines` are `appendPath`'s (and any other WALs')
  /// complete lines in apply order.
  public init(manifest: ManifestInfo, lines: [WALLine], appendPath: String, appendLength: Int, malformedLines: Int) {
    self.manifest = manifest
    self.lines = lines
    self.appendPath = appendPath
    self.appendLength = appendLength
    self.malformedLines = malformedLines
  }
}

/// What ``LogStrategy/poll(backend:options:logger:)`` found.
@_spi(LogStrategy)
public enum LogPoll: Sendable {
  /// New operations of other writers, in merge order; the engine applies them last-writer-wins.
  case lines([WALLine])
  /// The base changed under this store (another writer compacted): load everything again.
  case reload(LogLoad)
}

/// How a store lays out and follows its write-ahead log: the seam between the engine and the
/// writers above it. The engine calls it for load, for stamping each new operation, for the
/// choice of what undo removes, before each mutation, around checkpoints and on refresh.
///
/// The default, ``SingleWriterLog``, is the single-writer format of opslog: one `.lock`, one
/// WAL. Implementations must be cheap in ``stamp()`` and ``owns(agent:)``: the engine calls
/// them while it holds the store's state lock, so they must never call back into the store.
@_spi(LogStrategy)
public protocol LogStrategy: Sendable {
  /// What the engine may rely on; see ``LogCapabilities``.
  var capabilities: LogCapabilities { get }
  /// Runs after the backend is initialized and before the manifest is read; may create a
  /// fresh store (a writable open only).
  func prepare(backend: any StorageBackend, options: StoreOptions) async throws
  /// Chooses the WAL lines to replay over the manifest's snapshot and where to append.
  func load(manifest: ManifestInfo, backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws
    -> LogLoad
  /// The agent and clock of a new local operation; `nil` writes neither. Called under the
  /// state lock, in WAL order.
  func stamp() -> OperationStamp?
  /// Whether this store wrote operations of `agent` and so may undo them.
  func owns(agent: String?) -> Bool
  /// Called before every mutation: a non-`nil` load replaces the whole state first (this
  /// store's WAL was retired by another writer's compaction).
  func checkBeforeMutation(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws -> LogLoad?
  /// Reads what other writers appended since the last poll; `nil` leaves following to the
  /// engine's own single-writer `tail()`.
  func poll(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws -> LogPoll?
  /// The path of the WAL a checkpoint starts.
  func newWALPath(milliseconds: Int64) -> String
  /// Starts a checkpoint: takes whatever it needs and returns the session that carries it
  /// through, or `nil` to skip it (another writer compacts). The engine calls the session's
  /// steps in their order, and ``CheckpointSession/finish(backend:)`` whatever happened.
  func beginCheckpoint(backend: any StorageBackend, logger: Logger) async throws -> (any CheckpointSession)?
  /// The merge policy of a store opened with this strategy (one value per store).
  func makeMergePolicy() -> any MergePolicy
  /// Runs an undo (its check before the mutation and the cut of its lines off the WAL) so
  /// that no other writer can take the lines being cut into a snapshot meanwhile; a cut
  /// after another writer's compaction read them would leave them in its snapshot, and its
  /// `.through` marker pointing into whatever this store appends next.
  func guardingUndo<T: Sendable>(backend: any StorageBackend, _ body: () async throws -> T) async throws -> T
  /// `close()` wrote everything this store will ever write: the last chance to make sure
  /// none of it is stranded (e.g. in a WAL another writer retired).
  func willClose(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws
  /// The lines ``Store/walOperations(since:)`` streams, each with the WAL it came from, in
  /// replay order, when the log is more than this store's own WAL (other writers' WALs);
  /// `nil` (the default) streams the store's own WAL a window at a time.
  func linesToStream(backend: any StorageBackend, logger: Logger) async throws -> [(path: String, line: WALLine)]?
}

extension LogStrategy {
  /// `nil`: the store's own WAL is the whole log, streamed a window at a time.
  public func linesToStream(backend: any StorageBackend, logger: Logger) async throws
    -> [(path: String, line: WALLine)]?
  { nil }
}

/// The single-writer log of opslog: `.lock`, one WAL named by the manifest's `activeOps`.
@_spi(LogStrategy)
public struct SingleWriterLog: LogStrategy {
  /// The layout every plain ``Store/open(_:options:)`` uses.
  public init() {}

  public var capabilities: LogCapabilities { .exclusiveWriter }

  public func prepare(backend: any StorageBackend, options: StoreOptions) async throws {}

  public func load(manifest: ManifestInfo, backend: any StorageBackend, options: StoreOptions, logger: Logger)
    async throws -> LogLoad
  {
    try Self.checkLayout(manifest)
    let walPath = manifest.activeOps
    let wal = try await backend.readWAL(walPath, logger: logger)
    var walLength = wal.consumedThrough
    if !options.readOnly {
      walLength = try await WALRepair.cutTornTail(
        walPath, read: wal, backend: backend, durability: options.durability, logger: logger)
    }
    // A reader keeps the torn tail: it reads the line again once it is complete.
    return LogLoad(
      manifest: manifest, lines: wal.lines, appendPath: walPath, appendLength: walLength,
      malformedLines: wal.malformedLines)
  }

  /// Refuses a store that multi-writer agents write: reading only its `activeOps` would show
  /// one agent's writes as the whole state, and appending to it would corrupt that agent's WAL.
  public static func checkLayout(_ manifest: ManifestInfo) throws {
    if let agents = manifest.activeAgentOps, !agents.isEmpty {
      throw OpsLogError.unsupported(
        "this store is written by multi-writer agents (\(agents.map(\.agent).joined(separator: ", "))); open it with Store.open(_:agentId:options:) from OpsLogMultiWriter, with readOnly to only read it"
      )
    }
  }

  public func stamp() -> OperationStamp? { nil }
  public func owns(agent: String?) -> Bool { true }
  public func checkBeforeMutation(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws
    -> LogLoad?
  { nil }
  public func poll(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws -> LogPoll? { nil }
  public func newWALPath(milliseconds: Int64) -> String { "ops/ops-\(milliseconds).jsonl" }
  /// A session that writes the engine's manifest as it is; the `.lock` keeps every other
  /// writer out already.
  public func beginCheckpoint(backend: any StorageBackend, logger: Logger) async throws -> (any CheckpointSession)? {
    SingleWriterCheckpoint()
  }
  /// ``EveryOperationApplies``: the single writer's log is the order.
  public func makeMergePolicy() -> any MergePolicy { EveryOperationApplies() }
  /// Runs `body`: the `.lock` keeps every other writer out already.
  public func guardingUndo<T: Sendable>(backend: any StorageBackend, _ body: () async throws -> T) async throws -> T {
    try await body()
  }
  public func willClose(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws {}
}

/// One checkpoint as a log strategy takes part in it, step by step, in this order:
/// 1. ``cut()``, under the store's mutation lock, once the engine has written what was
///    queued and followed the other writers: everything followed so far is in the snapshot
///    about to be written;
/// 2. the engine writes the snapshot, holding no lock;
/// 3. ``writeManifest(_:newWALPath:backend:)``, under the mutation lock again, once the new
///    WAL holds the lines written since the cut: the manifest switch;
/// 4. ``finish(backend:)``, whatever happened before (a skipped cut, an error): releases
///    what ``LogStrategy/beginCheckpoint(backend:logger:)`` took.
/// A step may be left out only by an error or a cut that finds nothing to checkpoint; the
/// engine never calls one twice.
@_spi(LogStrategy)
public protocol CheckpointSession: Sendable {
  /// The cut; called with the mutation lock held (never the state mutex), right after the
  /// engine followed the other writers.
  func cut()
  /// Writes `manifest` (the engine's: new snapshot, `newWALPath` as `activeOps`), as the
  /// strategy shapes it and with whatever side files must precede it, and returns what was
  /// written. Once it returns, the switch has happened.
  func writeManifest(_ manifest: ManifestInfo, newWALPath: String, backend: any StorageBackend) async throws
    -> ManifestInfo
  /// Ends the session; called exactly once, whatever happened.
  func finish(backend: any StorageBackend) async
}

/// The checkpoint of the single-writer log: the manifest as the engine made it.
@_spi(LogStrategy)
public struct SingleWriterCheckpoint: CheckpointSession {
  public init() {}
  public func cut() {}
  public func writeManifest(_ manifest: ManifestInfo, newWALPath: String, backend: any StorageBackend) async throws
    -> ManifestInfo
  {
    try await backend.writeManifest(manifest)
    return manifest
  }
  public func finish(backend: any StorageBackend) async {}
}

/// Repairs shared by every log strategy.
@_spi(LogStrategy)
public enum WALRepair {
  /// The length of the WAL's complete lines: all of `length` when it ends with a newline,
  /// otherwise up to the last newline (a torn last line, the rest of which died with the
  /// process that was writing it, does not count).
  public static func completeLength(_ path: String, length: Int, backend: any StorageBackend) async throws -> Int {
    guard length > 0 else { return 0 }
    if try await backend.read(path, offset: length - 1, length: 1) == [UInt8(ascii: "\n")] { return length }
    return try await backend.startOfLine(endingAt: length, in: path)
  }

  /// Cuts a last line without its newline off the WAL: a new line appended after it would be
  /// glued to it. Returns the new length.
  public static func cutTornTail(
    _ path: String, length: Int, backend: any StorageBackend, durability: Durability, logger: Logger? = nil
  )
    async throws -> Int
  {
    let keep = try await completeLength(path, length: length, backend: backend)
    try await cut(path, from: length, to: keep, backend: backend, durability: durability, logger: logger)
    return keep
  }

  /// ``cutTornTail(_:length:backend:durability:)`` for a WAL just read whole with `readWAL`,
  /// which already found where its complete lines end. Returns the new length.
  public static func cutTornTail(
    _ path: String, read wal: WALReadResult, backend: any StorageBackend, durability: Durability,
    logger: Logger? = nil
  )
    async throws -> Int
  {
    try await cut(
      path, from: wal.consumedThrough + wal.partialTailLength, to: wal.consumedThrough, backend: backend,
      durability: durability, logger: logger)
    return wal.consumedThrough
  }

  private static func cut(
    _ path: String, from length: Int, to keep: Int, backend: any StorageBackend, durability: Durability,
    logger: Logger?
  )
    async throws
  {
    guard keep < length else { return }
    (logger ?? Logger(label: "OpsLog")).warning(
      "cutting a torn last WAL line", metadata: ["path": "\(path)", "bytes": "\(length - keep)"])
    try await backend.truncate(path, toLength: keep, durability: durability)
  }
}
