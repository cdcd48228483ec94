import OpsLogTypes

extension StoreState {
  /// Tells the merge policy that `removed`, a journal entry just taken off the end of the
  /// journal (an undo, or a failed append rolled back), no longer has its say: its record's
  /// winner is chosen again among the record's remaining journal entries. An undone write
  /// must lose its say in last-writer-wins, or a later merged write that it outranked would
  /// lose to it in this store's view while every fresh open applies it.
  ///
  /// Only operations with an agent compete; winners start afresh with every new base
  /// (checkpoint switch, reload), so the journal holds every operation that can be one.
  mutating func restoreWinningStamp(after removed: JournalEntry<Record>) {
    guard removed.operation.agent != nil else { return }
    let id = removed.operation.id
    let remaining = journal.lazy.filter { ExactString.areIdentical($0.operation.id, id) }.map(\.operation)
    merge.restore(id: id, among: Array(remaining))
  }
}
