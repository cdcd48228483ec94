/// `manifest.json`: which snapshot and which WAL file(s) make up the current state.
public struct ManifestInfo: Sendable, Hashable {
  /// The schema version of the stored records (`StoreOptions.version` of the last writer).
  public var version: Int
  /// Path of the current snapshot, relative to the store's location.
  public var currentSnapshot: String
  /// Path of the active single-writer WAL, relative to the store's location.
  public var activeOps: String
  /// Paths of the archive segments, relative to the store's location, each listed once.
  public var archiveSegments: [String]
  /// The manifest's `stats` object.
  public var stats: ManifestStats
  /// Multi-writer stores only: each agent's active WAL path, in registration order.
  public var activeAgentOps: [(agent: String, path: String)]?

  /// A manifest with these fields, taken as they are: the paths are not checked here (the
  /// manifest codec checks them when it decodes a file). Single-writer stores leave
  /// `activeAgentOps` `nil`.
  public init(
    version: Int, currentSnapshot: String, activeOps: String, archiveSegments: [String] = [],
    stats: ManifestStats, activeAgentOps: [(agent: String, path: String)]? = nil
  ) {
    self.version = version
    self.currentSnapshot = currentSnapshot
    self.activeOps = activeOps
    self.archiveSegments = archiveSegments
    self.stats = stats
    self.activeAgentOps = activeAgentOps
  }

  /// The WAL path registered for `agent`, if any.
  public func agentWAL(_ agent: String) -> String? {
    activeAgentOps?.first(where: { $0.agent == agent })?.path
  }

  /// Whether every field is equal, `activeAgentOps` entry by entry in order (agent and path);
  /// `nil` differs from an empty list.
  public static func == (lhs: ManifestInfo, rhs: ManifestInfo) -> Bool {
    lhs.version == rhs.version && lhs.currentSnapshot == rhs.currentSnapshot
      && lhs.activeOps == rhs.activeOps && lhs.archiveSegments == rhs.archiveSegments
      && lhs.stats == rhs.stats
      && lhs.activeAgentOps?.map(\.agent) == rhs.activeAgentOps?.map(\.agent)
      && lhs.activeAgentOps?.map(\.path) == rhs.activeAgentOps?.map(\.path)
  }

  /// Hashes `currentSnapshot`, `activeOps` and `stats` only: enough to tell manifests apart in
  /// practice, and consistent with `==`, which compares those fields among the rest.
  public func hash(into hasher: inout Hasher) {
    hasher.combine(currentSnapshot)
    hasher.combine(activeOps)
    hasher.combine(stats)
  }
}

/// The manifest's `stats` object.
public struct ManifestStats: Sendable, Hashable {
  /// Records in the active state, as of the last manifest write.
  public var activeRecords: Int
  /// A running total of the records archiving has moved out of the active state.
  public var archivedRecords: Int
  /// WAL operations since the last checkpoint, as of the last manifest write.
  public var opsCount: Int
  /// ISO-8601 time the store was created.
  public var created: String
  /// ISO-8601 time of the last checkpoint.
  public var lastCheckpoint: String

  /// Stats with these values, taken as they are (the manifest codec rejects negative counts
  /// and empty times when it decodes a file).
  public init(activeRecords: Int, archivedRecords: Int, opsCount: Int, created: String, lastCheckpoint: String) {
    self.activeRecords = activeRecords
    self.archivedRecords = archivedRecords
    self.opsCount = opsCount
    self.created = created
    self.lastCheckpoint = lastCheckpoint
  }
}

/// A snapshot's first line: `{"version":V,"timestamp":"<ISO>"}`.
public struct SnapshotHeader: Sendable, Hashable {
  /// The schema version of the records in the snapshot; a snapshot read from disk has one ≥ 1.
  public var version: Int
  /// ISO-8601 time the snapshot was written.
  public var timestamp: String

  /// A header with these fields, taken as they are.
  public init(version: Int, timestamp: String) {
    self.version = version
    self.timestamp = timestamp
  }
}

/// An archive segment file, `archive/archive-<period>.json`.
public struct ArchiveSegment: Sendable, Hashable {
  /// The segment format's version; a segment read from disk has one ≥ 1.
  public var version: Int
  /// The period it holds, for example `2025-Q4` or `2024`.
  public var period: String
  /// ISO-8601 time the segment was written.
  public var timestamp: String
  /// The archived records by ID, in the order they were archived.
  public var records: JSONObject

  /// A segment with these fields, taken as they are: `period` is not checked here (the archive
  /// codec checks it before it names a file after it).
  public init(version: Int = 1, period: String, timestamp: String, records: JSONObject) {
    self.version = version
    self.period = period
    self.timestamp = timestamp
    self.records = records
  }
}

/// Counts a store reports through `stats()`.
public struct StoreStats: Sendable, Hashable {
  /// Records in the active state.
  public var activeRecords: Int
  /// Operations since the last checkpoint, including buffered ones not yet written.
  public var opsCount: Int
  /// Archive segments the manifest lists.
  public var archiveSegments: Int

  /// Stats with these counts.
  public init(activeRecords: Int, opsCount: Int, archiveSegments: Int) {
    self.activeRecords = activeRecords
    self.opsCount = opsCount
    self.archiveSegments = archiveSegments
  }
}

/// How a checkpoint writes its snapshot.
public enum SnapshotCompression: Sendable, Hashable {
  /// Plain JSONL, readable by opslog for Node.
  case none
  /// JSONL in one gzip member (`snap-<ms>.jsonl.gz`), `level` 0 to 9 as zlib takes it.
  case gzip(level: Int)
}

/// How far a write is carried before it is acknowledged.
public enum Durability: Sendable, Hashable {
  /// Written to the kernel: survives a crash of this process, not a power loss.
  case process
  /// Written and fsynced: survives a power loss too.
  case disk
}
