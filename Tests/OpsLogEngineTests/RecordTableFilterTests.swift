import Synchronization
import Testing

@testable import OpsLogEngine

/// `RecordTable.records(where:)`, which reads slots in place and copies only the matches,
/// against a plain filter of a model, with records whose copies must be retained.
@Suite("Record table filter")
struct RecordTableFilterTests {
  /// How many ``Tracked`` objects are alive: a copy lost or released twice shows up here
  /// (or as a crash), a copy leaked keeps it above zero.
  final class LiveCount: Sendable {
    let value = Atomic<Int>(0)
    var current: Int { value.load(ordering: .acquiring) }
  }

  final class Tracked: Sendable {
    let live: LiveCount
    init(_ live: LiveCount) {
      self.live = live
      live.value.add(1, ordering: .relaxed)
    }
    deinit { live.value.subtract(1, ordering: .releasing) }
  }

  /// A record holding references, so that every copy retains.
  struct Item: Sendable {
    var number: Int
    var name: String
    var tracked: Tracked
  }

  struct PredicateFailed: Error {}

  /// Numbers 0..<count in slots 0..<count, then every seventh deleted (holes) and every
  /// eleventh updated in place.
  static func makeTable(count: Int, live: LiveCount) -> (RecordTable<Item>, model: [Int]) {
    var table = RecordTable<Item>()
    for number in 0..<count {
      table.set(
        "item-\(number)",
        Item(number: number, name: "a name long enough to be allocated \(number)", tracked: Tracked(live)))
    }
    for number in stride(from: 0, to: count, by: 7) { table.remove("item-\(number)") }
    for number in stride(from: 3, to: count, by: 11) where number % 7 != 0 {
      table.set("item-\(number)", Item(number: number, name: "updated \(number)", tracked: Tracked(live)))
    }
    return (table, (0..<count).filter { $0 % 7 != 0 })
  }

  /// Predicates over the number: everything, nothing, and matches spread out or bunched.
  static let predicates: [(name: String, isIncluded: @Sendable (Int) -> Bool)] = [
    ("every record", { _ in true }),
    ("none", { _ in false }),
    ("every third", { $0 % 3 == 0 }),
    ("a few spread out", { $0 % 200 == 0 }),
    ("only the first few", { $0 < 10 }),
    ("only the last chunk", { $0 >= 45_000 }),
    ("only the first chunk", { $0 < 8_000 }),
    // Matches are copied in batches of ReferencePrefetch.batchSize (32): exactly one batch,
    // and one more than a batch (the numbers below 38 that are not multiples of 7 number 32).
    ("exactly one batch", { $0 < 38 }),
    ("one batch and one", { $0 < 39 }),
  ]

  @Test(arguments: predicates.indices)
  func matchesAPlainFilterInOrder(predicate: Int) {
    let (name, isIncluded) = Self.predicates[predicate]
    let live = LiveCount()
    do {
      let (table, model) = Self.makeTable(count: 50_000, live: live)
      let expected = model.filter(isIncluded)
      for round in 0..<2 {
        let found = table.records { id, item in
          #expect(id == "item-\(item.number)")
          return isIncluded(item.number)
        }
        let comment: Comment = "\(name), round \(round)"
        #expect(Self.firstDifference(found.map(\.number), expected) == nil, comment)
        #expect(found.allSatisfy { $0.name.hasSuffix(" \($0.number)") }, comment)
      }
      // Copies share the table's objects: one alive per record.
      #expect(live.current == table.count)
    }
    // Every copy is released with the results and the table.
    #expect(live.current == 0, "\(name): \(live.current) records still alive")
  }

  @Test func theRecordsStayIntactAfterTheTableChanges() {
    let live = LiveCount()
    do {
      var (table, model) = Self.makeTable(count: 40_000, live: live)
      let before = table.records { _, item in item.number % 2 == 1 }
      for number in model where number % 2 == 1 { table.remove("item-\(number)") }
      #expect(table.records { _, item in item.number % 2 == 1 }.isEmpty)
      #expect(before.map(\.number) == model.filter { $0 % 2 == 1 })
      #expect(before.allSatisfy { $0.name.hasSuffix(" \($0.number)") })
    }
    #expect(live.current == 0)
  }

