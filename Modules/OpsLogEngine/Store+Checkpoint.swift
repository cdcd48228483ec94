import Logging
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

/// Why a checkpoint runs; the threshold one is skipped when another got there first.
enum CheckpointReason: Sendable {
  case threshold, explicit, close, migration
  case archive(path: String, count: Int)
}

extension Store {
  /// Writes a new snapshot of the whole state and starts a new, empty WAL, then points the
  /// manifest at both. Waits for a checkpoint already running. Operations before it can no
  /// longer be undone.
  ///
  /// - Complexity: O(n), n the number of records: the whole state is encoded and written;
  ///   writes go on meanwhile and wait only for the two short switches.
  /// - Throws: `OpsLogError.unsupported(_:)` with `skipLoad` (the snapshot would hold only
  ///   what this process wrote), `OpsLogError.readOnly`, `OpsLogError.closed`, or the
  ///   write's error, in which case the previous snapshot and WAL stay current.
  public func compact() async throws {
    if options.skipLoad {
      throw OpsLogError.unsupported("compact() needs the whole state, and a skipLoad store loaded none of it")
    }
    try state.withLock { try $0.checkMutable(readOnly: options.readOnly) }
    try await checkpoint(reason: .explicit)
  }

  /// The background checkpoint a write started when the threshold was reached. When writes
  /// reached the threshold again while it ran, the next one follows at once, so the WAL never
  /// stays over the threshold once the writes stop.
  func checkpointInBackground() async {
    while true {
      do {
        try await checkpoint(reason: .threshold)
      } catch {
        // The WAL still holds everything: nothing is lost, the next checkpoint tries again.
        logger.warning("a background checkpoint failed", metadata: ["error": "\(error)"])
        state.withLock { $0.checkpointRunning = false }
        return
      }
      let again = state.withLock { state -> Bool in
        state.checkpointRunning = false
        return state.claimThresholdCheckpoint(options: options)
      }
      if !again { return }
    }
  }

  /// A checkpoint that does not hold writers up while the snapshot is written:
  /// 1. the cut: under the mutation lock, a copy of the state (copy-on-write, O(1)) and the
  ///    WAL length it corresponds to;
  /// 2. the snapshot is written from that copy while writes go on into the current WAL;
  /// 3. under the mutation lock again, the WAL lines written after the cut are carried into
  ///    a new WAL, and the manifest is replaced to name the new snapshot and WAL.
  /// A crash at any point leaves the old manifest, whose snapshot and WAL hold everything, or
  /// the new one. Memory changes only once the manifest is written: a failure at any step
  /// leaves the state, its history and its undo as they were.
  func checkpoint(reason: CheckpointReason) async throws {
    await checkpointLock.lock()
    defer { checkpointLock.unlock() }
    try await checkpointHoldingLock(reason: reason)
  }

  /// ``checkpoint(reason:)`` for a caller that holds `checkpointLock` already.
  ///
  /// - Returns: whether the checkpoint ran (`false`: another writer is compacting).
  @discardableResult
  func checkpointHoldingLock(
    reason: CheckpointReason, plan: CheckpointPlan = CheckpointPlan(),
    beforeCut: (@Sendable () async throws -> Void)? = nil
  ) async throws -> Bool {
    // Another writer compacting at the same time makes this one unnecessary.
    guard let session = try await strategy.beginCheckpoint(backend: backend, logger: logger) else { return false }
    do {
      try await beforeCut?()
      try await checkpointAsSoleCompactor(reason: reason, plan: plan, session: session)
    } catch {
      await session.finish(backend: backend)
      throw error
    }
    await session.finish(backend: backend)
    return true
  }

