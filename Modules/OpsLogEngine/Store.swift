import Logging
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// An embedded, event-sourced document store: every mutation is an operation appended to a
/// JSONL write-ahead log, and the state is the latest snapshot plus a replay of that log.
///
/// ```swift
/// struct Todo: Codable, Sendable { var title: String; var status: String }
/// let store = try await Store<Todo>.open("./data")
/// try await store.set("t1", Todo(title: "Write docs", status: "active"))
/// try await store.undo()
/// try await store.close()
/// ```
///
/// - Reads (`get`, `all`, `filter`, …) are synchronous and never wait for the disk: they see
///   every acknowledged write, and also writes still buffered in `.group` and `.async` modes.
/// - Writes (`set`, `delete`, `batch`, `undo`, …) take effect strictly in call order and return
///   once the promise of ``StoreOptions/writeMode`` and ``StoreOptions/durability`` holds.
/// - After ``close()`` every call throws `OpsLogError.closed`.
///
/// The files are exactly those of opslog 0.8.1 for Node (Docs/FORMAT.md), so either can open a
/// store the other wrote (gzip snapshots excepted).
public final class Store<Record: Codable & Sendable>: Sendable {
  @usableFromInline let options: StoreOptions
  let backend: any StorageBackend
  /// The log layout: single writer by default, agents above the engine (``LogStrategy``).
  let strategy: any LogStrategy
  /// Whether other writers append to the store at the same time (the strategy declares
  /// ``LogCapabilities/concurrentWriters``): then each mutation first merges what they wrote
  /// and is stamped with a Lamport clock.
  @usableFromInline let followsOtherWriters: Bool
  @usableFromInline let state: Mutex<StoreState<Record>>
  /// Serializes mutations in arrival order (see ``AsyncFIFOLock``).
  @usableFromInline let mutationLock = AsyncFIFOLock()
  /// Where the table's bucket array was after the last mutation (its address and index mask,
  /// ``RecordTable/bucketLocation``), read without the lock so that a set prefetches its
  /// bucket while it encodes the record.
  @usableFromInline let bucketBaseHint = Atomic<UInt>(0)
  @usableFromInline let bucketMaskHint = Atomic<UInt>(0)
  /// One checkpoint at a time.
  let checkpointLock = AsyncFIFOLock()
  @usableFromInline let encoder = RecordEncoder()
  let decoder = RecordDecoder()
  let logger: Logger
  /// The executor of the store's I/O thread, or `nil` when its backend has none (memory).
  ///
  /// A task that makes many writes in a row can run them with this executor preferred:
  ///
  /// ```swift
  /// try await withTaskExecutorPreference(store.taskExecutor) {
  ///   for (id, task) in imports { try await store.set(id, task) }
  /// }
  /// ```
  ///
  /// The task's code then runs on the I/O thread, so each write's system call happens where
  /// the task already is; on the default executor every ``WriteMode/immediate`` write hands
  /// its system call to the I/O thread and watches for the result (a few microseconds), and
  /// suspends only when the call is slow. Semantics are unchanged. Keep heavy computation out
  /// of such a task: while it runs, the store's other I/O waits.
  public var taskExecutor: (any TaskExecutor)? { backend.taskExecutor }

  /// Whether this store writes (not read-only).
  var isWritable: Bool { !options.readOnly }

  /// Whether ``tail()`` follows a single writer in another process, through the manifest's
  /// change token and the hashes of the WAL lines read; other stores never look at them.
  var followsSingleWriter: Bool { Self.followsSingleWriter(options: options, strategy: strategy) }

  static func followsSingleWriter(options: StoreOptions, strategy: any LogStrategy) -> Bool {
    options.readOnly && strategy.capabilities.contains(.exclusiveWriter)
  }

  init(
    location: String, options: StoreOptions, backend: any StorageBackend, strategy: any LogStrategy,
    state: StoreState<Record>
  ) {
    self.options = options
    self.backend = backend
    self.strategy = strategy
    self.followsOtherWriters = strategy.capabilities.contains(.concurrentWriters)
    var state = state
    state.merge = strategy.makeMergePolicy()
    state.merge.rebuild(from: state.journal)
    self.state = Mutex(state)
    self.logger = options.storeLogger(location: location)
  }

  // MARK: - Reads

  /// Throws ``OpsLogError/closed`` after `close()`.
  @inlinable
  func read<T>(_ body: (borrowing StoreState<Record>) throws -> T) throws -> T {
    try state.withLock { state in
      if state.isClosed { throw OpsLogError.closed }
      return try body(state)
    }
  }

  /// The record with this ID, or `nil`.
  ///
  /// - Complexity: O(1) on average: one hash lookup of `id`.
  @inlinable
  public func get(_ id: String) throws -> Record? { try read { $0.table.get(id) } }

  /// Whether a record has this ID.
  ///
  /// - Complexity: O(1) on average.
  @inlinable
  public func has(_ id: String) throws -> Bool { try read { $0.table.contains(id) } }

