import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// Builds the in-memory state from a snapshot and a WAL.
///
/// When migrating, records stay JSON until the whole stored state is replayed, then each goes
/// through `migrate` and is decoded; otherwise they are decoded as they are read.
final class StateLoader<Record: Codable & Sendable> {
  let decoder: RecordDecoder
  let migrating: Bool
  let storedVersion: Int
  let options: StoreOptions
  var table = RecordTable<Record>()
  /// See ``StoreState/storedForms``.
  var storedForms: [ExactString: StoredForm] = [:]
  var jsonTable = RecordTable<JSONValue>()
  var journal = ChunkedArray<JournalEntry<Record>>()
  var snapshotPath = ""

  init(storedVersion: Int, options: StoreOptions) {
    self.decoder = RecordDecoder()
    self.migrating = storedVersion < options.version
    self.storedVersion = storedVersion
    self.options = options
  }

  /// Loads `load.manifest`'s snapshot and replays `load.lines` over it, ready for
  /// ``finish(into:)``: the one way a store's state is built from disk, on open and on reload.
  ///
  /// Takes the lines out of `load` (it is left with none), so that they are freed once their
  /// operations are decoded, and the operations as they are replayed, instead of living on
  /// beside the snapshot as it loads and the loaded state until the caller returns (at
  /// 200,000 records and 20,000 WAL operations, 10 MB of an open's peak memory: the lines'
  /// byte slices keep the whole WAL read alive).
  static func load(_ load: inout LogLoad, options: StoreOptions, backend: any StorageBackend) async throws
    -> StateLoader
  {
    let loader = StateLoader(storedVersion: load.manifest.version, options: options)
    var lines = load.lines
    load.lines = []
    let snapshot = load.manifest.currentSnapshot
    let expectedRecords = load.manifest.stats.activeRecords
    if loader.migrating {
      try await loader.loadSnapshot(snapshot, backend: backend, expectedRecords: expectedRecords)
      loader.replayStoredJSON(lines)
      return loader
    }
    let lineShapes = lines.map { LineShape(length: $0.length, offset: $0.offset, unitSize: $0.unitSize) }
    // The WAL's records are decoded while the snapshot loads, on whatever the snapshot's
    // sequential steps leave of the two cores. A damaged snapshot still fails the load
    // first, as it did when the WAL was decoded after it.
    try await withThrowingTaskGroup(of: [[DecodedOperation<Record>]].self) { group in
      let (walPath, decoder) = (load.appendPath, loader.decoder)
      group.addTask(executorPreference: globalConcurrentExecutor) { [lines] in
        try await decodeOperations(lines, path: walPath, decoder: decoder)
      }
      // The decoding task holds the only reference from here on: the lines (and the WAL's
      // bytes, which their slices share) are freed once their operations are decoded,
      // instead of living beside the snapshot as it loads.
      lines = []
      try await loader.loadSnapshot(snapshot, backend: backend, expectedRecords: expectedRecords)
      // A task group, not `async let`: the decoded operations are handed over here and freed
      // part by part as they are replayed, where an `async let` would keep them (and the
      // lines) until this function returns, beside the whole loaded state.
      if let parts = try await group.next() { loader.replay(parts, lineShapes: lineShapes) }
    }
    return loader
  }

  /// - Parameter expectedRecords: the manifest's record count, a hint to size the table
  ///   once instead of growing and rehashing it.
  func loadSnapshot(_ path: String, backend: any StorageBackend, expectedRecords: Int = 0) async throws {
    snapshotPath = path
    let capacity = min(max(expectedRecords, 0), 50_000_000)
    if migrating {
      jsonTable = RecordTable(minimumCapacity: capacity)
      _ = try await backend.loadSnapshot(path, validatingRecordData: false) { record in
        let value: JSONValue
        do {
          value = try JSONValue(parsing: record.data)
        } catch {
          throw OpsLogError.corrupted(path: path, reason: "record \"\(record.id)\": \(error)")
        }
        jsonTable.set(record.id, value)
      }
      return
    }
    table = RecordTable(minimumCapacity: capacity)
    guard try await backend.size(of: path) != nil else {
      throw OpsLogError.corrupted(path: path, reason: "the snapshot the manifest names does not exist")
    }
    // Records are collected a chunk at a time and decoded on both cores; each record's bytes
    // are parsed once, by the strict decoder, not validated beforehand. Reading and splitting
    // a chunk and inserting records are sequential: they run while the chunk before is being
    // decoded, so that neither core waits for them.
    var chunks = SnapshotChunks(path: path, chunkSize: 1 << 18, validatingRecordData: false)
    try await withThrowingTaskGroup(of: DecodedPart.self) { group in
      var batches = Batches()
      // A reading error comes after the decoding errors of the records before it, as it did
      // when each chunk was decoded before the next was read.
      var readingError: (any Error)? = nil
      do {
        while let records = try await chunks.next(from: backend) {
          var pending = PendingRecords()
          for record in records { pending.append(record) }
          submit(pending, path: path, to: &batches, group: &group)
          while batches.count > 1 { try await insertOldest(&batches, group: &group) }
        }
      } catch {
        readingError = error
      }
      while batches.count > 0 { try await insertOldest(&batches, group: &group) }
      if let readingError { throw readingError }
    }
  }

