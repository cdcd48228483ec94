import OpsLogTypes

/// The records of a store in first-insertion order, with O(1) lookup, insert, update and
/// delete.
///
/// A delete leaves a hole in its slot instead of shifting the array, which keeps it O(1) and
/// lets undo put a deleted record back in its exact place. Undo is strictly last-in first-out,
/// so undoing a create always removes the last slot. Holes are squeezed out by ``compact()``,
/// which the store calls only when no undoable operation refers to a slot.
@usableFromInline
struct RecordTable<Record> {
  /// A slot: a record with its ID, or a hole (`record` nil, `id` empty) where a record was
  /// deleted.
  ///
  /// A struct with an optional record rather than an optional entry: code that is not
  /// specialized for `Record` (the engine's own, open and replay above all) can read a field
  /// of a struct in place, but had to copy a whole optional entry to look inside it, a
  /// retain per reference the record holds (a cache miss each) just to compare an ID.
  @usableFromInline
  struct Entry {
    @usableFromInline var id: String
    @usableFromInline var record: Record?

    @inlinable @inline(__always)
    init(id: String, record: consuming Record?) {
      self.id = id
      self.record = record
    }

    @inlinable
    static var hole: Entry { Entry(id: "", record: nil) }
  }

  // Internal setters only so that the inlinable writers below can reach them; nothing outside
  // this type assigns them.
  @usableFromInline var slots: [Entry] = []
  /// The ID → slot index: open addressing with linear probing over a power-of-two number of
  /// buckets, at most half full. A bucket is 0 when empty, else `(slot + 1) << 32 | hash`,
  /// where `hash` is the low 32 bits of the ID's hash value. The IDs themselves are read from
  /// `slots`, so a record costs 8 bytes per bucket here instead of the 24 a
  /// `[String: Int]` spends per bucket; rehashing on growth reuses the stored hash bits.
  @usableFromInline var buckets: [UInt64]
  @usableFromInline var count = 0

  init(minimumCapacity: Int = 0) {
    slots.reserveCapacity(minimumCapacity)
    buckets = Array(repeating: 0, count: Self.bucketCount(for: minimumCapacity))
  }

  /// Buckets for `count` records: a power of two, at least twice `count`.
  @usableFromInline
  static func bucketCount(for count: Int) -> Int {
    var buckets = 8
    while buckets < count * 2 { buckets *= 2 }
    return buckets
  }

  var holeCount: Int { slots.count - count }

  @inlinable
  static func hash(_ id: String) -> UInt32 {
    var hasher = Hasher()
    ExactString.hash(id, into: &hasher)
    return UInt32(truncatingIfNeeded: hasher.finalize())
  }

  /// The bucket that holds `id`, with its slot, or the empty bucket where it would go.
  @inlinable @inline(__always)
  func find(_ id: String, hash: UInt32) -> (bucket: Int, slot: Int?) {
    let mask = buckets.count - 1
    var bucket = Int(hash) & mask
    while true {
      let entry = buckets[bucket]
      if entry == 0 { return (bucket, nil) }
      if UInt32(truncatingIfNeeded: entry) == hash {
        let slot = Int(truncatingIfNeeded: entry >> 32) - 1
        // Through the buffer: the array's getter, where this code is not specialized for
        // `Record`, copied the whole entry (a retain per reference, a cache miss each) to
        // compare its ID; the buffer's subscript reads the ID in place.
        if slots.withUnsafeBufferPointer({ ExactString.areIdentical($0[slot].id, id) }) { return (bucket, slot) }
      }
      bucket = (bucket + 1) & mask
    }
  }

  /// The bucket array's address and its index mask, for a prefetch made without the store's
  /// lock (``prefetchBucket(for:base:mask:)``).
  @inlinable
  var bucketLocation: (base: UInt, mask: UInt) {
    buckets.withUnsafeBufferPointer { (UInt(bitPattern: $0.baseAddress), UInt($0.count &- 1)) }
  }

