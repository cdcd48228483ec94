import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Moves the records for which `isIncluded(record, id)` is true out of the active state
  /// into the archive segment `archive/archive-<segment>.json`, then checkpoints.
  ///
  /// Archiving into an existing segment merges: records already there stay, new ones are
  /// added, one with the same ID is replaced. The default segment is the current quarter in
  /// UTC, `YYYY-Qn`. The segment is written before the records leave the active state, so a
  /// crash in between leaves them in both places, never in neither. Undo does not cross an
  /// archive.
  ///
  /// - Returns: how many records were archived (0: nothing was written).
  /// - Throws: ``OpsLogError/invalidArgument(_:)`` for a segment name unsafe in a file name,
  ///   ``OpsLogError/unsupported(_:)`` with `skipLoad`, and the errors of ``compact()``.
  @discardableResult
  public func archive(segment: String? = nil, where isIncluded: (Record, _ id: String) throws -> Bool) async throws
    -> Int
  {
    if options.skipLoad {
      throw OpsLogError.unsupported("archive() needs the whole state, and a skipLoad store loaded none of it")
    }
    let period = segment ?? ISOTime.currentQuarter()
    let path = "archive/" + (try ArchiveCodec.fileName(period: period))
    await checkpointLock.lock()
    defer { checkpointLock.unlock() }
    var archived = 0
    do {
      await mutationLock.lock()
      defer { mutationLock.unlock() }
      let table = try state.withLock { state in
        try state.checkMutable(readOnly: options.readOnly)
        return state.table
      }
      var records = JSONObject()
      var ids: [String] = []
      try table.forEach { id, record in
        if try isIncluded(record, id) {
          records[id] = try encoder.encode(record)
          ids.append(id)
        }
      }
      guard !ids.isEmpty else { return 0 }
      try await writeQueued()
      try await backend.writeArchiveSegment(
        ArchiveSegment(period: period, timestamp: ISOTime.now(), records: records), to: path)
      state.withLock { state in
        for id in ids { state.table.remove(id) }
        state.journal.removeAll()
      }
      archived = ids.count
    }
    try await checkpointHoldingLock(reason: .archive(path: path, count: archived))
    return archived
  }

  /// The records of an archive segment, by ID. `segment` is a period (`"2025-Q4"`) or a path
  /// as ``archiveSegments()`` lists it (`"archive/archive-2025-Q4.json"`).
  ///
  /// - Throws: ``OpsLogError/archiveSegmentNotFound(_:)`` when it does not exist,
  ///   ``OpsLogError/corrupted(path:reason:)`` when it is damaged.
  public func loadArchive(_ segment: String) async throws -> [String: Record] {
    try state.withLock { state in if state.isClosed { throw OpsLogError.closed } }
    let path = segment.contains("/") ? segment : "archive/" + (try ArchiveCodec.fileName(period: segment))
    let stored: ArchiveSegment?
    do {
      stored = try await backend.readArchiveSegment(path)
    } catch OpsLogError.invalidArgument {
      throw OpsLogError.archiveSegmentNotFound(segment)
    }
    guard let stored else { throw OpsLogError.archiveSegmentNotFound(segment) }
    var records: [String: Record] = [:]
    records.reserveCapacity(stored.records.count)
    for (id, value) in stored.records { records[id] = try decodeRecord(value, id: id, path: path) }
    return records
  }
}