  /// One part of a chunk's records, decoded, or the error of the first that failed.
  struct DecodedPart: Sendable {
    var batch: Int
    var part: Int
    var records: Result<DecodedRecords, any Error>
  }

  /// Records decoded from a share of a chunk, and the stored forms of those whose JSON has
  /// fields `Record` does not decode (by their index in the share).
  struct DecodedRecords: Sendable {
    /// Optional only so that the table can take each record out (`Optional.take()`) without
    /// a copy: this code is not specialized for `Record`, and the reversal that let it pop
    /// records off the end instead swapped them through value witnesses, retaining and
    /// releasing every reference they hold (Benchmarks/PROFILE-NOTES.md, ninth session).
    var records: [Record?] = []
    var storedForms: [(index: Int, form: StoredForm)] = []
  }

  /// The chunks whose records are being decoded, oldest first.
  struct Batches {
    struct Batch {
      var ids: [String]
      var parts: [Result<DecodedRecords, any Error>?]
      var received = 0
    }
    var waiting: [Int: Batch] = [:]
    var oldest = 0
    var next = 0
    var count: Int { next - oldest }
  }

  /// Starts decoding `pending` in parts (``ParallelWork/parts(of:minimumPartSize:)``), one
  /// task each in the loader's group, so that the next chunk is read and the last one
  /// inserted while they run.
  func submit(
    _ pending: PendingRecords, path: String, to batches: inout Batches,
    group: inout ThrowingTaskGroup<DecodedPart, any Error>
  ) {
    guard !pending.ids.isEmpty else { return }
    let (ids, bytes, ends) = (pending.ids, pending.bytes, pending.ends)
    let parts = ParallelWork.parts(of: ids.count, minimumPartSize: 128)
    let batch = batches.next
    let decoder = self.decoder
    for (part, range) in parts.enumerated() {
      // On the global pool whatever the opening task prefers: a task running on a store's
      // I/O executor would otherwise decode on that one serial thread, holding up its I/O.
      group.addTask(executorPreference: globalConcurrentExecutor) {
        let records = Result {
          try StateLoader<Record>.decodeRecords(range, ids: ids, bytes: bytes, ends: ends, path: path, decoder: decoder)
        }
        return DecodedPart(batch: batch, part: part, records: records)
      }
    }
    batches.waiting[batch] = Batches.Batch(ids: ids, parts: Array(repeating: nil, count: parts.count))
    batches.next += 1
  }

  /// Decodes the records `range` of a chunk's pending records.
  static func decodeRecords(
    _ range: Range<Int>, ids: [String], bytes: [UInt8], ends: [Int], path: String, decoder: RecordDecoder
  ) throws -> DecodedRecords {
    var storedForms: [(index: Int, form: StoredForm)] = []
    // Written in place: `Array.append` is not specialized here either, and asked for the
    // array's type on every record.
    let records = try [Record?](unsafeUninitializedCapacity: range.count) { buffer, initialized in
      try bytes.withUnsafeBytes { raw in
        for index in range {
          let start = index == 0 ? 0 : ends[index - 1]
          let recordBytes = UnsafeRawBufferPointer(rebasing: raw[start..<ends[index]])
          // No `Store<Record>.decodeStored` and no `(Record, UnknownKeys?)` tuple here: in code
          // that is not specialized for `Record`, each is a run-time metadata lookup per record,
          // and with every core decoding they contend for the run time's cache.
          var unknown: UnknownKeys? = nil
          let record: Record
          do {
            record = try decoder.decodeNotingUnknownKeys(Record.self, from: recordBytes, unknownKeys: &unknown)
          } catch {
            throw storedDecodingError(error, type: Record.self, id: ids[index], path: path)
          }
          if let form = StoredForm.noting(unknown, bytes: recordBytes) { storedForms.append((initialized, form)) }
          // Consumed: without it the record would be copied (a retain per reference) and the
          // original destroyed.
          (buffer.baseAddress! + initialized).initialize(to: consume record)
          initialized += 1
        }
      }
    }
    return DecodedRecords(records: records, storedForms: storedForms)
  }

