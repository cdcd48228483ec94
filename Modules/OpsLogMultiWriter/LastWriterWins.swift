import OpsLogCodec
@_spi(LogStrategy) import OpsLogEngine
import OpsLogTypes

extension OperationStamp {
  /// Merge order (Docs/FORMAT.md, Multi-writer): Lamport clock first, then agent id compared by its
  /// UTF-8 bytes. The larger stamp is the later write and wins on the same record.
  static func precedes(_ lhs: OperationStamp, _ rhs: OperationStamp) -> Bool {
    if lhs.clock != rhs.clock { return lhs.clock < rhs.clock }
    return lhs.agent.utf8.lexicographicallyPrecedes(rhs.agent.utf8)
  }
}

/// Last-writer-wins (Docs/FORMAT.md, Multi-writer): on the same record, the operation with the
/// larger stamp is the later write and wins, within a compaction generation; an operation
/// without a stamp (a single writer's, before agents joined) takes effect in log order.
///
/// Keeps, per record, the stamp of the operation that took effect last. Stamps of one
/// generation only: every new base (the snapshot holds no clocks) starts afresh.
struct LastWriterWins: MergePolicy {
  var winners: [ExactString: OperationStamp] = [:]

  mutating func reset() { winners = [:] }

  func admits<Record>(_ operation: LogOperation<Record>) -> Bool {
    guard let stamp = OperationStamp(of: operation), let winner = winners[ExactString(operation.id)] else {
      return true
    }
    return !OperationStamp.precedes(stamp, winner)
  }

  mutating func took<Record>(_ operation: LogOperation<Record>) {
    guard let stamp = OperationStamp(of: operation) else { return }
    let key = ExactString(operation.id)
    // The largest stamp: what took effect last in merge order, whatever order it was told in.
    if let winner = winners[key], OperationStamp.precedes(stamp, winner) { return }
    winners[key] = stamp
  }

  mutating func restore<Record>(id: String, among remaining: [LogOperation<Record>]) {
    // An operation that lost stays in the journal, but with a smaller stamp than one that
    // took effect before it, so the largest remaining stamp is the winner.
    winners[ExactString(id)] = remaining.compactMap { OperationStamp(of: $0) }.max(by: OperationStamp.precedes)
  }

  func replays<Record>(_ first: LogOperation<Record>, before second: LogOperation<Record>) -> Bool {
    guard let a = OperationStamp(of: first), let b = OperationStamp(of: second) else { return false }
    return OperationStamp.precedes(a, b)
  }
}
