import OpsLogTypes

extension StoreState {
  /// Gives the key of `removed`, a journal entry just taken off the end of the journal (an
  /// undo, or a failed append rolled back), back the winner it had before: the stamp of the
  /// last journal entry for the key that changed the state. An undone write must lose its
  /// say in last-writer-wins, or a later merged write with a lower clock would lose to it in
  /// this store's view while every fresh open applies it.
  ///
  /// Only stamped (multi-writer) operations keep winners; winners start afresh with every
  /// new base (checkpoint cut, reload), so the journal holds every operation that can be one.
  mutating func restoreWinningStamp(after removed: JournalEntry<Record>) {
    guard removed.operation.agent != nil else { return }
    let id = removed.operation.id
    let winner = journal.last { ExactString.areIdentical($0.operation.id, id) && $0.applied }
    winningStamps[ExactString(id)] = winner.flatMap { OperationStamp(of: $0.operation) }
  }
}
