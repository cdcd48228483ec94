import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Applies several changes as one: all of them or, when `body` throws, none.
  ///
  /// The operations are one unit everywhere: one WAL append whose first line carries the
  /// batch's size, so that after a crash a reopen shows all of them or none (Docs/FORMAT.md,
  /// "Batches"); one journal entry group, so that ``undo()`` takes the whole batch back in one
  /// step. An empty batch does no I/O, and a batch of one operation is a plain line. `body`
  /// runs while other mutations wait; keep it short and do not call the store's writes from
  /// it.
  ///
  /// `body` runs in the caller's isolation (a `@MainActor` view model, an actor, or
  /// nonisolated code), so it may capture the caller's state with no `@Sendable` annotation.
  ///
  /// Returns when the write mode's promise holds for the batch (see ``WriteMode``), in call
  /// order with the store's other writes.
  /// - Complexity: O(total size of the batch's records).
  /// - Throws: whatever `body` throws (nothing is written); `OpsLogError.notFound(id:)` from
  ///   ``Batch/delete(_:)``; `OpsLogError.invalidArgument(_:)` for an empty ID;
  ///   `OpsLogError.readOnly`, `OpsLogError.closed`, an `EncodingError`, or the write's
  ///   `OpsLogError.io(path:errno:reason:)`, after which the store is as it was.
  public func batch(
    isolation: isolated (any Actor)? = #isolation, _ body: (inout Batch<Record>) throws -> Void
  ) async throws {
    await mutationLock.lock()
    let sequence: UInt64
    let followUp: EnqueueFollowUp
    do {
      defer { mutationLock.unlock() }
      try await checkLogBeforeMutation()
      // The batch sees a copy-on-write copy of the table; it is dropped before the table is
      // changed, or the first change would copy the whole table.
      let prepared: [PreparedOperation<Record>] = try {
        let (base, storedForms) = try state.withLock { state in
          try state.checkMutable(readOnly: options.readOnly)
          return (state.table, state.storedForms)
        }
        var batch = Batch<Record>(base: base)
        try body(&batch)
        return try prepareBatch(batch.changes, storedForms: storedForms)
      }()
      if prepared.isEmpty { return }
      (sequence, followUp) = try state.withLock { state in
        try state.checkMutable(readOnly: options.readOnly)
        var last: UInt64 = 0
        for (index, operation) in prepared.enumerated() {
          last = state.apply(operation, unitSize: index == 0 ? prepared.count : 0)
        }
        if !state.feed.isEmpty { state.publishLast(prepared.count) }
        return (last, state.followUp(options: options))
      }
      if followUp.startsWork { startBackgroundWork(followUp) }
    }
    if followUp.waitsForWrite { try await waitForWrite(upTo: sequence) }
  }

  /// The operations of a batch, each against the state as the batch's earlier changes left
  /// it; the first line carries the batch's size when it has two or more.
  ///
  /// `storedForms` are the state's when the batch began; the batch's own changes to them are
  /// followed, so a record set twice keeps its unknown fields both times.
  func prepareBatch(_ changes: [Batch<Record>.Change], storedForms: [ExactString: StoredForm] = [:]) throws
    -> [PreparedOperation<Record>]
  {
    let timestamp = ISOTime.now()
    var prepared: [PreparedOperation<Record>] = []
    prepared.reserveCapacity(changes.count)
    var forms = storedForms
    for (index, change) in changes.enumerated() {
      try Self.validate(id: change.id)
      let batch = index == 0 && changes.count >= 2 ? changes.count : nil
      let stored = forms.isEmpty ? nil : forms[ExactString(change.id)]
      let operation: PreparedOperation<Record>
      if let value = change.record {
        let data = try encoder.encodeBytes(value)
        operation = try prepareSet(
          change.id, value, data: data, previous: change.previous, timestamp: timestamp, batch: batch, stored: stored)
      } else {
        // Batch.delete records only a record the batch saw.
        operation = try prepareDelete(
          change.id, previous: change.previous!, timestamp: timestamp, batch: batch, stored: stored)
      }
      if let after = operation.storedAfter { forms[ExactString(change.id)] = after }
      prepared.append(operation)
    }
    return prepared
  }
}

/// The changes of a ``Store/batch(isolation:_:)`` body, seen by the body as if already applied.
public struct Batch<Record: Sendable> {
  /// One change, with the record it replaces as the batch saw it (its delta and undo base).
  struct Change {
    var id: String
    /// The new record; `nil` for a delete.
    var record: Record?
    var previous: Record?
  }

  let base: RecordTable<Record>
  /// The batch's own changes by ID, compared by exact code points as the table compares them.
  var overlay: [ExactString: Record?] = [:]
  var changes: [Change] = []

  init(base: RecordTable<Record>) { self.base = base }

  /// Sets `id` to `value` (creates or replaces it). An empty `id` makes ``Store/batch(isolation:_:)``
  /// throw `OpsLogError.invalidArgument(_:)` and write nothing.
  public mutating func set(_ id: String, _ value: Record) {
    changes.append(Change(id: id, record: value, previous: get(id)))
    overlay[ExactString(id)] = .some(value)
  }

  /// Deletes `id`.
  /// - Throws: `OpsLogError.notFound(id:)` when, as the batch sees the store, no record has it.
  public mutating func delete(_ id: String) throws {
    guard let previous = get(id) else { throw OpsLogError.notFound(id: id) }
    changes.append(Change(id: id, record: nil, previous: previous))
    overlay[ExactString(id)] = .some(nil)
  }

  /// The record `id` as the batch sees it: the store with the batch's own changes applied.
  public func get(_ id: String) -> Record? {
    if let changed = overlay[ExactString(id)] { return changed }
    return base.get(id)
  }

  /// The number of operations the batch holds.
  public var count: Int { changes.count }
}