  /// Waits until the oldest batch is decoded and inserts its records in file order. A
  /// failure is that of its first record that fails.
  func insertOldest(_ batches: inout Batches, group: inout ThrowingTaskGroup<DecodedPart, any Error>) async throws {
    let oldest = batches.oldest
    while let batch = batches.waiting[oldest], batch.received < batch.parts.count {
      guard let decoded = try await group.next() else { break }
      batches.waiting[decoded.batch]?.parts[decoded.part] = decoded.records
      batches.waiting[decoded.batch]?.received += 1
    }
    guard let batch = batches.waiting.removeValue(forKey: oldest) else { return }
    // Before anything throws: a caller that goes on inserting after an error must find the
    // next batch, not wait for this one forever.
    batches.oldest += 1
    let ids = batch.ids
    var parts = try batch.parts.map { try $0?.get() ?? DecodedRecords() }
    var index = 0
    for part in parts.indices {
      // The records are moved into the table, not copied: a copy retained every reference a
      // record holds, and freeing the decoded array released them again (~8 % of an open).
      var records: [Record?] = []
      swap(&records, &parts[part].records)
      let count = records.count
      table.setAll(ids[index..<index + count], moving: &records)
      let forms = parts[part].storedForms
      if !forms.isEmpty || !storedForms.isEmpty {
        var remaining = forms[...]
        for position in 0..<count {
          let id = ids[index + position]
          if let form = remaining.first, form.index == position {
            storedForms[ExactString(id)] = form.form
            remaining.removeFirst()
          } else if !storedForms.isEmpty {
            // A repeated ID's later line replaces the earlier one, stored form included.
            storedForms[ExactString(id)] = nil
          }
        }
      }
      index += count
    }
  }

  /// Applies WAL lines over a snapshot that is to be migrated: as stored JSON, without a
  /// journal, because undo does not cross a migration.
  func replayStoredJSON(_ lines: [WALLine]) {
    for line in lines {
      let operation = line.encoded
      switch operation.kind {
      case .set: jsonTable.set(operation.id, operation.data?.value ?? .null)
      case .delete: jsonTable.remove(operation.id)
      }
    }
  }

  /// Applies the WAL's operations over the snapshot, in the parts
  /// ``decodeOperations(_:path:decoder:)`` made of them; `lineShapes` are their lines'.
  func replay(_ parts: consuming [[DecodedOperation<Record>]], lineShapes: [LineShape]) {
    var lineIndex = 0
    // What each operation leaves behind in its part when it is moved out; built once, as
    // building it looks up its generic type at run time.
    let placeholder = LogOperation<Record>(timestamp: "", kind: .delete, id: "", data: nil, previous: .none)
    for part in parts.indices {
      // Each part is freed once its operations are in the journal.
      var operations: [DecodedOperation<Record>] = []
      swap(&operations, &parts[part])
      // Each operation is read in place through the buffer and then moved into the journal:
      // this code is not specialized for `Record`, and both iterating by value and the array's
      // getter copied every operation (a retain per reference it holds), only for the array's
      // end to release the originals.
      operations.withUnsafeMutableBufferPointer { operations in
        // Each operation's bucket is prefetched well before its turn and its slot a little
        // before: replay touches records all over a large table, two cache misses each.
        var hashes: [UInt32] = []
        hashes.reserveCapacity(operations.count)
        for index in operations.indices { hashes.append(RecordTable<Record>.hash(operations[index].operation.id)) }
        for index in operations.indices {
          if index + 16 < hashes.count { table.prefetchBucket(for: hashes[index + 16]) }
          if index + 8 < hashes.count { table.prefetchEntry(for: hashes[index + 8]) }
          let line = lineShapes[lineIndex]
          lineIndex += 1
          var operation = placeholder
          swap(&operation, &operations[index].operation)
          // Sequence 0: the line is in the WAL already, below every sequence the commit
          // pipeline hands out, so a reload never has to renumber anything.
          var previous: Record? = nil
          guard let slot = table.apply(operation, hash: hashes[index], previous: &previous) else {
            // A set without a record changes nothing, but it stays in the history, so that a
            // batch it belongs to is still undone whole.
            journal.append(
              JournalEntry(
                operation: consume operation, previousRecord: nil, slot: -1, lineLength: line.length,
                offset: line.offset, unitSize: line.unitSize, sequence: 0, applied: false))
            continue
          }
          let storedBefore = StoredForm.note(
            operation, dataForm: operations[index].dataForm, in: &storedForms)
          journal.append(
            JournalEntry(
              operation: consume operation, previousRecord: consume previous, slot: slot, lineLength: line.length,
              offset: line.offset, unitSize: line.unitSize, sequence: 0, storedBefore: storedBefore))
        }
      }
    }
  }

