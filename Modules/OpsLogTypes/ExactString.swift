#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A string compared, hashed and ordered by its exact Unicode code points, as JavaScript
/// compares strings, rather than by Swift's canonical equivalence.
///
/// Swift's `String` treats `"é"` (U+00E9) and `"e\u{301}"` (an `e` and a combining acute
/// accent) as equal, and hashes them alike. JSON, opslog for Node and the on-disk format do
/// not: they are two record IDs and two object keys (Docs/FORMAT.md, "Ids"). Wrap a string in
/// `ExactString` to use it as a `Dictionary` key or `Set` element with that rule, or call
/// ``areIdentical(_:_:)`` and ``hash(_:into:)`` on plain strings.
///
/// Two strings are identical exactly when their UTF-8 bytes are, so `==` costs a length
/// check and one `memcmp`, and hashing costs one pass over the bytes: no normalization, and
/// no slower than `String`'s own fast path for ASCII. `<` orders by UTF-8 bytes, which is
/// code-point order (not JavaScript's UTF-16 order, which differs only for code points above
/// U+FFFF against U+E000…U+FFFF).
public struct ExactString: Sendable, Hashable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
  /// The wrapped string, unchanged.
  public var string: String

  /// Wraps `string` as it is; nothing is normalized.
  @inlinable
  public init(_ string: String) { self.string = string }

  /// Wraps the literal as it is written.
  @inlinable
  public init(stringLiteral value: String) { self.string = value }

  /// The string itself.
  public var description: String { string }

  /// Whether the two strings hold the same code points in the same order (equal UTF-8 bytes).
  @inlinable
  public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
    areIdentical(lhs.string, rhs.string)
  }

  /// Hashes the UTF-8 bytes, so that strings equal by `==` hash alike and canonically
  /// equivalent but different strings (almost always) do not.
  @inlinable
  public func hash(into hasher: inout Hasher) { Self.hash(string, into: &hasher) }

  /// Orders by UTF-8 bytes, that is by code points.
  @inlinable
  public static func < (lhs: ExactString, rhs: ExactString) -> Bool {
    precedes(lhs.string, rhs.string)
  }

  /// Whether `lhs` and `rhs` hold the same code points in the same order: their UTF-8 bytes
  /// are equal. O(n) in the shorter length, O(1) when the lengths differ.
  @inlinable
  public static func areIdentical(_ lhs: String, _ rhs: String) -> Bool {
    // The same storage, or the same small string: equal bits mean equal contents. The common
    // case for keys and IDs that come from one literal or one decoded string.
    if MemoryLayout<String>.size == 16,
      unsafeBitCast(lhs, to: (UInt64, UInt64).self) == unsafeBitCast(rhs, to: (UInt64, UInt64).self)
    {
      return true
    }
    let count = lhs.utf8.count
    guard count == rhs.utf8.count else { return false }
    if count == 0 { return true }
    let compared = lhs.utf8.withContiguousStorageIfAvailable { left in
      rhs.utf8.withContiguousStorageIfAvailable { right in
        memcmp(left.baseAddress!, right.baseAddress!, count) == 0
      }
    }
    if let compared, let compared { return compared }
    // A string that is not stored as contiguous UTF-8 (a bridged one on Apple platforms).
    return lhs.utf8.elementsEqual(rhs.utf8)
  }

  /// Feeds `string`'s UTF-8 bytes, then a terminator that no UTF-8 byte equals (so that a
  /// string followed by other hashed values cannot run into them), to `hasher`.
  @inlinable
  public static func hash(_ string: String, into hasher: inout Hasher) {
    let hashed: Void? = string.utf8.withContiguousStorageIfAvailable { bytes in
      hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
    }
    if hashed == nil {
      Array(string.utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
    }
    hasher.combine(0xFF as UInt8)
  }

  /// Whether `lhs` comes before `rhs` in UTF-8 byte order (code-point order).
  @inlinable
  public static func precedes(_ lhs: String, _ rhs: String) -> Bool {
    let leftCount = lhs.utf8.count
    let rightCount = rhs.utf8.count
    let common = Swift.min(leftCount, rightCount)
    if common > 0 {
      let compared = lhs.utf8.withContiguousStorageIfAvailable { left in
        rhs.utf8.withContiguousStorageIfAvailable { right in
          memcmp(left.baseAddress!, right.baseAddress!, common)
        }
      }
      if let compared, let compared {
        if compared != 0 { return compared < 0 }
        return leftCount < rightCount
      }
      return lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
    return leftCount < rightCount
  }
}