  /// Starts loading the bucket of `hash` in the bucket array at `base` with index mask
  /// `mask`, from any thread and without a lock: a new ID's bucket is a cache miss, and a set
  /// looks it up under the store's lock. A stale location (the array has grown since, or the
  /// two words were read across a change) prefetches memory that no longer matters; a
  /// prefetch never faults.
  @inlinable
  static func prefetchBucket(for hash: UInt32, base: UInt, mask: UInt) {
    guard let address = UnsafeRawPointer(bitPattern: base &+ (UInt(hash) & mask) &* 8) else { return }
    ReferencePrefetch.prefetch(address)
  }

  /// Starts loading the bucket where a lookup of an ID with this hash begins. A bulk insert
  /// (open) prefetches a few IDs ahead: each bucket of a large table is a cache miss.
  @inlinable
  func prefetchBucket(for hash: UInt32) {
    buckets.withUnsafeBufferPointer { buckets in
      ReferencePrefetch.prefetch(buckets.baseAddress.unsafelyUnwrapped + (Int(hash) & (buckets.count - 1)))
    }
  }

  /// Starts loading the slot the bucket for `hash` points to, when that bucket, prefetched
  /// earlier (``prefetchBucket(for:)``), holds an ID with this hash: replay touches records
  /// all over a large table, and its slot is a second cache miss after the bucket.
  @inlinable
  func prefetchEntry(for hash: UInt32) {
    let bucket = buckets[Int(hash) & (buckets.count - 1)]
    guard bucket != 0, UInt32(truncatingIfNeeded: bucket) == hash else { return }
    let slot = Int(truncatingIfNeeded: bucket >> 32) - 1
    slots.withUnsafeBufferPointer { slots in
      let entry = UnsafeRawPointer(slots.baseAddress.unsafelyUnwrapped + slot)
      // An entry spans two cache lines for most records.
      ReferencePrefetch.prefetch(entry)
      ReferencePrefetch.prefetch(entry + 64)
    }
  }

  @inlinable
  func get(_ id: String) -> Record? { get(id, hash: Self.hash(id)) }

  /// ``get(_:)`` with the ID's ``hash(_:)`` computed by the caller.
  @inlinable
  func get(_ id: String, hash: UInt32) -> Record? {
    guard let slot = find(id, hash: hash).slot else { return nil }
    return slots.withUnsafeBufferPointer { $0[slot].record }
  }

  @inlinable
  func contains(_ id: String) -> Bool { find(id, hash: Self.hash(id)).slot != nil }

  func slot(of id: String) -> Int? { find(id, hash: Self.hash(id)).slot }

  /// Sets a record: an existing ID keeps its place, a new one goes to the end. Returns the
  /// previous record, if any, and the slot.
  @inlinable
  @discardableResult
  mutating func set(_ id: String, _ record: consuming Record) -> (previous: Record?, slot: Int) {
    set(id, record, hash: Self.hash(id))
  }

  /// ``set(_:_:)`` with the ID's ``hash(_:)`` computed beforehand (see ``prefetchBucket(for:)``).
  @inlinable @inline(__always)
  @discardableResult
  mutating func set(_ id: String, _ record: consuming Record, hash: UInt32) -> (previous: Record?, slot: Int) {
    var previous: Record? = nil
    let slot = set(id, record, hash: hash, previous: &previous)
    return (consume previous, slot)
  }

  /// ``set(_:_:hash:)`` that moves the record before into `previous` (untouched for a new ID)
  /// and returns the slot: where this code is not specialized for `Record`, taking a record
  /// out of a returned tuple copied it (a retain per reference it holds, each a cache miss
  /// for a record not read lately) before the tuple was destroyed.
  @inlinable @inline(__always)
  mutating func set(_ id: String, _ record: consuming Record, hash: UInt32, previous: inout Record?) -> Int {
    let (bucket, found) = find(id, hash: hash)
    if let slot = found {
      // Taken out, not read: reading copied the record (a retain per reference it holds)
      // and overwriting the slot then released the original. The slot keeps its ID.
      previous = slots[slot].record.take()
      // Consumed explicitly: without it the record was copied into the slot (a retain per
      // reference it holds) and the parameter destroyed afterwards.
      slots[slot].record = consume record
      return slot
    }
    let slot = slots.count
    slots.append(Entry(id: id, record: consume record))
    insert(slot: slot, hash: hash, at: bucket)
    return slot
  }