  func checkpointAsSoleCompactor(
    reason: CheckpointReason, plan: CheckpointPlan, session: any CheckpointSession
  ) async throws {
    // 1. The cut.
    if !plan.holdsMutationLock { await mutationLock.lock() }
    let cut: Cut?
    do {
      defer { if !plan.holdsMutationLock { mutationLock.unlock() } }
      // Every queued line must be counted in the cut's WAL length: write them first.
      try await writeQueued()
      // Other writers' operations not seen yet belong in the snapshot too.
      _ = try await followOtherWriters()
      session.cut()
      cut = try state.withLock { state -> Cut? in
        if state.isClosed { throw OpsLogError.closed }
        if case .threshold = reason, state.operationsSinceCheckpoint < options.checkpointThreshold { return nil }
        if case .close = reason, state.operationsSinceCheckpoint == 0, state.manifest.version == options.version {
          return nil
        }
        var table = state.table
        var storedForms = state.storedForms
        for id in plan.removing {
          table.remove(id)
          if !storedForms.isEmpty { storedForms[ExactString(id)] = nil }
        }
        // The journal stays until the manifest is written: its entries up to here are in the
        // snapshot, so undo may not take them back meanwhile, but a failure makes them
        // undoable again.
        state.journalFloor = state.journal.count
        return Cut(
          table: table, storedForms: storedForms, walPath: state.walPath, walLength: state.walLength,
          manifest: state.manifest,
          journalCount: state.journal.count, operationCount: state.operationsSinceCheckpoint)
      }
    }
    guard let cut else { return }
    do {
      try await writeCheckpoint(cut, reason: reason, plan: plan, session: session)
    } catch {
      state.withLock { state in
        if state.journalFloor == cut.journalCount { state.journalFloor = 0 }
      }
      throw error
    }
  }

  /// Steps 2 and 3 of ``checkpoint(reason:)``, from the cut.
  private func writeCheckpoint(
    _ cut: Cut, reason: CheckpointReason, plan: CheckpointPlan, session: any CheckpointSession
  ) async throws {
    // 2. The snapshot, from the copy.
    let milliseconds = nextFileMilliseconds(after: cut.manifest)
    let timestamp = ISOTime.string(millisecondsSince1970: ISOTime.nowMilliseconds())
    let snapshotPath =
      "snapshots/"
      + SnapshotFormat.fileName(timestampMilliseconds: milliseconds, compression: options.snapshotCompression)
    let walPath = strategy.newWALPath(milliseconds: milliseconds)
    do {
      try await writeSnapshot(cut.table, storedForms: cut.storedForms, to: snapshotPath, timestamp: timestamp)
    } catch {
      try? await backend.remove(snapshotPath)
      throw error
    }

    // 3. Carry the lines written since the cut into the new WAL and switch the manifest.
    if !plan.holdsMutationLock { await mutationLock.lock() }
    defer { if !plan.holdsMutationLock { mutationLock.unlock() } }
    do {
      try await writeQueued()
      let (currentLength, operationCount) = state.withLock { ($0.walLength, $0.operationsSinceCheckpoint) }
      var carried: [UInt8] = []
      if currentLength > cut.walLength {
        carried = try await backend.read(cut.walPath, offset: cut.walLength, length: currentLength - cut.walLength)
      }
      try await backend.create(walPath, durability: options.durability)
      if !carried.isEmpty { try await backend.append(walPath, carried, durability: options.durability) }
      var manifest = cut.manifest
      manifest.version = options.version
      manifest.currentSnapshot = snapshotPath
      manifest.activeOps = walPath
      if case .archive(let path, let count) = reason {
        if !manifest.archiveSegments.contains(path) { manifest.archiveSegments.append(path) }
        manifest.stats.archivedRecords += count
      }
      manifest.stats.activeRecords = cut.table.count
      manifest.stats.opsCount = max(0, operationCount - cut.operationCount)
      manifest.stats.lastCheckpoint = timestamp
      manifest = try await session.writeManifest(manifest, newWALPath: walPath, backend: backend)
      // Only a single writer removes files: another agent may be loading any recent
      // generation at any moment, and it holds no lock that says so.
      let removesGenerations = strategy.capabilities.contains(.exclusiveWriter)
      let retired = state.withLock { state -> [String] in
        state.finishCheckpoint(cut, manifest: manifest, walPath: walPath, carriedLength: carried.count, plan: plan)
        guard removesGenerations else { return [] }
        state.retiredGenerations.append([cut.manifest.currentSnapshot, cut.walPath])
        guard let keep = options.retainedGenerations, state.retiredGenerations.count > keep else { return [] }
        let expired = state.retiredGenerations.prefix(state.retiredGenerations.count - keep)
        state.retiredGenerations.removeFirst(expired.count)
        return expired.flatMap { $0 }
      }
      for path in retired { try? await backend.remove(path) }
    } catch {
      try? await backend.remove(walPath)
      try? await backend.remove(snapshotPath)
      throw error
    }
  }

