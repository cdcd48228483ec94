/// Record IDs compared and hashed by their exact code points, as JavaScript compares strings
/// (FORMAT.md, "Ids"): Swift's `String ==` is canonical equivalence, under which "é" (U+00E9)
/// and "e" + U+0301 are one string, where opslog keeps two records.
@usableFromInline
enum ExactID {
  /// Whether `a` and `b` are the same code points.
  @inlinable
  static func same(_ a: String, _ b: String) -> Bool {
    // Exact equality implies canonical equivalence, so the standard comparison (fast for
    // ASCII) settles every unequal pair; only pairs it calls equal need their bytes compared.
    guard a == b else { return false }
    if let exact = a.utf8.withContiguousStorageIfAvailable({ left in
      b.utf8.withContiguousStorageIfAvailable { right in left.elementsEqual(right) }
    }), let exact {
      return exact
    }
    return a.utf8.elementsEqual(b.utf8)
  }

  /// A hash of the ID's UTF-8 bytes: equal for exactly equal IDs only (up to collisions).
  @inlinable
  static func hash(_ id: String) -> Int {
    var hasher = Hasher()
    if id.utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
      for byte in id.utf8 { hasher.combine(byte) }
    }
    return hasher.finalize()
  }
}

/// A `String` as a dictionary key compared by its exact code points (see ``ExactID``).
@usableFromInline
struct ExactKey: Hashable, Sendable {
  @usableFromInline let value: String

  @inlinable
  init(_ value: String) { self.value = value }

  @inlinable
  static func == (lhs: ExactKey, rhs: ExactKey) -> Bool { ExactID.same(lhs.value, rhs.value) }

  @inlinable
  func hash(into hasher: inout Hasher) {
    if value.utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
      for byte in value.utf8 { hasher.combine(byte) }
    }
  }
}