  /// ``set(_:_:)`` for each of `ids` in order with the record at the same position, taken
  /// out of `records` (each is left `nil`, so nothing is copied). A bulk insert (open) loops
  /// here instead of calling ``set(_:_:)`` per record: its caller is generic code that is not
  /// specialized, where each call looked up the generic metadata of the table's types again
  /// (~7 % of an open). Each ID is hashed first, so that its bucket is prefetched a few
  /// inserts before its turn: each bucket of a large table is a cache miss.
  mutating func setAll(_ ids: ArraySlice<String>, moving records: inout [Record?]) {
    precondition(ids.count == records.count, "one record per ID")
    let hashes = ids.map(Self.hash)
    let lookahead = 8
    var position = 0
    for id in ids {
      if position + lookahead < hashes.count { prefetchBucket(for: hashes[position + lookahead]) }
      // `guard let` moves the record out; `unsafelyUnwrapped`, a getter, would copy it.
      guard let record = records[position].take() else { preconditionFailure("one record per ID") }
      // A repeated ID's earlier record is dropped; taken through `previous` rather than a
      // discarded tuple, for the reason given at ``set(_:_:hash:previous:)``.
      var previous: Record? = nil
      _ = set(id, consume record, hash: hashes[position], previous: &previous)
      position += 1
    }
    records.removeAll()
  }

  /// Indexes a new slot at the empty bucket `find` gave for it, growing the index first when
  /// it would pass half full (which moves the bucket).
  @inlinable
  mutating func insert(slot: Int, hash: UInt32, at bucket: Int) {
    precondition(slot < Int(UInt32.max), "a table holds fewer than 2^32 - 1 slots")
    count += 1
    var bucket = bucket
    if count * 2 > buckets.count {
      grow()
      bucket = emptyBucket(for: hash)
    }
    buckets[bucket] = UInt64(slot + 1) << 32 | UInt64(hash)
  }

  @usableFromInline
  func emptyBucket(for hash: UInt32) -> Int {
    let mask = buckets.count - 1
    var bucket = Int(hash) & mask
    while buckets[bucket] != 0 { bucket = (bucket + 1) & mask }
    return bucket
  }

  /// Doubles the buckets, placing every entry again by its stored hash bits.
  @usableFromInline
  mutating func grow() {
    let old = buckets
    buckets = Array(repeating: 0, count: old.count * 2)
    for entry in old where entry != 0 {
      buckets[emptyBucket(for: UInt32(truncatingIfNeeded: entry))] = entry
    }
  }