  /// Picks up the generations earlier sessions superseded, so that
  /// ``StoreOptions/retainedGenerations`` bounds the files on disk across reopens too, not only
  /// within one session: the newest `retainedGenerations` of them become this session's
  /// retired generations (removed by later checkpoints as they expire), and older ones are
  /// removed now.
  ///
  /// A generation is a snapshot older than the current one with the single-writer WALs
  /// (`ops/ops-<ms>.jsonl`) written from its time until the next snapshot's. Files that are
  /// newer than the current snapshot (left by a checkpoint that failed before its manifest),
  /// temporary files, agent WALs and archive segments are never touched. A writable
  /// single-writer open calls it while it holds the lock; a failure to list or remove only
  /// leaves files behind.
  func adoptEarlierGenerations() async {
    guard let keep = options.retainedGenerations else { return }
    let manifest = state.withLock { $0.manifest }
    guard let currentTime = StoreFileName.milliseconds(of: manifest.currentSnapshot) else { return }
    let named: Set<String> = [manifest.currentSnapshot, manifest.activeOps]
    do {
      func older(_ paths: [String]) -> [(time: Int64, path: String)] {
        paths.filter { !named.contains($0) && !StoreFileName.isTemporary($0) }
          .compactMap { path in StoreFileName.milliseconds(of: path).map { (time: $0, path: path) } }
          .filter { $0.time < currentTime }.sorted { $0.time < $1.time }
      }
      let snapshots = older(
        try await backend.list("snapshots").filter { $0.hasPrefix("snap-") }.map { "snapshots/" + $0 })
      let wals = older(try await backend.listWALFiles().filter { $0.hasPrefix("ops/ops-") })
      guard !snapshots.isEmpty || !wals.isEmpty else { return }
      // Oldest first; WALs older than every older snapshot join the oldest generation.
      var generations: [[String]] = snapshots.map { [$0.path] }
      if generations.isEmpty { generations = [[]] }
      for wal in wals {
        let index = snapshots.lastIndex { $0.time <= wal.time } ?? 0
        generations[index].append(wal.path)
      }
      let expired = generations.count > keep ? generations.prefix(generations.count - keep).flatMap { $0 } : []
      let kept = Array(generations.suffix(min(keep, generations.count)))
      state.withLock { $0.retiredGenerations = kept + $0.retiredGenerations }
      for path in expired { try? await backend.remove(path) }
      if !expired.isEmpty {
        logger.debug("removed superseded generations", metadata: ["files": "\(expired.count)"])
      }
    } catch {
      logger.warning("could not list superseded generations; they stay on disk", metadata: ["error": "\(error)"])
    }
  }

  /// What a checkpoint does beyond writing the state as it is.
  struct CheckpointPlan: Sendable {
    /// IDs that leave the state with this checkpoint (archive): the snapshot is written
    /// without them, and memory drops them once the manifest is written.
    var removing: [String] = []
    /// Whether the caller holds the mutation lock for the whole checkpoint (archive: no write
    /// may come between its records leaving and the manifest naming the new base).
    var holdsMutationLock = false
  }

  struct Cut: Sendable {
    var table: RecordTable<Record>
    /// The stored JSON of records with fields `Record` does not decode, written as it is.
    var storedForms: [ExactString: StoredForm]
    var walPath: String
    var walLength: Int
    var manifest: ManifestInfo
    /// Journal entries and operations counted at the cut: the ones the snapshot holds.
    var journalCount: Int
    var operationCount: Int
  }

  /// File names carry milliseconds; two checkpoints in one millisecond must not collide.
  func nextFileMilliseconds(after manifest: ManifestInfo) -> Int64 {
    var milliseconds = ISOTime.nowMilliseconds()
    for path in [manifest.currentSnapshot, manifest.activeOps] {
      let digits = path.split(separator: "/").last.map { name in
        name.drop { !$0.isNumber }.prefix { $0.isNumber }
      }
      if let digits, let previous = Int64(digits), previous >= milliseconds { milliseconds = previous + 1 }
    }
    return milliseconds
  }

