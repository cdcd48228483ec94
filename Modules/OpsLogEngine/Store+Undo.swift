import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Takes back the last operation since the last checkpoint, or the last batch whole: a
  /// create is removed, an update restored, a deleted record put back in its place.
  ///
  /// Its WAL lines are dropped from the buffer if they were not written yet; otherwise the
  /// WAL is cut at the offset where the first of them starts, recorded when the line was
  /// written or read (Docs/FORMAT.md, "Undo"), so lines that replay skipped after it (a malformed
  /// line kept by a writable open, a blank line) go too and the next write starts on a clean
  /// line. The cut is made with the store's ``StoreOptions/durability``: under `.disk` it is on
  /// disk when `undo` returns. In a multi-writer store it takes back this agent's last
  /// operation or batch.
  ///
  /// Returns `false` when there is nothing to undo (no operation since the last checkpoint,
  /// or only operations of a checkpoint in progress).
  /// - Complexity: O(1) I/O; O(operations in the batch) in memory.
  /// - Throws: `OpsLogError.readOnly`, `OpsLogError.closed`, a background write failure not
  ///   reported yet, or the truncation's `OpsLogError.io(path:errno:reason:)` (then nothing
  ///   is undone).
  @discardableResult
  public func undo() async throws -> Bool {
    await mutationLock.lock()
    defer { mutationLock.unlock() }
    // The strategy keeps other writers from taking the lines in a snapshot while they are
    // cut off (an agent holds `.compact-lock`).
    return try await strategy.guardingUndo(backend: backend) { try await undoHoldingMutationLock() }
  }

  /// ``undo()`` for a caller that holds the mutation lock and the strategy's undo guard.
  func undoHoldingMutationLock() async throws -> Bool {
    try await checkLogBeforeMutation()
    while true {
      let step = try state.withLock { state -> UndoStep in
        try state.checkMutable(readOnly: options.readOnly)
        guard let unit = state.lastOwnUnit(owns: strategy.owns(agent:)) else { return .nothing }
        let first = state.journal[unit.first!]
        let lastSequence = unit.map { state.journal[$0].sequence }.max()!
        if first.sequence > state.pipeline.takenSequence {
          // Still in the buffer, at its end (this store's own lines are queued after every
          // merged one): drop the lines, no I/O.
          let byteCount = unit.reduce(0) { $0 + state.journal[$1].lineLength }
          state.pipeline.dropLast(unit.count, byteCount: byteCount, firstSequence: first.sequence)
          state.takeBack(unit)
          if state.pipeline.pending.isEmpty && !state.pipeline.writerActive {
            for waiter in state.pipeline.becomeIdle() { waiter.continuation.resume(returning: .written) }
          }
          return .done
        }
        if lastSequence > state.pipeline.writtenSequence { return .waitFor(lastSequence) }
        guard first.offset >= 0, first.offset <= state.walLength else {
          throw OpsLogError.corrupted(
            path: state.walPath,
            reason: "the operation to undo starts at byte \(first.offset), beyond the WAL's \(state.walLength) bytes")
        }
        return .truncate(
          to: first.offset, path: state.walPath, sequences: unit.map { state.journal[$0].sequence },
          generation: state.generation, count: state.journal.count)
      }
      switch step {
      case .nothing: return false
      case .done: return true
      case .waitFor(let sequence):
        try await waitForWrite(upTo: sequence)
      case .truncate(let offset, let path, let sequences, let generation, let count):
        try await backend.truncate(path, toLength: offset, durability: options.durability)
        let applied = state.withLock { state -> Bool in
          // Nothing was applied or rolled back meanwhile (the mutation lock is held; merged
          // lines or a reload would have changed these).
          guard state.generation == generation, state.journal.count == count,
            let unit = state.lastOwnUnit(owns: strategy.owns(agent:)),
            unit.map({ state.journal[$0].sequence }) == sequences
          else { return false }
          state.walLength = offset
          state.takeBack(unit)
          return true
        }
        if applied { return true }
      }
    }
  }
}

extension StoreState {
  /// The journal indices of this store's last unit (an operation, or a batch whole), oldest
  /// first, above the checkpoint floor; `nil` when there is none. In a multi-writer store other
  /// agents' merged operations may lie between and after them.
  func lastOwnUnit(owns: (String?) -> Bool) -> [Int]? {
    var index = journal.count - 1
    var unit: [Int] = []
    while index >= journalFloor {
      let entry = journal[index]
      if owns(entry.operation.agent) {
        unit.append(index)
        if entry.unitSize != 0 { return unit.reversed() }
      }
      index -= 1
    }
    // A batch whose first entry is below the floor (or gone) is not undone by halves.
    return nil
  }

  /// Takes a unit back out of memory, newest first: each operation reverted and its journal
  /// entry dropped. Entries that merged operations followed are re-derived for their key.
  mutating func takeBack(_ unit: [Int]) {
    var undone: [LogOperation<Record>] = []
    var rederived = false
    for index in unit.reversed() {
      if journal[index].applied { undone.append(journal[index].undoneOperation) }
      if index == journal.count - 1 {
        takeBackLast()
      } else {
        removeAndRederive(at: index)
        rederived = true
      }
    }
    guard !feed.isEmpty else { return }
    // A key re-derived from other agents' operations is not the undone operation's previous
    // value: consumers read it afresh.
    feed.publish(rederived ? .reloaded : .undone(undone))
  }
}

/// What undo has to do for the last unit.
enum UndoStep {
  case nothing, done
  case waitFor(UInt64)
  case truncate(to: Int, path: String, sequences: [UInt64], generation: Int, count: Int)
}