  /// Decodes the records of `lines` on every core: the operations in order, in parts. A
  /// failure is that of the first line that fails, as if they were decoded one by one.
  static func decodeOperations(_ lines: [WALLine], path: String, decoder: RecordDecoder) async throws
    -> [[DecodedOperation<Record>]]
  {
    try await ParallelWork.map(lines.count, minimumPartSize: 128) { range in
      // Each result is written in place, and the store's type is looked up once: in code that
      // is not specialized for `Record`, `Array.append` asked for the result array's type on
      // every line, and so did naming `Store<Record>` for every call.
      let store = Store<Record>.self
      return try [DecodedOperation<Record>](unsafeUninitializedCapacity: range.count) { operations, initialized in
        for index in range {
          (operations.baseAddress! + initialized).initialize(
            to: try store.decodeOperationNotingUnknownKeys(lines[index].encoded, path: path, decoder: decoder))
          initialized += 1
        }
      }
    }
  }

  func finish(into state: inout StoreState<Record>) throws {
    if migrating {
      guard let migrate = options.migrate else {
        throw OpsLogError.migrationFailed(
          id: "",
          reason:
            "the store holds version \(storedVersion) records and no migrate function was given for version \(options.version)"
        )
      }
      var migrated = RecordTable<Record>(minimumCapacity: jsonTable.count)
      try jsonTable.forEach { id, value in
        let upgraded: JSONValue
        do {
          upgraded = try migrate(value, storedVersion)
        } catch {
          throw OpsLogError.migrationFailed(id: id, reason: "\(error)")
        }
        do {
          migrated.set(id, try decoder.decode(Record.self, from: upgraded))
        } catch {
          throw OpsLogError.migrationFailed(
            id: id, reason: "the migrated record does not decode as \(Record.self): \(error)")
        }
      }
      state.table = migrated
      state.storedForms = [:]
      state.journal = ChunkedArray()
      state.operationsSinceCheckpoint = 0
      return
    }
    state.table = table
    state.storedForms = storedForms
    state.journal = journal
    state.merge.rebuild(from: journal)
    state.operationsSinceCheckpoint = journal.count
  }
}

// Not nested in the generic `StateLoader`: a type nested there is generic over `Record` too,
// even when it holds nothing of it, and its arrays and methods then asked the run time for
// their types on every record and every WAL line (the replay's `lineShapes[index]` through the
// run time's locking map for the standard library's prespecialized types).

/// Snapshot records read but not decoded yet: their IDs and their JSON bytes end to end.
struct PendingRecords {
  var ids: [String] = []
  var bytes: [UInt8] = []
  var ends: [Int] = []

  mutating func append(_ record: SnapshotRecord) {
    ids.append(record.id)
    bytes.append(contentsOf: record.data)
    ends.append(bytes.count)
  }
}

/// Where a WAL line is and which unit it belongs to: what its journal entry records.
struct LineShape: Sendable {
  var length: Int
  var offset: Int
  var unitSize: Int
}