  @Test(arguments: [10, 9_000, 30_000])
  func aThrowingPredicateStopsTheCopyAndLosesNothing(throwingAt number: Int) {
    let live = LiveCount()
    do {
      let (table, model) = Self.makeTable(count: 50_000, live: live)
      #expect(throws: PredicateFailed.self) {
        try table.records { _, item in
          if item.number == number + 1 { throw PredicateFailed() }
          return item.number % 2 == 0
        }
      }
      // The table is untouched and the next filter runs as usual.
      #expect(table.count == model.count)
      #expect(table.records { _, item in item.number % 2 == 0 }.map(\.number) == model.filter { $0 % 2 == 0 })
    }
    #expect(live.current == 0)
  }

  /// A record whose words are not references but look like addresses, or like nothing an
  /// address could be, and which is larger than the words the prefetch looks at: the prefetch
  /// of such words must neither fault nor change what is copied.
  struct Words: Sendable, Equatable {
    var number: Int
    var first: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    var rest: [UInt64]
    var tail: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    var more: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    var last: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    var end: (UInt64, UInt64)

    static func == (left: Words, right: Words) -> Bool {
      left.number == right.number && left.rest == right.rest && left.first.0 == right.first.0
        && left.end.1 == right.end.1
    }
  }

  @Test func wordsThatLookLikeAddressesAreHarmless() {
    let patterns: [UInt64] = [.max, 0x1000, 0xFFF, 0x7FFF_FFFF_F000, 0x0000_FFFF_FFFF_FFF0, 0x8000_0000_0000_0000, 1]
    var table = RecordTable<Words>()
    for number in 0..<1_000 {
      let word = patterns[number % patterns.count]
      let eight = (word, word, word, word, word, word, word, word)
      table.set(
        "words-\(number)",
        Words(
          number: number, first: eight, rest: [word, UInt64(number)], tail: eight, more: eight, last: eight,
          end: (word, word)))
    }
    #expect(MemoryLayout<Words>.size > ReferencePrefetch.maximumWords * 8)
    let found = table.records { _, words in words.number % 3 == 0 }
    #expect(found.map(\.number) == Array(stride(from: 0, to: 1_000, by: 3)))
    #expect(found.allSatisfy { $0.rest == [patterns[$0.number % patterns.count], UInt64($0.number)] })
    #expect(found.allSatisfy { $0.end.1 == patterns[$0.number % patterns.count] })
  }

  @Test func smallTablesAndEmptyTables() {
    let live = LiveCount()
    do {
      let empty = RecordTable<Item>()
      #expect(empty.records { _, _ in true }.isEmpty)
      let (table, model) = Self.makeTable(count: 100, live: live)
      #expect(table.records { _, _ in true }.map(\.number) == model)
    }
    #expect(live.current == 0)
  }

  /// The chunks a filter gathers its copies in, at and around their boundaries: every element
  /// comes out once, in order, and whatever is not taken out (a predicate threw) is released
  /// when the chunks go.
  @Test func gatheredCopiesAtChunkBoundaries() {
    let capacity = GatheredCopies<Tracked>.chunkCapacity
    #expect(capacity >= 16)
    let live = LiveCount()
    for count in [0, 1, capacity - 1, capacity, capacity + 1, 3 * capacity, 3 * capacity + 5] {
      do {
        let objects = (0..<count).map { _ in Tracked(live) }
        var gathered = GatheredCopies<Tracked>()
        for object in objects { gathered.append(object) }
        #expect(gathered.count == count)
        let taken = gathered.takeAll()
        #expect(taken.count == count && taken.capacity >= count)
        #expect(zip(taken, objects).allSatisfy { $0 === $1 }, "\(count) elements")
        #expect(gathered.count == 0 && gathered.takeAll().isEmpty)
        // Not taken out: released with the gatherer.
        var dropped = GatheredCopies<Tracked>()
        for object in objects { dropped.append(object) }
        _ = consume dropped
        #expect(live.current == count)
      }
      #expect(live.current == 0, "\(count) elements: \(live.current) still alive")
    }
  }

  /// Where two lists first differ, or nil; a short message instead of two 40,000-number lists.
  static func firstDifference(_ found: [Int], _ expected: [Int]) -> String? {
    if let index = (0..<min(found.count, expected.count)).first(where: { found[$0] != expected[$0] }) {
      return "at \(index): \(found[index]) instead of \(expected[index])"
    }
    return found.count == expected.count ? nil : "\(found.count) records instead of \(expected.count)"
  }
}
