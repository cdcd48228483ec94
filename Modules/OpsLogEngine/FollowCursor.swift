import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// The generation of a store's files that a follower's state is built on: the manifest's
/// snapshot and WAL, and what else in the manifest changes the state without a WAL line (the
/// archive, the schema version).
///
/// A follower compares its generation with each manifest it reads (``change(to:)``): only a
/// manifest that changed neither the archive nor the version, and that names either the same
/// snapshot and WAL or a checkpoint's new ones, may be followed line by line; anything else
/// means reloading from the current snapshot, never guessing.
@_spi(LogStrategy)
public struct LogGeneration: Sendable, Hashable {
  /// The manifest's `currentSnapshot`.
  public var snapshot: String
  /// The manifest's `activeOps`.
  public var activeWAL: String
  /// The manifest's `archiveSegments`.
  public var archiveSegments: [String]
  /// The manifest's `stats.archivedRecords`.
  public var archivedRecords: Int
  /// The manifest's schema `version`.
  public var version: Int

  /// The generation `manifest` describes.
  public init(_ manifest: ManifestInfo) {
    snapshot = manifest.currentSnapshot
    activeWAL = manifest.activeOps
    archiveSegments = manifest.archiveSegments
    archivedRecords = manifest.stats.archivedRecords
    version = manifest.version
  }

  /// How a manifest read later relates to this generation.
  public enum Change: Sendable, Hashable {
    /// The same snapshot, WAL, archive and version (the manifest changed in other ways, such
    /// as an agent registering its WAL).
    case same
    /// A new snapshot or WAL, archive and version unchanged: a checkpoint. The follower may
    /// follow it line by line only when it is the direct successor of this generation, which
    /// takes more than the manifest to tell (single-writer WAL names, Store's `tail()`).
    case checkpointed
    /// Records left or changed without WAL lines (an archive; a migration to another
    /// version): only the current snapshot knows the state.
    case rebased(reason: String)
  }

  /// How `manifest` relates to this generation; see ``Change``.
  public func change(to manifest: ManifestInfo) -> Change {
    if manifest.version != version {
      return .rebased(reason: "the schema version changed from \(version) to \(manifest.version)")
    }
    if manifest.archiveSegments != archiveSegments || manifest.stats.archivedRecords != archivedRecords {
      return .rebased(reason: "records were archived")
    }
    if manifest.currentSnapshot == snapshot && manifest.activeOps == activeWAL { return .same }
    return .checkpointed
  }
}

/// Where a follower of a log stands: the one cursor that single-writer followers
/// (``Store/tail()`` on a read-only store) and multi-writer agents keep, and check on every
/// poll before they read on.
///
/// It holds the generation the follower's state belongs to (``LogGeneration``: which
/// manifest, snapshot and WAL) and, for each WAL file followed (the single writer's one WAL;
/// every other agent's WAL, and the retired ones that still belong to the state), the byte
/// offset of the next line and what identifies the last line applied (``WALPosition``). Each
/// poll:
/// - compares the manifest, when it changed, with the generation (``change(to:)``): another
///   snapshot or WAL, a changed archive or version mean reloading from the current snapshot,
///   unless the follower can show the new generation to be the direct successor of its own
///   (a single writer's checkpoint);
/// - checks every file before reading it (``check(_:backend:)``): a file shorter than its
///   offset, or whose last applied line changed, was cut by its writer's undo (and perhaps
///   written again since); a file that is gone belongs to a generation that is over.
@_spi(LogStrategy)
public struct FollowCursor: Sendable, Hashable {
  /// The generation of the files the state belongs to.
  public var generation: LogGeneration
  /// Each WAL followed, by path.
  public private(set) var positions: [String: WALPosition]

  /// A cursor on `generation` that follows the files of `positions`.
  public init(generation: LogGeneration, positions: [String: WALPosition] = [:]) {
    self.generation = generation
    self.positions = positions
  }

  /// The cursor of a single writer's follower: `generation`, its WAL read up to `offset`,
  /// `lastApplied` the last line applied from it.
  public init(generation: LogGeneration, offset: Int, lastApplied: WALPosition.AppliedLine? = nil) {
    self.init(
      generation: generation,
      positions: [generation.activeWAL: WALPosition(offset: offset, lastApplied: lastApplied)])
  }

  /// The position in the generation's own WAL (``LogGeneration/activeWAL``), the one a single
  /// writer appends to; `nil` when it is not followed.
  public var activePosition: WALPosition? { positions[generation.activeWAL] }

  /// How `manifest` relates to the cursor's generation; see ``LogGeneration/Change``.
  public func change(to manifest: ManifestInfo) -> LogGeneration.Change { generation.change(to: manifest) }