  /// Empties `bucket` and moves later entries of its probe run back into the gap, so that
  /// every remaining entry stays reachable from its home bucket (no tombstones).
  @usableFromInline
  mutating func removeBucket(_ bucket: Int) {
    let mask = buckets.count - 1
    var hole = bucket
    var next = (hole + 1) & mask
    while buckets[next] != 0 {
      let home = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: buckets[next])) & mask
      // The entry may fill the hole when the hole lies on its probe path, home ... next.
      if (next &- home) & mask >= (next &- hole) & mask {
        buckets[hole] = buckets[next]
        hole = next
      }
      next = (next + 1) & mask
    }
    buckets[hole] = 0
  }

  /// Removes a record, leaving a hole; returns it with its slot.
  @inlinable
  @discardableResult
  mutating func remove(_ id: String) -> (record: Record, slot: Int)? {
    var removed: Record? = nil
    guard let slot = remove(id, removed: &removed), let record = removed.take() else { return nil }
    return (record, slot)
  }

  /// ``remove(_:)`` that moves the record into `removed` and returns its slot, `nil` when
  /// the table does not hold `id` (for the reason given at ``set(_:_:hash:previous:)``).
  @inlinable
  mutating func remove(_ id: String, hash: UInt32? = nil, removed: inout Record?) -> Int? {
    let (bucket, found) = find(id, hash: hash ?? Self.hash(id))
    guard let slot = found else { return nil }
    removeBucket(bucket)
    count -= 1
    removed = takeRecord(at: slot)
    if slot == slots.count - 1 { trimTrailingHoles() }
    return slot
  }

  /// Moves the record out of an occupied slot, leaving a hole.
  @inlinable
  mutating func takeRecord(at slot: Int) -> Record {
    guard let record = slots[slot].record.take() else { preconditionFailure("an indexed slot holds a record") }
    slots[slot].id = ""
    return record
  }

  /// Puts a deleted record back in the slot it had (undo of a delete).
  mutating func restore(_ id: String, _ record: Record, at slot: Int) {
    if slot >= slots.count {
      slots.append(contentsOf: repeatElement(Entry.hole, count: slot - slots.count + 1))
    }
    precondition(slots[slot].record == nil, "undo must restore into the hole its delete left")
    let hash = Self.hash(id)
    let (bucket, found) = find(id, hash: hash)
    precondition(found == nil, "undo must restore an ID the table does not hold")
    slots[slot] = Entry(id: id, record: record)
    insert(slot: slot, hash: hash, at: bucket)
  }

  @usableFromInline
  mutating func trimTrailingHoles() {
    while let last = slots.last, last.record == nil { slots.removeLast() }
  }

  /// Squeezes out the holes. Invalidates slots handed out before.
  mutating func compact() {
    guard holeCount > 0 else { return }
    var compacted: [Entry] = []
    compacted.reserveCapacity(count)
    var newSlot = [UInt32](repeating: 0, count: slots.count)
    for (slot, entry) in slots.enumerated() where entry.record != nil {
      newSlot[slot] = UInt32(compacted.count)
      compacted.append(entry)
    }
    slots = compacted
    for bucket in buckets.indices where buckets[bucket] != 0 {
      let entry = buckets[bucket]
      let moved = UInt64(newSlot[Int(truncatingIfNeeded: entry >> 32) - 1]) + 1
      buckets[bucket] = moved << 32 | (entry & 0xFFFF_FFFF)
    }
  }

  /// Records in order.
  ///
  /// Reads each slot in place instead of binding it with `if let`: the binding copies the
  /// whole entry (a retain per reference the record holds) even for records the caller only
  /// looks at, which made a scan several times slower than the predicate it runs.
  @inlinable
  func forEach(_ body: (String, Record) throws -> Void) rethrows {
    for index in slots.indices where slots[index].record != nil {
      try body(slots[index].id, slots[index].record.unsafelyUnwrapped)
    }
  }
}

extension RecordTable {
  /// The records for which `isIncluded(id, record)` is true, in order.
  ///
  /// Each slot is read in place and only the matches are copied, on the caller's thread (the
  /// predicate need not be `Sendable`). Copying a match costs a retain for each reference the
  /// record holds, which is most of a large filter: matches are gathered in batches whose
  /// objects are prefetched before they are copied (``ReferencePrefetch``), so that those
  /// retains' cache misses overlap instead of following each other. Doing the copies on a
  /// second thread cost more than it saved (Benchmarks/PROFILE-NOTES.md, fifth session).
  @inlinable
  func records(where isIncluded: (String, Record) throws -> Bool) rethrows -> [Record] {
    try copies(where: isIncluded) { _, record in record }
  }

  /// Every ID with its record, in order, copied as ``records(where:)`` copies.
  @inlinable
  func entries() -> [(id: String, record: Record)] {
    copies(where: { _, _ in true }) { id, record in (id, record) }
  }

  /// `copy` of every entry for which `isIncluded` is true, in order, matches gathered in
  /// prefetched batches.
  ///
  /// The copies go into fixed-size chunks and then, moved, into one array of exactly their
  /// number: appending to the result directly regrew it by doubling, each regrowth a fresh
  /// allocation (its pages faulted in, the copies so far moved over), about a fifth of a large
  /// filter (Benchmarks/PROFILE-NOTES.md, ninth session).
  @inlinable
  func copies<Copy>(
    where isIncluded: (String, Record) throws -> Bool, _ copy: (String, Record) -> Copy
  ) rethrows -> [Copy] {
    var gathered = GatheredCopies<Copy>()
    try slots.withUnsafeBufferPointer { slots in
      guard let base = slots.baseAddress else { return }
      try withUnsafeTemporaryAllocation(of: Int.self, capacity: ReferencePrefetch.batchSize) { batch in
        var batched = 0
        for index in slots.indices where slots[index].record != nil {
          if try isIncluded(slots[index].id, slots[index].record.unsafelyUnwrapped) {
            ReferencePrefetch.prefetchReferences(of: base + index)
            batch[batched] = index
            batched += 1
            if batched == ReferencePrefetch.batchSize {
              for position in 0..<batched {
                gathered.append(copy(slots[batch[position]].id, slots[batch[position]].record.unsafelyUnwrapped))
              }
              batched = 0
            }
          }
        }
        for position in 0..<batched {
          gathered.append(copy(slots[batch[position]].id, slots[batch[position]].record.unsafelyUnwrapped))
        }
      }
    }
    return gathered.takeAll()
  }
}