  /// Streams the snapshot: one header line, then one line per record in order, encoded in
  /// chunks on the backend's I/O thread so the whole file is never one buffer. Each chunk's
  /// records are encoded in parts on every core at once (``ParallelWork``: encoding is the cost
  /// of a checkpoint), then joined in order.
  ///
  /// A record with a ``StoredForm`` (fields `Record` does not decode) is written as stored,
  /// byte for byte, never re-encoded without them.
  func writeSnapshot(
    _ table: RecordTable<Record>, storedForms: [ExactString: StoredForm] = [:], to path: String, timestamp: String
  ) async throws {
    let header = SnapshotFormat.headerLine(SnapshotHeader(version: options.version, timestamp: timestamp))
    let encoder = self.encoder
    var slotIndex = 0
    var headerWritten = false
    let slotsPerChunk = 8_192
    try await backend.writeSnapshot(path, compression: options.snapshotCompression) {
      let slots = table.slots
      var chunk: [UInt8] = []
      if !headerWritten {
        chunk = header
        headerWritten = true
      }
      guard slotIndex < slots.count else { return chunk.isEmpty ? nil : chunk }
      let start = slotIndex
      let end = min(slots.count, slotIndex + slotsPerChunk)
      slotIndex = end
      // The producer runs on the backend's I/O thread (or, in memory, inline), not as a task, so
      // it uses the blocking form.
      let parts = try ParallelWork.mapBlocking(end - start, minimumPartSize: 512) { part in
        var writer = JSONWriter(reservingCapacity: part.count * 256)
        try table.forEachRecordLent(in: (start + part.lowerBound)..<(start + part.upperBound)) { id, record in
          if !storedForms.isEmpty, let stored = storedForms[ExactString(id)] {
            SnapshotFormat.writeRecordLine(into: &writer, id: id, data: stored.bytes)
            return
          }
          try SnapshotFormat.writeRecordLine(into: &writer, id: id, record: record, encoder: encoder)
        }
        return writer.bytes
      }
      for part in parts { chunk.append(contentsOf: part) }
      return chunk
    }
  }
}

extension StoreState where Record: Codable {
  /// The checkpoint's manifest is written: the state switches to the new base. The journal
  /// entries the snapshot holds are dropped; the later ones, whose lines were carried into the
  /// new WAL, keep their place in it.
  mutating func finishCheckpoint(
    _ cut: Store<Record>.Cut, manifest: ManifestInfo, walPath: String, carriedLength: Int,
    plan: Store<Record>.CheckpointPlan
  ) {
    for id in plan.removing {
      table.remove(id)
      if !storedForms.isEmpty { storedForms[ExactString(id)] = nil }
    }
    // Records that left with an archive left without operations.
    if !plan.removing.isEmpty { feed.publish(.reloaded) }
    if journalFloor == cut.journalCount && !plan.holdsMutationLock {
      journal.removeFirst(cut.journalCount)
      for index in journal.indices where journal[index].offset >= 0 {
        journal[index].offset -= cut.walLength
      }
      operationsSinceCheckpoint = max(0, operationsSinceCheckpoint - cut.operationCount)
    } else {
      // A reload replaced the journal meanwhile, or records left with an archive: history
      // starts afresh with the new base.
      journal.removeAll(keepingCapacity: true)
      operationsSinceCheckpoint = 0
    }
    journalFloor = 0
    // Snapshot lines carry no clocks: the operations after the new base apply over it
    // whatever their clocks, so only their stamps still compete.
    merge.rebuild(from: journal)
    if journal.isEmpty && table.holeCount > table.count { table.compact() }
    self.manifest = manifest
    self.walPath = walPath
    walLength = carriedLength
  }
}

extension RecordTable {
  /// Calls `body` with the ID and record of each slot in `range` that holds one, in order,
  /// the record lent in place for `body` to read (encode) and never to change.
  ///
  /// For the snapshot writer, which is not specialized for `Record`: there the array's
  /// getter, `if let`, `unsafelyUnwrapped`, and handing a record read through a pointer to a
  /// closure each copied the entry or the record (a retain and a release per reference it
  /// holds, 8 % of a `compact`). Only an `inout` argument reaches `body` without a copy, so the
  /// slot's address is passed as one; nothing writes through it, which matters because the
  /// table's storage is shared with the store's live state (copy-on-write).
  fileprivate func forEachRecordLent(in range: Range<Int>, _ body: (String, inout Record) throws -> Void) rethrows {
    // An optional's payload starts at the optional's own address (a single-payload enum's
    // layout), so the record is read through the slot's `Record?`.
    let recordOffset = MemoryLayout<Entry>.offset(of: \Entry.record)!
    try slots.withUnsafeBufferPointer { slots in
      // A slot without a record is a hole, whose ID is empty; a record's ID never is.
      for index in range where !slots[index].id.isEmpty {
        assert(slots[index].record != nil, "a slot with an ID holds a record")
        let entry = UnsafeMutableRawPointer(mutating: slots.baseAddress.unsafelyUnwrapped + index)
        try (entry + recordOffset).withMemoryRebound(to: Record.self, capacity: 1) { record in
          try body(slots[index].id, &record.pointee)
        }
      }
    }
  }
}
