import Logging
@_exported import OpsLogStorage
@_exported import OpsLogTypes

/// When a write call returns, relative to the write reaching the WAL.
///
/// | mode | `set`/`delete`/`batch` returns when | lost by a process crash |
/// | --- | --- | --- |
/// | ``immediate`` | its line is written (and fsynced with `Durability.disk`) | nothing acknowledged |
/// | ``group`` | it is buffered; the call that fills the buffer waits for its write | at most the unwritten buffer |
/// | ``async`` | it is buffered; writes happen in the background | everything unwritten |
public enum WriteMode: Sendable, Hashable {
  /// Every call returns once its line is in the WAL. Concurrent callers share one write (and
  /// one fsync under `Durability.disk`).
  case immediate
  /// Calls return at once; the buffer is written when it holds
  /// ``StoreOptions/groupCommitSize`` operations (that call waits for the write) or
  /// ``StoreOptions/groupCommitInterval`` after its first operation.
  case group
  /// Calls return at once; a background task writes the buffer, one append every few hundred
  /// microseconds while writes keep coming (``Store/flush()`` writes it at once).
  case async
}

/// How a store is opened and how it writes. Set the fields you need after `init()`.
public struct StoreOptions: Sendable {
  /// A checkpoint (new snapshot, new WAL) is taken after this many WAL operations. Below 1,
  /// `open` throws `OpsLogError.invalidArgument(_:)`.
  public var checkpointThreshold: Int = 100
  /// Whether `close()` takes a checkpoint when operations were written since the last one.
  public var checkpointOnClose: Bool = true
  /// The schema version of `Record`. A store written with an older version is passed through
  /// ``migrate`` on open.
  public var version: Int = 1
  /// Turns a stored record of an older schema version into the current one. Called with the
  /// stored JSON and its version before it is decoded as `Record`; throwing fails the open
  /// with `OpsLogError.migrationFailed(id:reason:)` and writes nothing.
  public var migrate: (@Sendable (_ record: JSONValue, _ fromVersion: Int) throws -> JSONValue)? = nil
  /// Open without taking the writer lock; every mutation throws `OpsLogError.readOnly` and
  /// nothing is ever written.
  public var readOnly: Bool = false
  /// Open without loading the snapshot or WAL: writes are appended, reads see only what this
  /// process wrote, `compact()` is `OpsLogError.unsupported(_:)`, and `close()` never
  /// checkpoints (it would overwrite the real state with a partial one).
  public var skipLoad: Bool = false
  /// When write calls return; see ``WriteMode``.
  public var writeMode: WriteMode = .immediate
  /// ``WriteMode/group``: buffered operations that trigger a write. Below 1, `open` throws
  /// `OpsLogError.invalidArgument(_:)`.
  public var groupCommitSize: Int = 50
  /// ``WriteMode/group``: how long after its first operation a buffer is written at the latest.
  public var groupCommitInterval: Duration = .milliseconds(100)
  /// `Durability.process`: acknowledged writes survive a crash of this process.
  /// `Durability.disk`: they survive a power loss too (fsync before acknowledging).
  public var durability: Durability = .process
  /// How checkpoints write snapshots. Any store opens either kind, whatever this says.
  public var snapshotCompression: SnapshotCompression = .none
  /// Where the files live. `nil`: a new `FsBackend`. A backend serves one store at a time.
  public var backend: (any StorageBackend)? = nil
  /// How many superseded snapshot/WAL generations a checkpoint keeps on disk.
  ///
  /// A reader in another process that loaded the previous manifest may still be reading the
  /// files it named, so a checkpoint never removes the generation it just replaced. With the
  /// default `1`, a checkpoint removes the snapshot and WAL that only manifests older than
  /// the previous one named, so a store keeps at most two generations on disk however long it
  /// runs; a writable open removes what earlier sessions left beyond that. A read-only
  /// follower that falls further behind than the retained generations finds its files gone and
  /// reloads from the current snapshot (``StoreChange/reloaded``); it never misses a change
  /// silently. With `n` ≥ 1, the last `n` superseded generations stay; `nil` keeps every file
  /// forever, as opslog for Node does. Below 1, `open` throws `OpsLogError.invalidArgument(_:)`.
  ///
  /// Only a single writer's own snapshots and WALs are ever removed: archive segments, agent
  /// WALs and files the format does not define stay. Multi-writer agents remove nothing
  /// (another agent may be loading any recent generation, and no lock says so); `opslog gc`
  /// removes old generations of such a store under its `.compact-lock`.
  public var retainedGenerations: Int? = 1
  /// Where the store's messages go: warnings about skipped WAL lines, cut torn tails, failed
  /// background writes and checkpoints, ignored options. Every message the store logs goes to
  /// it, with the metadata key `store` set to the location. `nil`: a swift-log `Logger` with
  /// the label `OpsLog`, which goes wherever the process's `LoggingSystem` sends it.
  public var logger: Logger? = nil

  /// The defaults: immediate writes, `.process` durability, a checkpoint every 100 operations
  /// and on close, the filesystem backend, one superseded generation kept, the `OpsLog` logger.
  public init() {}

  /// The logger the store at `location` writes to: ``logger``, or one labelled `OpsLog`, with
  /// the location as its `store` metadata.
  @_spi(LogStrategy)
  public func storeLogger(location: String) -> Logger {
    var logger = self.logger ?? Logger(label: "OpsLog")
    logger[metadataKey: "store"] = "\(location)"
    return logger
  }
}