  /// Whether what was applied from `path` is still there; see ``WALPosition/Check``. A file
  /// the cursor does not follow is ``WALPosition/Check/missing``.
  ///
  /// - Throws: the backend's ``OpsLogError/io(path:errno:reason:)``.
  public func check(_ path: String, backend: any StorageBackend) async throws -> WALPosition.Check {
    guard let position = positions[path] else { return .missing }
    return try await position.check(path, backend: backend)
  }

  /// Starts following `path` at `position`, or moves its position there.
  public mutating func follow(_ path: String, at position: WALPosition) { positions[path] = position }

  /// Stops following `path`.
  public mutating func stopFollowing(_ path: String) { positions[path] = nil }

  /// Moves past `read`, a read of `path` from its position whose lines were all applied. A
  /// file the cursor does not follow stays unfollowed.
  public mutating func advance(_ path: String, over read: WALReadResult) {
    positions[path]?.advance(over: read)
  }
}

/// How far a follower has read one WAL file, and the last line it applied from it: a part of
/// ``FollowCursor``.
@_spi(LogStrategy)
public struct WALPosition: Sendable, Hashable {
  /// The last line applied from a file: where it is, and a hash of its bytes (newline
  /// excluded, as ``WALLine/hash``), to find it again unchanged.
  public struct AppliedLine: Sendable, Hashable {
    /// Where the line starts in the file.
    public var offset: Int
    /// Its bytes, newline included.
    public var length: Int
    /// ``WALLine/hash``: of the line's bytes without the newline, in this process.
    public var hash: Int

    /// The place and hash of `line`.
    public init(_ line: WALLine) {
      offset = line.offset
      length = line.length
      hash = line.hash
    }

    /// The hash ``WALLine/hash`` is, of `bytes` (a line without its newline).
    public static func hash(_ bytes: [UInt8]) -> Int {
      var hasher = Hasher()
      bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
      return hasher.finalize()
    }
  }

  /// What ``check(_:backend:)`` found.
  public enum Check: Sendable, Hashable {
    /// Everything applied is still there; the file holds `size` bytes (more than ``offset``
    /// when there is more to read).
    case intact(size: Int)
    /// The file is shorter than ``offset``, or its last applied line changed: its writer
    /// undid lines that were applied. Deliver them as undone when they are known, or reload.
    case undone
    /// The file is no longer there: reload from the current snapshot.
    case missing
  }

  /// The byte offset of the next line to read: just past the last complete unit read.
  public var offset: Int
  /// The last line applied; `nil` when none was (complete lines that are not valid
  /// operations may follow it, so its place is kept rather than derived from ``offset``).
  public var lastApplied: AppliedLine?

  /// A position with these parts.
  public init(offset: Int, lastApplied: AppliedLine? = nil) {
    self.offset = offset
    self.lastApplied = lastApplied
  }

  /// The position just past `read`, all of whose lines were applied.
  public init(after read: WALReadResult) {
    self.init(offset: read.consumedThrough, lastApplied: read.lines.last.map(AppliedLine.init))
  }

  /// Whether what was applied from the file at `path` is still there; see ``Check``. Reads the
  /// file's size and, when a line was applied, that line's bytes.
  ///
  /// - Throws: the backend's ``OpsLogError/io(path:errno:reason:)``.
  public func check(_ path: String, backend: any StorageBackend) async throws -> Check {
    guard let size = try await backend.size(of: path) else { return .missing }
    if size < offset { return .undone }
    if let lastApplied {
      guard lastApplied.offset + lastApplied.length <= size else { return .undone }
      let bytes = try await backend.read(path, offset: lastApplied.offset, length: lastApplied.length - 1)
      if AppliedLine.hash(bytes) != lastApplied.hash { return .undone }
    }
    return .intact(size: size)
  }

  /// Moves past `read`, a read from ``offset`` whose lines were all applied.
  public mutating func advance(over read: WALReadResult) {
    offset = read.consumedThrough
    if let last = read.lines.last { lastApplied = AppliedLine(last) }
  }
}

extension FollowCursor {
  /// The cursor of a single writer's follower that has just loaded `load`, its WAL read
  /// whole: past the WAL's last complete unit, on its last line.
  init(loadedFrom load: LogLoad) {
    self.init(
      generation: LogGeneration(load.manifest), offset: load.appendLength,
      lastApplied: load.lines.last.map(WALPosition.AppliedLine.init))
  }

  /// The cursor of a single writer's follower that has just read `read`, the whole WAL of
  /// `manifest`'s generation.
  init(generation manifest: ManifestInfo, after read: WALReadResult) {
    self.init(generation: LogGeneration(manifest), positions: [manifest.activeOps: WALPosition(after: read)])
  }
}
