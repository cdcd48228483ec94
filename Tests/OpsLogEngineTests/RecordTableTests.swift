import Testing

@testable import OpsLogEngine

/// The record table against a plain model: an ordered list of (ID, value) with holes.
@Suite("Record table")
struct RecordTableTests {
  /// A deterministic generator, so a failure reproduces.
  struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
      state &+= 0x9E37_79B9_7F4A_7C15
      var z = state
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
  }

  func check(_ table: RecordTable<Int>, against model: [(id: String, value: Int)?], _ comment: Comment) {
    let live = model.compactMap { $0 }
    #expect(table.count == live.count, comment)
    var seen: [String] = []
    table.forEach { id, value in seen.append("\(id)=\(value)") }
    #expect(seen == live.map { "\($0.id)=\($0.value)" }, comment)
    for (slot, entry) in model.enumerated() {
      guard let entry else { continue }
      #expect(table.get(entry.id) == entry.value, comment)
      #expect(table.slot(of: entry.id) == slot, comment)
    }
  }

  /// A set prefetches its ID's bucket from a location read without the lock: the location
  /// follows the bucket array as it grows, a lookup with a caller's hash equals one without,
  /// and a prefetch from a stale or absent location does nothing (a prefetch never faults).
  @Test func bucketLocationFollowsGrowthAndStaleOnesAreHarmless() {
    var table = RecordTable<Int>()
    let first = table.bucketLocation
    var locations: Set<UInt> = [first.mask]
    var stale: [(base: UInt, mask: UInt)] = [first]
    for index in 0..<2_000 {
      _ = table.set("id-\(index)", index)
      let location = table.bucketLocation
      #expect(location.mask + 1 >= UInt(table.count) * 2)
      if location.mask != stale.last!.mask {
        locations.insert(location.mask)
        stale.append(location)
      }
    }
    #expect(locations.count >= 8)
    for (index, id) in ["id-0", "id-1999", "missing"].enumerated() {
      let hash = RecordTable<Int>.hash(id)
      #expect(table.get(id, hash: hash) == table.get(id), "\(index)")
      for location in stale + [(0, 7), (UInt.max &- 4095, UInt.max)] {
        RecordTable<Int>.prefetchBucket(for: hash, base: location.base, mask: location.mask)
      }
    }
    #expect(table.get("id-1999") == 1999)
  }

  /// The bulk insert of an open is `set` in order: a repeated ID keeps its first place and
  /// takes its last value, the index grows through many buckets, and the records are moved
  /// out of the caller's array.
  @Test func setAllIsSetInOrder() {
    var random = SplitMix(state: 7)
    let ids = (0..<5_000).map { _ in "id-\(random.next() % 3_000)" }
    var bulk = RecordTable<Int>(minimumCapacity: 3)
    var records: [Int?] = Array(ids.indices)
    bulk.setAll(ids[...], moving: &records)
    #expect(records.isEmpty)
    var oneByOne = RecordTable<Int>()
    var model: [(id: String, value: Int)?] = []
    for (value, id) in ids.enumerated() {
      oneByOne.set(id, value)
      if let index = model.firstIndex(where: { $0?.id == id }) {
        model[index] = (id, value)
      } else {
        model.append((id, value))
      }
    }
    check(bulk, against: model, "bulk")
    check(oneByOne, against: model, "one by one")
  }

  @Test(arguments: [1, 2, 3, 4])
  func randomOperationsMatchTheModel(seed: UInt64) {
    var random = SplitMix(state: seed)
    var table = RecordTable<Int>()
    var model: [(id: String, value: Int)?] = []
    // Few distinct IDs, so updates, deletes of absent IDs and re-creates are frequent, and
    // probe runs collide and wrap around the (small, then grown) index.
    let ids = (0..<300).map { "id-\($0)" }
    var undoable: [(id: String, value: Int, slot: Int)] = []
    for step in 0..<20_000 {
      let id = ids[Int(random.next() % UInt64(ids.count))]
      let slot = model.firstIndex { $0?.id == id }
      switch random.next() % 10 {
      case 0...5:
        let result = table.set(id, step)
        if let slot {
          #expect(result.previous == model[slot]!.value && result.slot == slot)
          model[slot] = (id, step)
        } else {
          #expect(result.previous == nil && result.slot == model.count)
          model.append((id, step))
        }
      case 6...8:
        let removed = table.remove(id)
        if let slot {
          #expect(removed?.record == model[slot]!.value && removed?.slot == slot)
          undoable.append((id, model[slot]!.value, slot))
          model[slot] = nil
          while let last = model.last, last == nil { model.removeLast() }
        } else {
          #expect(removed == nil)
        }
      default:
        // Undo of the latest delete whose ID is still absent: back into its exact slot.
        guard let last = undoable.popLast(), !model.contains(where: { $0?.id == last.id }),
          last.slot >= model.count || model[last.slot] == nil
        else { continue }
        table.restore(last.id, last.value, at: last.slot)
        while model.count <= last.slot { model.append(nil) }
        model[last.slot] = (last.id, last.value)
      }
      if step % 997 == 0 { check(table, against: model, "after step \(step)") }
      if step % 4_999 == 0 {
        table.compact()
        model = model.filter { $0 != nil }
        undoable = []
        check(table, against: model, "after compacting at step \(step)")
      }
    }
    check(table, against: model, "at the end")
  }

  /// Replay's path: `apply` moves the record before into `previous` and returns the slot, as
  /// `set` and `remove` report them; a hole keeps no ID; a set without a record changes
  /// nothing.
  @Test(arguments: [5, 6])
  func applyReportsWhatSetAndRemoveReport(seed: UInt64) {
    var random = SplitMix(state: seed)
    var applied = RecordTable<Int>()
    var direct = RecordTable<Int>()
    let ids = (0..<200).map { "id-\($0)" }
    for step in 0..<10_000 {
      let id = ids[Int(random.next() % UInt64(ids.count))]
      let isSet = random.next() % 3 != 0
      let operation = LogOperation<Int>(
        timestamp: "2026-12-07T08:00:00.000Z", kind: isSet ? .set : .delete, id: id, data: isSet ? step : nil,
        previous: .none)
      var previous: Int? = -1
      let givenHash = step % 2 == 0 ? RecordTable<Int>.hash(id) : nil
      let slot = applied.apply(operation, hash: givenHash, previous: &previous)
      if isSet {
        let expected = direct.set(id, step)
        #expect(slot == expected.slot && previous == (expected.previous ?? -1), "step \(step)")
      } else {
        let expected = direct.remove(id)
        #expect(slot == (expected?.slot ?? -1) && previous == (expected?.record ?? -1), "step \(step)")
        if let removedSlot = expected?.slot, removedSlot < applied.slots.count {
          #expect(applied.slots[removedSlot].id.isEmpty && applied.slots[removedSlot].record == nil)
        }
      }
    }
    #expect(applied.slots.map(\.id) == direct.slots.map(\.id))
    #expect(applied.slots.map(\.record) == direct.slots.map(\.record))
    var unchanged: Int? = -1
    let setWithoutRecord = LogOperation<Int>(
      timestamp: "2026-12-07T08:00:00.000Z", kind: .set, id: ids[0], data: nil, previous: .none)
    let countBefore = applied.count
    #expect(applied.apply(setWithoutRecord, previous: &unchanged) == nil)
    #expect(unchanged == -1 && applied.count == countBefore)
  }

  @Test func growsFromEmptyAndFromAReservedCapacity() {
    for capacity in [0, 5, 1_000] {
      var table = RecordTable<Int>(minimumCapacity: capacity)
      for index in 0..<5_000 { table.set("k\(index)", index) }
      #expect(table.count == 5_000)
      #expect((0..<5_000).allSatisfy { (index: Int) in table.get("k\(index)") == index })
      #expect(table.get("k5000") == nil && !table.contains("missing"))
      for index in stride(from: 0, to: 5_000, by: 2) { table.remove("k\(index)") }
      #expect(table.count == 2_500)
      #expect((0..<5_000).allSatisfy { (index: Int) in table.get("k\(index)") == (index % 2 == 0 ? nil : index) })
      #expect(table.buckets.count >= 2 * 5_000 && table.buckets.count & (table.buckets.count - 1) == 0)
    }
  }
}
