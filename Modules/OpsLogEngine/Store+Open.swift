import Logging
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Opens the store at `location`, creating a new one when the location holds none.
  ///
  /// - A location without `manifest.json` is a fresh store if it holds no store files (the
  ///   directory is created); if it holds snapshots or WAL files, opening it is
  ///   `OpsLogError.corrupted(path:reason:)`, never a silent fresh store over old data.
  /// - Otherwise the snapshot is loaded and the WAL replayed; WAL lines that are not valid
  ///   operations (a line torn by a crash) are skipped with a warning. A writable open cuts a
  ///   torn last line off before appending.
  /// - Stored records of an older ``StoreOptions/version`` pass through
  ///   ``StoreOptions/migrate``; a writable open then checkpoints at once.
  /// - ``StoreOptions/readOnly`` takes no lock and writes nothing; ``StoreOptions/skipLoad``
  ///   loads nothing. Neither creates a store: a missing one is
  ///   `OpsLogError.storeNotFound(location:)`.
  ///
  /// A failed open leaves no lock and no new file behind.
  ///
  /// - Complexity: O(records in the snapshot + operations in the WAL): the snapshot is read
  ///   and decoded once and the WAL replayed; a migration adds one checkpoint, also linear in
  ///   the records.
  /// - Throws: `OpsLogError.locked(holder:)` when another live writer holds the store,
  ///   `OpsLogError.corrupted(path:reason:)` for a damaged manifest or snapshot,
  ///   `OpsLogError.migrationFailed(id:reason:)`, `OpsLogError.io(path:errno:reason:)`.
  public static func open(_ location: String, options: StoreOptions = StoreOptions()) async throws -> Store<Record> {
    try await open(location, options: options, strategy: SingleWriterLog())
  }

  /// ``open(_:options:)`` with another log layout, for the layers above the engine (the
  /// multi-writer agents). The strategy decides which WAL lines are replayed and where this
  /// store appends; see ``LogStrategy``.
  @_spi(LogStrategy)
  public static func open(_ location: String, options: StoreOptions, strategy: any LogStrategy) async throws
    -> Store<Record>
  {
    guard options.checkpointThreshold > 0 else {
      throw OpsLogError.invalidArgument("checkpointThreshold must be at least 1")
    }
    guard options.groupCommitSize > 0 else { throw OpsLogError.invalidArgument("groupCommitSize must be at least 1") }
    if let retained = options.retainedGenerations, retained < 1 {
      throw OpsLogError.invalidArgument(
        "retainedGenerations must be at least 1 (the generation a reader may still use), or nil to keep every file")
    }
    if case .gzip(let level) = options.snapshotCompression, !(0...9).contains(level) {
      throw OpsLogError.invalidArgument("gzip level must be 0 to 9, not \(level)")
    }
    let backend = options.backend ?? FsBackend()
    try await backend.initialize(location: location, readOnly: options.readOnly)
    var lockTaken = false
    do {
      if options.skipLoad, try await backend.size(of: ManifestCodec.fileName) == nil,
        !(try await backend.containsStoreFiles())
      {
        // Checked before locking, because taking the lock would create the directory.
        throw OpsLogError.storeNotFound(location: location)
      }
      if !options.readOnly && strategy.capabilities.contains(.exclusiveWriter) {
        try await backend.acquireLock(".lock")
        lockTaken = true
      }
      if !options.readOnly && !options.skipLoad { try await strategy.prepare(backend: backend, options: options) }
      let store: Store<Record>
      if let manifest = try await backend.readManifest() {
        store = try await openExistingFollowingReplacements(
          location, manifest: manifest, options: options, backend: backend, strategy: strategy)
      } else {
        if try await backend.containsStoreFiles() {
          throw OpsLogError.corrupted(
            path: ManifestCodec.fileName,
            reason:
              "it is missing but the location holds snapshots or WAL files; restore the manifest instead of starting over"
          )
        }
        if options.readOnly || options.skipLoad { throw OpsLogError.storeNotFound(location: location) }
        store = try await createFresh(location, options: options, backend: backend, strategy: strategy)
      }
      if store.isWritable && !options.skipLoad && strategy.capabilities.contains(.exclusiveWriter) {
        await store.adoptEarlierGenerations()
      }
      if store.isWritable && !options.skipLoad && store.needsMigrationCheckpoint {
        try await store.checkpoint(reason: .migration)
      }
      return store
    } catch {
      // Leave nothing behind: a fresh store that failed removed its own files; the lock.
      if lockTaken { try? await backend.releaseLock(".lock") }
      try? await backend.shutdown()
      throw error
    }
  }

  /// Whether the stored records were of an older version and must be rewritten at once.
  var needsMigrationCheckpoint: Bool { state.withLock { $0.manifest.version < options.version } }

  static func createFresh(
    _ location: String, options: StoreOptions, backend: any StorageBackend, strategy: any LogStrategy
  ) async throws -> Store<Record> {
    let milliseconds = ISOTime.nowMilliseconds()
    let walPath = strategy.newWALPath(milliseconds: milliseconds)
    let manifest = try await backend.createEmptyStore(
      options: options, milliseconds: milliseconds, walPath: walPath, agent: nil)
    let state = StoreState<Record>(manifest: manifest, walPath: walPath, walLength: 0)
    return Store(location: location, options: options, backend: backend, strategy: strategy, state: state)
  }

  /// ``openExisting(_:manifest:options:backend:strategy:)``, refusing a newer version. A reader
  /// holds no lock, so the writer may checkpoint twice while it loads and remove the files it
  /// is reading (``StoreOptions/retainedGenerations``): a read-only open that finds a file
  /// gone starts again from the newer manifest. An unchanged manifest means the file is really
  /// missing, and the error stands.
  static func openExistingFollowingReplacements(
    _ location: String, manifest: ManifestInfo, options: StoreOptions, backend: any StorageBackend,
    strategy: any LogStrategy
  ) async throws -> Store<Record> {
    var manifest = manifest
    var attempts = 0
    while true {
      // A newer application wrote it: an older one would misread or drop what it does not
      // know, so it is not opened in any mode and nothing is written.
      if manifest.version > options.version {
        throw OpsLogError.versionTooNew(stored: manifest.version, supported: options.version)
      }
      do {
        return try await openExisting(
          location, manifest: manifest, options: options, backend: backend, strategy: strategy)
      } catch let error as OpsLogError where options.readOnly && error.isMissingFile && attempts < 10 {
        attempts += 1
        guard let newer = try await backend.readManifest(),
          newer.currentSnapshot != manifest.currentSnapshot || newer.activeOps != manifest.activeOps
        else { throw error }
        manifest = newer
      }
    }
  }

  static func openExisting(
    _ location: String, manifest: ManifestInfo, options: StoreOptions, backend: any StorageBackend,
    strategy: any LogStrategy
  ) async throws -> Store<Record> {
    let follows = followsSingleWriter(options: options, strategy: strategy)
    let logger = options.storeLogger(location: location)
    let token = follows ? try await backend.manifestChangeToken() : nil
    let walPath = manifest.activeOps
    if options.skipLoad {
      // Nothing is loaded: new operations are appended after whatever the WAL holds, which is
      // the single-writer layout whatever strategy opened the store.
      try SingleWriterLog.checkLayout(manifest)
      // A writer cuts a torn last line or an incomplete batch off, so that a new line is never
      // read as part of it; a reader starts following after the last complete unit, so that
      // it reads the rest once it is complete instead of from its middle. Finding where a
      // batch starts takes reading the WAL: O(WAL), like an open that loads.
      let wal = try await backend.readWAL(walPath, logger: logger)
      let walLength =
        options.readOnly
        ? wal.consumedThrough
        : try await WALRepair.cutTornTail(
          walPath, read: wal, backend: backend, durability: options.durability, logger: logger)
      var state = StoreState<Record>(manifest: manifest, walPath: walPath, walLength: walLength)
      state.manifestToken = token
      // Nothing was applied: the cursor knows no line to check, only where to read on.
      if follows { state.follow(to: FollowCursor(generation: LogGeneration(manifest), offset: walLength)) }
      return Store(location: location, options: options, backend: backend, strategy: strategy, state: state)
    }

    var load = try await strategy.load(manifest: manifest, backend: backend, options: options, logger: logger)
    let lineHashes = follows ? load.lines.map(\.hash) : []
    let cursor = follows ? FollowCursor(loadedFrom: load) : nil
    let loader = try await StateLoader<Record>.load(&load, options: options, backend: backend)
    var state = StoreState<Record>(manifest: load.manifest, walPath: load.appendPath, walLength: load.appendLength)
    try loader.finish(into: &state)
    state.manifestToken = token
    state.tailLineHashes = lineHashes
    if let cursor { state.follow(to: cursor) }
    state.noteFollowedLoad(load)
    if load.malformedLines > 0 {
      logger.warning(
        "skipped malformed WAL lines on open",
        metadata: ["path": "\(load.appendPath)", "count": "\(load.malformedLines)"])
    }
    return Store(location: location, options: options, backend: backend, strategy: strategy, state: state)
  }
}

