/// A JSON object: members keep their insertion order, and lookup by key is O(1).
///
/// Small objects (the common record) are searched linearly, which beats hashing below a
/// handful of keys; from `indexThreshold` keys on, a hash index is kept beside the members.
/// `==` ignores member order, as JSON does; serialization and iteration keep it.
///
/// Keys are compared and hashed by their exact code points (``ExactString``), as JavaScript
/// compares them, not by Swift's canonical equivalence: `"é"` (U+00E9) and `"e\u{301}"` are
/// two keys, each with its own value.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
  /// A member: its name and its value.
  public typealias Element = (key: String, value: JSONValue)

  /// Member count from which a hash index is maintained.
  @usableFromInline static let indexThreshold = 12

  @usableFromInline var storedKeys: [String]
  @usableFromInline var storedValues: [JSONValue]
  @usableFromInline var index: [ExactString: Int]?

  /// An empty object.
  public init() {
    storedKeys = []
    storedValues = []
    index = nil
  }

  /// An empty object with room for `minimumCapacity` members before its storage grows.
  public init(minimumCapacity: Int) {
    self.init()
    storedKeys.reserveCapacity(minimumCapacity)
    storedValues.reserveCapacity(minimumCapacity)
  }

  /// Keys keep the literal's order; a repeated key keeps its first place and its last value.
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self.init(elements)
  }

  /// Builds an object from members in order; a repeated key keeps its first place and its last value.
  public init(_ members: some Sequence<(String, JSONValue)>) {
    self.init(minimumCapacity: members.underestimatedCount)
    for (key, value) in members { self[key] = value }
  }

  /// The member names, in insertion order.
  public var keys: [String] { storedKeys }
  /// The member values, in the order of ``keys``.
  public var values: [JSONValue] { storedValues }
  /// The number of members (each key counts once).
  public var count: Int { storedKeys.count }
  /// Whether the object has no members.
  public var isEmpty: Bool { storedKeys.isEmpty }

  @inlinable
  func position(of key: String) -> Int? {
    if let index { return index[ExactString(key)] }
    for position in storedKeys.indices where ExactString.areIdentical(storedKeys[position], key) {
      return position
    }
    return nil
  }

  /// The member named exactly `key` (same code points). Setting `nil` removes it (O(n), rare for records); setting a new
  /// key appends it; setting an existing key keeps its place.
  public subscript(key: String) -> JSONValue? {
    get {
      guard let position = position(of: key) else { return nil }
      return storedValues[position]
    }
    set {
      if let newValue {
        if let position = position(of: key) {
          storedValues[position] = newValue
        } else {
          appendNew(key, newValue)
        }
      } else if let position = position(of: key) {
        storedKeys.remove(at: position)
        storedValues.remove(at: position)
        rebuildIndex()
      }
    }
  }

  /// Appends a member whose key the caller knows is not present yet (the parser checks
  /// duplicates itself). Keeps the index up to date.
  public mutating func appendNew(_ key: String, _ value: JSONValue) {
    storedKeys.append(key)
    storedValues.append(value)
    if index != nil {
      index![ExactString(key)] = storedKeys.count - 1
    } else if storedKeys.count >= Self.indexThreshold {
      rebuildIndex()
    }
  }

  /// Removes and returns the member named `key`, if any.
  @discardableResult
  public mutating func removeValue(forKey key: String) -> JSONValue? {
    let old = self[key]
    if old != nil { self[key] = nil }
    return old
  }

  mutating func rebuildIndex() {
    guard storedKeys.count >= Self.indexThreshold else {
      index = nil
      return
    }
    var rebuilt = [ExactString: Int](minimumCapacity: storedKeys.count)
    for (position, key) in storedKeys.enumerated() { rebuilt[ExactString(key)] = position }
    index = rebuilt
  }

  /// Iterates over the members in insertion order.
  public struct Iterator: IteratorProtocol {
    let object: JSONObject
    var position = 0
    /// The next member in insertion order, or `nil` after the last.
    public mutating func next() -> Element? {
      guard position < object.storedKeys.count else { return nil }
      defer { position += 1 }
      return (object.storedKeys[position], object.storedValues[position])
    }
  }

  /// An iterator over the members in insertion order (a replaced value keeps its key's place),
  /// the order in which they are serialized.
  public func makeIterator() -> Iterator { Iterator(object: self) }

  /// The exact member count.
  public var underestimatedCount: Int { count }

  /// Whether both objects have the same keys (exactly, code point for code point) with equal
  /// values (``JSONValue``'s `==`, so `1` equals `1.0`), in any order.
  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for position in lhs.storedKeys.indices {
      guard let other = rhs[lhs.storedKeys[position]], other == lhs.storedValues[position] else {
        return false
      }
    }
    return true
  }

  /// Hashes the members without regard to their order, so that objects equal by `==` hash alike.
  public func hash(into hasher: inout Hasher) {
    // Order-independent, to agree with ==: members are hashed one by one and combined
    // commutatively.
    var combined = 0
    for position in storedKeys.indices {
      var member = Hasher()
      ExactString.hash(storedKeys[position], into: &member)
      member.combine(storedValues[position])
      combined = combined &+ member.finalize()
    }
    hasher.combine(count)
    hasher.combine(combined)
  }
}
