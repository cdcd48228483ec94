/// The records of a store in first-insertion order, with O(1) lookup, insert, update and
/// delete.
///
/// A delete leaves a hole in its slot instead of shifting the array, which keeps it O(1) and
/// lets undo put a deleted record back in its exact place. Undo is strictly last-in first-out,
/// so undoing a create always removes the last slot. Holes are squeezed out by ``compact()``,
/// which the store calls only when no undoable operation refers to a slot.
@usableFromInline
struct RecordTable<Record> {
  @usableFromInline
  struct Entry {
    @usableFromInline var id: String
    @usableFromInline var record: Record

    @usableFromInline
    init(id: String, record: Record) {
      self.id = id
      self.record = record
    }
  }

  // Internal setters only so that the inlinable writers below can reach them; nothing outside
  // this type assigns them.
  @usableFromInline var slots: [Entry?] = []
  @usableFromInline var positions: [String: Int] = [:]
  @usableFromInline var count = 0

  init(minimumCapacity: Int = 0) {
    slots.reserveCapacity(minimumCapacity)
    positions.reserveCapacity(minimumCapacity)
  }

  var holeCount: Int { slots.count - count }

  @inlinable
  func get(_ id: String) -> Record? {
    guard let slot = positions[id] else { return nil }
    return slots[slot].unsafelyUnwrapped.record
  }

  @inlinable
  func contains(_ id: String) -> Bool { positions[id] != nil }

  func slot(of id: String) -> Int? { positions[id] }

  /// Sets a record: an existing ID keeps its place, a new one goes to the end. Returns the
  /// previous record, if any, and the slot.
  @inlinable
  @discardableResult
  mutating func set(_ id: String, _ record: Record) -> (previous: Record?, slot: Int) {
    if let slot = positions[id] {
      let previous = slots[slot].unsafelyUnwrapped.record
      slots[slot] = Entry(id: id, record: record)
      return (previous, slot)
    }
    let slot = slots.count
    slots.append(Entry(id: id, record: record))
    positions[id] = slot
    count += 1
    return (nil, slot)
  }

  /// Removes a record, leaving a hole; returns it with its slot.
  @inlinable
  @discardableResult
  mutating func remove(_ id: String) -> (record: Record, slot: Int)? {
    guard let slot = positions.removeValue(forKey: id) else { return nil }
    let record = slots[slot].unsafelyUnwrapped.record
    slots[slot] = nil
    count -= 1
    if slot == slots.count - 1 { trimTrailingHoles() }
    return (record, slot)
  }

  /// Puts a deleted record back in the slot it had (undo of a delete).
  mutating func restore(_ id: String, _ record: Record, at slot: Int) {
    if slot >= slots.count {
      slots.append(contentsOf: repeatElement(nil, count: slot - slots.count + 1))
    }
    precondition(slots[slot] == nil, "undo must restore into the hole its delete left")
    slots[slot] = Entry(id: id, record: record)
    positions[id] = slot
    count += 1
  }

  @usableFromInline
  mutating func trimTrailingHoles() {
    while let last = slots.last, last == nil { slots.removeLast() }
  }

  /// Squeezes out the holes. Invalidates slots handed out before.
  mutating func compact() {
    guard holeCount > 0 else { return }
    var compacted: [Entry?] = []
    compacted.reserveCapacity(count)
    for entry in slots where entry != nil {
      positions[entry.unsafelyUnwrapped.id] = compacted.count
      compacted.append(entry)
    }
    slots = compacted
  }

  /// The records for which `isIncluded(id, record)` is true, in order.
  ///
  /// Each slot is read in place and only a match is copied out: routing this through
  /// ``forEach(_:)`` copied every match twice (once into the closure, once into the result).
  @inlinable
  func records(where isIncluded: (String, Record) throws -> Bool) rethrows -> [Record] {
    var result: [Record] = []
    for index in slots.indices where slots[index] != nil {
      if try isIncluded(slots[index].unsafelyUnwrapped.id, slots[index].unsafelyUnwrapped.record) {
        result.append(slots[index].unsafelyUnwrapped.record)
      }
    }
    return result
  }

  /// Records in order.
  ///
  /// Reads each slot in place instead of binding it with `if let`: the binding copies the
  /// whole entry (a retain per reference the record holds) even for records the caller only
  /// looks at, which made a scan several times slower than the predicate it runs.
  @inlinable
  func forEach(_ body: (String, Record) throws -> Void) rethrows {
    for index in slots.indices where slots[index] != nil {
      try body(slots[index].unsafelyUnwrapped.id, slots[index].unsafelyUnwrapped.record)
    }
  }
}

extension RecordTable where Record: Sendable {
  /// Applies an operation as replay does: a set stores its record, a delete removes it.
  /// Returns the record before and its slot (`-1` for a delete of a record that is not
  /// there), or `nil` for a set without a record, which changes nothing.
  mutating func apply(_ operation: LogOperation<Record>) -> (previous: Record?, slot: Int)? {
    switch operation.kind {
    case .set:
      guard let data = operation.data else { return nil }
      return set(operation.id, data)
    case .delete:
      let removed = remove(operation.id)
      return (removed?.record, removed?.slot ?? -1)
    }
  }
}

extension RecordTable: Sendable where Record: Sendable {}
extension RecordTable.Entry: Sendable where Record: Sendable {}
