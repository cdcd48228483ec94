/// An array stored in fixed-size chunks, for the store's journal.
///
/// A plain array grows by reallocating and copying itself; for the journal, whose entries
/// are a few hundred bytes each and which grows by one entry per write until a checkpoint,
/// those copies and the page faults of each new, twice-as-large buffer were a sixth of a
/// buffered write. Here only the first chunk grows that way; every later chunk is allocated
/// once at full size, and nothing is ever copied to grow.
@usableFromInline
struct ChunkedArray<Element> {
  @usableFromInline static var chunkShift: Int { 9 }
  @usableFromInline static var chunkCapacity: Int { 1 << chunkShift }

  @usableFromInline var chunks: [[Element]] = []
  @usableFromInline var storedCount = 0

  @inlinable
  init() {}

  init(_ elements: some Sequence<Element>) {
    for element in elements { append(element) }
  }

  /// Takes `element` over: a journal entry holds a dozen references, and a borrowed one was
  /// copied in (retaining each) and then destroyed by the caller (releasing each), about 4 %
  /// of a buffered write (Benchmarks/PROFILE-NOTES.md, ninth session).
  @inlinable @inline(__always)
  mutating func append(_ element: consuming Element) {
    let chunk = storedCount >> Self.chunkShift
    if chunk == chunks.count {
      var fresh: [Element] = []
      // The first chunk starts small, so that a store with a short journal stays small.
      if chunk > 0 { fresh.reserveCapacity(Self.chunkCapacity) }
      chunks.append(fresh)
    }
    chunks[chunk].append(element)
    storedCount += 1
  }

  @discardableResult
  mutating func removeLast() -> Element {
    precondition(storedCount > 0, "removeLast from an empty journal")
    storedCount -= 1
    let chunk = storedCount >> Self.chunkShift
    let element = chunks[chunk].removeLast()
    // One emptied chunk is kept for the next append (undo and set alternating at a chunk
    // boundary must not allocate each time); any further one is given back.
    if chunks.count > chunk + 2 { chunks.removeLast() }
    return element
  }

  /// O(n): the journal removes from its middle only when merging other writers' operations.
  @discardableResult
  mutating func remove(at index: Int) -> Element {
    var elements = Array(self)
    let element = elements.remove(at: index)
    self = ChunkedArray(elements)
    return element
  }

  /// O(n): drops the first `count` elements (a checkpoint dropping the history its snapshot
  /// holds, keeping the operations that came after its cut).
  mutating func removeFirst(_ count: Int) {
    guard count > 0 else { return }
    if count >= storedCount {
      removeAll(keepingCapacity: true)
      return
    }
    self = ChunkedArray(Array(self.dropFirst(count)))
  }

  /// Empties the array; `keepingCapacity` keeps the first chunk's buffer.
  mutating func removeAll(keepingCapacity: Bool = false) {
    if keepingCapacity, !chunks.isEmpty {
      chunks.removeSubrange(1...)
      chunks[0].removeAll(keepingCapacity: true)
    } else {
      chunks = []
    }
    storedCount = 0
  }
}

extension ChunkedArray: RandomAccessCollection, MutableCollection {
  @inlinable
  var startIndex: Int { 0 }

  @inlinable
  var endIndex: Int { storedCount }

  @inlinable
  subscript(position: Int) -> Element {
    get {
      precondition(position >= 0 && position < storedCount, "journal index out of range")
      return chunks[position >> Self.chunkShift][position & (Self.chunkCapacity - 1)]
    }
    set {
      precondition(position >= 0 && position < storedCount, "journal index out of range")
      chunks[position >> Self.chunkShift][position & (Self.chunkCapacity - 1)] = newValue
    }
  }
}

extension ChunkedArray: Sendable where Element: Sendable {}