  /// Every record, in first-insertion order: an update keeps a record's place, a delete and a
  /// later set move it to the end, an undo puts it back where it was.
  ///
  /// Copies from a consistent copy of the state, outside the store's lock (a retain per
  /// reference a record holds is most of the cost).
  ///
  /// - Complexity: O(n), n the number of records.
  @inlinable
  public func all() throws -> [Record] {
    let table = try read { $0.table }
    return table.records { _, _ in true }
  }

  /// Every record with its ID, in the order of ``all()``.
  ///
  /// - Complexity: O(n), n the number of records.
  @inlinable
  public func entries() throws -> [(id: String, record: Record)] {
    let table = try read { $0.table }
    return table.entries()
  }

  /// The records for which `isIncluded` is true, in the order of ``all()``.
  ///
  /// The predicate runs on the caller's thread over a consistent copy of the state, outside the
  /// store's lock, so it may be slow or call the store without blocking writers. Records are
  /// read in place; only the matches are copied.
  ///
  /// - Complexity: O(n) calls of `isIncluded`, n the number of records.
  @inlinable
  public func filter(_ isIncluded: (Record) throws -> Bool) throws -> [Record] {
    let table = try read { $0.table }
    return try table.records { _, record in try isIncluded(record) }
  }

  /// The records for which `isIncluded(record, id)` is true, in the order of ``all()``.
  ///
  /// - Complexity: O(n) calls of `isIncluded`, n the number of records.
  @inlinable
  public func filter(_ isIncluded: (Record, _ id: String) throws -> Bool) throws -> [Record] {
    let table = try read { $0.table }
    return try table.records { id, record in try isIncluded(record, id) }
  }

  /// The number of records.
  ///
  /// - Complexity: O(1).
  @inlinable
  public func count() throws -> Int { try read { $0.table.count } }

  /// The number of records for which `isIncluded(record)` is true.
  ///
  /// The predicate runs on the caller's thread over a consistent copy of the state, outside the
  /// store's lock, as for the one-argument `filter(_:)`; nothing is copied out.
  ///
  /// - Complexity: O(n) calls of `isIncluded`, n the number of records.
  @inlinable
  public func count(where isIncluded: (Record) throws -> Bool) throws -> Int {
    let table = try read { $0.table }
    var count = 0
    try table.forEach { _, record in if try isIncluded(record) { count += 1 } }
    return count
  }

  /// The number of records for which `isIncluded(record, id)` is true.
  ///
  /// - Complexity: O(n) calls of `isIncluded`, n the number of records.
  @inlinable
  public func count(where isIncluded: (Record, _ id: String) throws -> Bool) throws -> Int {
    let table = try read { $0.table }
    var count = 0
    try table.forEach { id, record in if try isIncluded(record, id) { count += 1 } }
    return count
  }

  // MARK: - History

  /// The operations on `id` since the last checkpoint, oldest first.
  ///
  /// - Complexity: O(operations since the last checkpoint).
  public func history(of id: String) throws -> [LogOperation<Record>] {
    try read { state in state.journal.lazy.filter { ExactString.areIdentical($0.operation.id, id) }.map(\.operation) }
  }

  /// The operations since the last checkpoint, oldest first; with `date`, only those whose
  /// timestamp is later than it, compared as instants (a `ts` of `…T06:03:22.925Z` is later
  /// than `…T06:03:22Z`). History starts afresh at every checkpoint.
  ///
  /// - Complexity: O(operations since the last checkpoint).
  public func operations(since date: Date? = nil) throws -> [LogOperation<Record>] {
    try read { state in
      guard let date else { return state.journal.map(\.operation) }
      return state.journal.lazy.filter { entry in
        // A timestamp that does not parse (another writer's) is kept: it cannot be placed.
        guard let time = ISOTime.date(parsing: entry.operation.timestamp) else { return true }
        return time > date
      }.map(\.operation)
    }
  }

  /// ``operations(since:)-(Date?)`` with the time as ISO-8601 text, with or without fractional
  /// seconds, in UTC or with an offset (`2026-04-01T10:00:01Z`, `2026-04-01T12:00:01.5+02:00`).
  ///
  /// - Complexity: O(operations since the last checkpoint).
  /// - Throws: `OpsLogError.invalidArgument(_:)` when `timestamp` is not ISO-8601 (for
  ///   example `"yesterday"`), rather than comparing text and returning nothing.
  public func operations(since timestamp: String) throws -> [LogOperation<Record>] {
    guard let date = ISOTime.date(parsing: timestamp) else {
      throw OpsLogError.invalidArgument(
        "\"\(timestamp)\" is not an ISO-8601 time such as 2026-04-01T10:00:01.000Z; pass a Date or an ISO-8601 string")
    }
    return try operations(since: date)
  }

  /// Whether a record has this ID; the same as ``has(_:)``, the reference's name.
  ///
  /// - Complexity: O(1) on average.
  @inlinable
  public func contains(_ id: String) throws -> Bool { try read { $0.table.contains(id) } }