/// Values appended one by one into fixed-size chunks, then moved into one array of exactly
/// their number (``RecordTable/copies(where:_:)``). Whatever is still held when it ends (a
/// predicate threw) is destroyed and freed.
@usableFromInline
struct GatheredCopies<Element>: ~Copyable {
  @usableFromInline var chunks: [UnsafeMutablePointer<Element>] = []
  /// The last chunk, where the next element goes (appending reads no array).
  @usableFromInline var current: UnsafeMutablePointer<Element>? = nil
  /// Elements in the last chunk; every earlier chunk is full.
  @usableFromInline var lastCount = 0
  @usableFromInline var count = 0

  /// About 64 KiB a chunk: small enough to come from the heap the allocator reuses, not a
  /// fresh mapping.
  @inlinable
  static var chunkCapacity: Int { Swift.max(16, 65_536 / Swift.max(1, MemoryLayout<Element>.stride)) }

  @inlinable
  init() {}

  @inlinable
  mutating func append(_ element: consuming Element) {
    if current == nil || lastCount == Self.chunkCapacity {
      let chunk = UnsafeMutablePointer<Element>.allocate(capacity: Self.chunkCapacity)
      chunks.append(chunk)
      current = chunk
      lastCount = 0
    }
    (current.unsafelyUnwrapped + lastCount).initialize(to: element)
    lastCount += 1
    count += 1
  }

  /// Every element, in order, moved out; leaves this empty.
  @inlinable
  mutating func takeAll() -> [Element] {
    let total = count
    let result = [Element](unsafeUninitializedCapacity: total) { buffer, initialized in
      var offset = 0
      for (index, chunk) in chunks.enumerated() {
        let held = index == chunks.count - 1 ? lastCount : Self.chunkCapacity
        (buffer.baseAddress.unsafelyUnwrapped + offset).moveInitialize(from: chunk, count: held)
        chunk.deallocate()
        offset += held
      }
      initialized = total
    }
    chunks = []
    current = nil
    lastCount = 0
    count = 0
    return result
  }

  @inlinable
  deinit {
    for (index, chunk) in chunks.enumerated() {
      chunk.deinitialize(count: index == chunks.count - 1 ? lastCount : Self.chunkCapacity)
      chunk.deallocate()
    }
  }
}

extension RecordTable where Record: Sendable {
  /// Applies an operation as replay does: a set stores its record, a delete removes it.
  /// Moves the record before into `previous` (for the journal) and returns its slot (`-1`
  /// for a delete of a record that is not there), or `nil` for a set without a record, which
  /// changes nothing. An `inout` record rather than a returned tuple, for the reason given at
  /// ``set(_:_:hash:previous:)``.
  ///
  /// `hash` is the ID's ``hash(_:)`` when the caller computed it already.
  @inlinable
  mutating func apply(
    _ operation: LogOperation<Record>, hash: UInt32? = nil, previous: inout Record?
  ) -> Int? {
    let idHash = hash ?? Self.hash(operation.id)
    switch operation.kind {
    case .set:
      // Copied once, straight into the slot: the table and the operation (in the journal)
      // each hold the record. Binding it with `guard let` copied it into a temporary
      // optional first, with a second copy and a destroy (a retain and a release per
      // reference it holds): a fifth of this call in `write-async`.
      guard operation.data != nil else { return nil }
      return set(operation.id, operation.data.unsafelyUnwrapped, hash: idHash, previous: &previous)
    case .delete:
      return remove(operation.id, hash: idHash, removed: &previous) ?? -1
    }
  }
}

extension RecordTable: Sendable where Record: Sendable {}
extension RecordTable.Entry: Sendable where Record: Sendable {}
