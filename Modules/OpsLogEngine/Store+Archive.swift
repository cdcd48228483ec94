import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Moves the records for which `isIncluded(record, id)` is true out of the active state
  /// into the archive segment `archive/archive-<segment>.json`, then checkpoints. With
  /// ``StoreOptions/snapshotCompression`` set to gzip, a new segment is written compressed,
  /// as `archive/archive-<segment>.json.gz`, at the same level as the snapshots.
  ///
  /// Archiving into an existing segment merges: records already there stay, new ones are
  /// added, one with the same ID is replaced. A segment the manifest already lists keeps its
  /// kind (plain or compressed) whatever the compression option says, so that a period never
  /// has two files. The default segment is the current quarter in
  /// UTC, `YYYY-Qn`. The segment is written before the records leave the active state, so a
  /// crash in between leaves them in both places, never in neither. The records leave memory
  /// only once the checkpoint's manifest is written: when any step fails, the store shows
  /// what a reopen shows (the records still active). Other writes wait while it runs. Undo
  /// does not cross an archive.
  ///
  /// `isIncluded` runs in the caller's isolation, so it may capture the caller's state.
  ///
  /// - Returns: how many records were archived (0: nothing was written).
  /// - Complexity: O(records in the store): the predicate sees every record, and the
  ///   checkpoint writes the whole state.
  /// - Throws: `OpsLogError.invalidArgument(_:)` for a segment name unsafe in a file name,
  ///   `OpsLogError.unsupported(_:)` with `skipLoad`, `OpsLogError.locked(holder:)` when
  ///   another agent is compacting a multi-writer store (nothing changed), and the errors of
  ///   ``compact()``.
  @discardableResult
  public func archive(
    segment: String? = nil, isolation: isolated (any Actor)? = #isolation,
    where isIncluded: (Record, _ id: String) throws -> Bool
  ) async throws -> Int {
    if options.skipLoad {
      throw OpsLogError.unsupported("archive() needs the whole state, and a skipLoad store loaded none of it")
    }
    let period = segment ?? ISOTime.currentQuarter()
    let plainPath = "archive/" + (try ArchiveCodec.fileName(period: period))
    let compressedPath = "archive/" + (try ArchiveCodec.fileName(period: period, compressed: true))
    await checkpointLock.lock()
    defer { checkpointLock.unlock() }
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    try await checkLogBeforeMutation()
    try await writeQueued()
    let (table, storedForms, listed) = try state.withLock { state in
      try state.checkMutable(readOnly: options.readOnly)
      return (state.table, state.storedForms, state.manifest.archiveSegments)
    }
    // A listed segment keeps its kind; a new one follows the snapshots' compression.
    let compression: SnapshotCompression
    switch (listed.contains(plainPath), listed.contains(compressedPath), options.snapshotCompression) {
    case (true, _, _), (false, false, .none): compression = .none
    case (false, _, .gzip): compression = options.snapshotCompression
    case (false, true, .none): compression = .gzip(level: 6)
    }
    let path = compression == SnapshotCompression.none ? plainPath : compressedPath
    var records = JSONObject()
    var ids: [String] = []
    try table.forEach { id, record in
      if try isIncluded(record, id) {
        // A record with fields the type does not know is archived as stored.
        if !storedForms.isEmpty, let stored = storedForms[ExactString(id)] {
          records[id] = try JSONValue(parsing: stored.bytes)
        } else {
          records[id] = try encoder.encode(record)
        }
        ids.append(id)
      }
    }
    guard !ids.isEmpty else { return 0 }
    let segmentRecords = records
    let plan = CheckpointPlan(removing: ids, holdsMutationLock: true)
    // The segment is written inside the checkpoint, once it is certain to run: an agent that
    // finds another compacting must not leave a segment naming records still active.
    let ran = try await checkpointHoldingLock(
      reason: .archive(path: path, count: ids.count), plan: plan,
      beforeCut: {
        try await self.backend.writeArchiveSegment(
          ArchiveSegment(period: period, timestamp: ISOTime.now(), records: segmentRecords), to: path,
          compression: compression)
      })
    guard ran else { throw OpsLogError.locked(holder: "another agent's compaction; archive again once it is done") }
    return ids.count
  }

  /// The records of an archive segment, by ID. `segment` is a period (`"2025-Q4"`) or a path
  /// as ``archiveSegments()`` lists it (`"archive/archive-2025-Q4.json"`). A period finds its
  /// segment plain or compressed (`archive-2025-Q4.json.gz`), the one the manifest lists
  /// first; either kind is read, recognized by its bytes.
  ///
  /// Records are keyed by Swift `String`, whose equality is Unicode canonical equivalence:
  /// two archived IDs that differ only in composition (`"é"` and `"e\u{301}"`, two records to
  /// the store) meet in one key, which holds the later one. ``loadArchiveEntries(_:)`` keeps
  /// both.
  ///
  /// - Complexity: O(records in the segment): the file is read and decoded whole.
  /// - Throws: `OpsLogError.archiveSegmentNotFound(_:)` when it does not exist,
  ///   `OpsLogError.corrupted(path:reason:)` when it is damaged or a compressed segment is
  ///   truncated.
  public func loadArchive(_ segment: String) async throws -> [String: Record] {
    let entries = try await loadArchiveEntries(segment)
    var records: [String: Record] = [:]
    records.reserveCapacity(entries.count)
    for (id, record) in entries { records[id] = record }
    return records
  }

  /// Every record of an archive segment with its ID, in the segment's order; the segment is
  /// found as ``loadArchive(_:)`` finds it.
  ///
  /// Unlike ``loadArchive(_:)``'s dictionary, this keeps IDs apart by their exact code points,
  /// as the store does, so nothing archived is hidden.
  ///
  /// - Complexity: O(records in the segment): the file is read and decoded whole.
  /// - Throws: the errors of ``loadArchive(_:)``.
  public func loadArchiveEntries(_ segment: String) async throws -> [(id: String, record: Record)] {
    let listed = try state.withLock { state in
      if state.isClosed { throw OpsLogError.closed }
      return state.manifest.archiveSegments
    }
    var candidates: [String]
    if segment.contains("/") {
      candidates = [segment]
    } else {
      do {
        candidates = [
          "archive/" + (try ArchiveCodec.fileName(period: segment)),
          "archive/" + (try ArchiveCodec.fileName(period: segment, compressed: true)),
        ]
      } catch OpsLogError.invalidArgument {
        throw OpsLogError.archiveSegmentNotFound(segment)
      }
      // The kind the manifest lists is read first.
      candidates.sort { listed.contains($0) && !listed.contains($1) }
    }
    var stored: ArchiveSegment? = nil
    var path = candidates[0]
    for candidate in candidates where stored == nil {
      do {
        stored = try await backend.readArchiveSegment(candidate)
        path = candidate
      } catch OpsLogError.invalidArgument {
        throw OpsLogError.archiveSegmentNotFound(segment)
      }
    }
    guard let stored else { throw OpsLogError.archiveSegmentNotFound(segment) }
    return try stored.records.map { id, value in (id, try decodeRecord(value, id: id, path: path)) }
  }
}