@_spi(LogStrategy)
extension StorageBackend {
  /// Writes a new, empty store: a snapshot holding only its header, an empty WAL at `walPath`
  /// and the manifest naming them (with `agent` registered on the WAL for a multi-writer
  /// store). Each file is replaced atomically. Returns the manifest.
  ///
  /// When any step fails, the files already written are removed, so a failed open leaves
  /// nothing behind, and the error is thrown.
  public func createEmptyStore(options: StoreOptions, milliseconds: Int64, walPath: String, agent: String?)
    async throws -> ManifestInfo
  {
    let now = ISOTime.string(millisecondsSince1970: milliseconds)
    let snapshotPath =
      "snapshots/"
      + SnapshotFormat.fileName(timestampMilliseconds: milliseconds, compression: options.snapshotCompression)
    var manifest = ManifestInfo(
      version: options.version, currentSnapshot: snapshotPath, activeOps: walPath, archiveSegments: [],
      stats: ManifestStats(activeRecords: 0, archivedRecords: 0, opsCount: 0, created: now, lastCheckpoint: now))
    if let agent { manifest.activeAgentOps = [(agent: agent, path: walPath)] }
    var written: [String] = []
    do {
      var header: [UInt8]? = SnapshotFormat.headerLine(SnapshotHeader(version: options.version, timestamp: now))
      written.append(snapshotPath)
      try await writeSnapshot(snapshotPath, compression: options.snapshotCompression) {
        defer { header = nil }
        return header
      }
      written.append(walPath)
      try await create(walPath, durability: options.durability)
      written.append(ManifestCodec.fileName)
      try await writeManifest(manifest)
      return manifest
    } catch {
      for path in written.reversed() { try? await remove(path) }
      throw error
    }
  }
}