  // MARK: - Stats

  /// Record and operation counts. `opsCount` includes buffered operations not written yet.
  ///
  /// - Complexity: O(1).
  public func stats() throws -> StoreStats {
    try read { state in
      StoreStats(
        activeRecords: state.table.count, opsCount: state.operationsSinceCheckpoint,
        archiveSegments: state.manifest.archiveSegments.count)
    }
  }

  /// The manifest as last written, with its record and operation counts brought up to date.
  ///
  /// - Complexity: O(archive segments and agents the manifest lists).
  public func manifest() throws -> ManifestInfo {
    try read { state in
      var manifest = state.manifest
      manifest.stats.activeRecords = state.table.count
      manifest.stats.opsCount = state.operationsSinceCheckpoint
      return manifest
    }
  }

  /// Archive segment paths as the manifest lists them, e.g. `archive/archive-2025-Q4.json`.
  ///
  /// - Complexity: O(archive segments).
  public func archiveSegments() throws -> [String] { try read { $0.manifest.archiveSegments } }

  // MARK: - Helpers

  func decodeRecord(_ value: JSONValue, id: String, path: String) throws -> Record {
    try Self.decodeStored(Record.self, id: id, path: path) { try decoder.decode(Record.self, from: value) }
  }

  /// A WAL line's operation with its records decoded straight from the line's bytes.
  ///
  /// Built field by field rather than with `mapRecords`, whose generic code looks the
  /// result's types up again for every operation.
  static func decodeOperation(_ stored: LogOperation<JSONBytes>, path: String, decoder: RecordDecoder) throws
    -> LogOperation<Record>
  {
    try decodeOperationNotingUnknownKeys(stored, path: path, decoder: decoder).operation
  }

  /// ``decodeOperation(_:path:decoder:)``, with the stored form of a set's `data` when its JSON
  /// has fields `Record` does not decode (see ``StoredForm``).
  static func decodeOperationNotingUnknownKeys(
    _ stored: LogOperation<JSONBytes>, path: String, decoder: RecordDecoder
  ) throws -> DecodedOperation<Record> {
    let previous: PreviousValue<Record>
    switch stored.previous {
    case .none: previous = .none
    case .record(let bytes): previous = .record(try decodeStored(stored.id, from: bytes, path: path, decoder: decoder))
    case .delta(let patch): previous = .delta(patch)
    }
    var dataForm: StoredForm? = nil
    let data = try stored.data.map { bytes -> Record in
      var unknown: UnknownKeys? = nil
      let record: Record
      do {
        record = try bytes.bytes.withUnsafeBytes {
          try decoder.decodeNotingUnknownKeys(Record.self, from: $0, unknownKeys: &unknown)
        }
      } catch {
        throw storedDecodingError(error, type: Record.self, id: stored.id, path: path)
      }
      dataForm = StoredForm.noting(unknown, bytes: bytes.bytes)
      return record
    }
    return DecodedOperation(
      operation: LogOperation(
        timestamp: stored.timestamp, kind: stored.kind, id: stored.id, data: data, previous: previous,
        agent: stored.agent, clock: stored.clock),
      dataForm: dataForm)
  }

  static func decodeStored(_ id: String, from bytes: JSONBytes, path: String, decoder: RecordDecoder) throws -> Record {
    try decodeStored(Record.self, id: id, path: path) {
      try bytes.bytes.withUnsafeBytes { try decoder.decode(Record.self, from: $0) }
    }
  }

  /// Runs `decode` for the stored record `id` of the file `path`, turning a failure into the
  /// error a user can act on: malformed JSON is damage, a type mismatch names the record and
  /// the ways to open it.
  static func decodeStored<T>(_ type: Any.Type, id: String, path: String, _ decode: () throws -> T) throws -> T {
    do {
      return try decode()
    } catch {
      throw storedDecodingError(error, type: type, id: id, path: path)
    }
  }

  @usableFromInline
  static func validate(id: String) throws {
    if id.isEmpty { throw OpsLogError.invalidArgument("a record ID must not be empty") }
  }
}

/// The error a user can act on for a stored record `id` of the file `path` that did not
/// decode: malformed JSON is damage, a type mismatch names the record and the ways to open it.
///
/// A free function, not a member of `Store<Record>`: the loader calls it from code that is not
/// specialized for `Record`, where naming `Store<Record>` on every record would be a run-time
/// metadata lookup, and only a failure should pay for one.
func storedDecodingError(_ error: any Error, type: Any.Type, id: String, path: String) -> OpsLogError {
  if let error = error as? OpsLogError {
    return OpsLogError.corrupted(path: path, reason: "record \"\(id)\": \(error)")
  }
  // The bytes are valid JSON: the data is intact and only the type does not fit it.
  return OpsLogError.recordTypeMismatch(id: id, type: "\(type)", reason: "\(error)")
}
