import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Thrown inside the streaming decoder when an object it reads repeats a key. The last one
/// must win (as in `JSON.parse`), but the streaming decoder may already have read the first,
/// so ``RecordDecoder`` decodes the document again from its parsed tree, which keeps only the
/// last value of each key. The context's flag is set as well, in case a type's `init(from:)`
/// catches this error and goes on.
struct RecordRepeatedKey: Error {}

/// The keys an object's decoder has matched at its scan cursor, kept so that a repeat of one
/// of them is noticed: each key's offset and length in the input (a key matched there holds
/// no escapes, so its raw bytes are the key), with a one-word filter over cheap fingerprints
/// so that the usual check, a key not seen before, costs a mask test.
///
/// Memory is owned here and freed by ``deallocate()``; a pooled decoder keeps it from one
/// value to the next.
struct MatchedKeyList {
  struct Entry {
    var start: Int
    var length: Int
  }

  var storage: UnsafeMutablePointer<Entry>? = nil
  var count = 0
  var capacity = 0
  var filter: UInt64 = 0

  /// The filter bit of a key: from its length and first byte, which tell apart the keys of
  /// most types (cheap matters more than spread here: this runs for every member read).
  @inline(__always)
  static func filterBit(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
    let count = key.count
    let first = count > 0 ? Int(key[0]) : 0
    return 1 << UInt64(truncatingIfNeeded: (count &* 13 &+ first) & 63)
  }

  @inline(__always)
  mutating func removeAll() {
    count = 0
    filter = 0
  }

  /// Whether `key`, the key of the member whose raw key bytes start at `start`, repeats a key
  /// in the list: one with the same bytes at another offset. A member located again (same
  /// offset) is not a repeat.
  @inline(__always)
  func isRepeat(_ key: UnsafeBufferPointer<UInt8>, at start: Int, in base: UnsafePointer<UInt8>) -> Bool {
    guard filter & Self.filterBit(key) != 0 else { return false }
    return searchRepeat(key, at: start, in: base) == .repeated
  }

  /// Whether the list holds `key`.
  @inline(__always)
  func contains(_ key: UnsafeBufferPointer<UInt8>, in base: UnsafePointer<UInt8>) -> Bool {
    guard filter & Self.filterBit(key) != 0 else { return false }
    // No member starts at offset -1, so any entry with the same bytes counts.
    return searchRepeat(key, at: -1, in: base) == .repeated
  }

  enum SearchResult {
    case absent
    case sameMember
    case repeated
  }

  @inline(never)
  func searchRepeat(_ key: UnsafeBufferPointer<UInt8>, at start: Int, in base: UnsafePointer<UInt8>) -> SearchResult {
    guard let storage else { return .absent }
    for index in 0..<count {
      let entry = storage[index]
      guard entry.length == key.count else { continue }
      if entry.start == start { return .sameMember }
      if key.count == 0 || memcmp(base + entry.start, key.baseAddress!, key.count) == 0 { return .repeated }
    }
    return .absent
  }

  /// Records the key matched at `start` (the offset after its opening quote) and returns
  /// false, or returns true without recording it when it repeats a key already in the list.
  @inline(__always)
  mutating func note(_ key: UnsafeBufferPointer<UInt8>, at start: Int, in base: UnsafePointer<UInt8>) -> Bool {
    let bit = Self.filterBit(key)
    let seen = filter
    if seen & bit != 0 {
      switch searchRepeat(key, at: start, in: base) {
      case .repeated: return true
      // Located again (`contains`, then a decode): recorded already.
      case .sameMember: return false
      case .absent: break
      }
    }
    filter = seen | bit
    let index = count
    if index == capacity { grow() }
    storage.unsafelyUnwrapped[index] = Entry(start: start, length: key.count)
    count = index + 1
    return false
  }

  mutating func grow() {
    let newCapacity = Swift.max(16, capacity * 2)
    let grown = UnsafeMutablePointer<Entry>.allocate(capacity: newCapacity)
    if let storage {
      grown.initialize(from: storage, count: count)
      storage.deallocate()
    }
    storage = grown
    capacity = newCapacity
  }

  mutating func deallocate() {
    storage?.deallocate()
    storage = nil
    count = 0
    capacity = 0
    filter = 0
  }
}

extension RecordValueDecoder {
  /// The error for a repeated key, with the context marked so that the document is decoded
  /// again from its tree whatever the type does with the error.
  func repeatedKeyFound() -> RecordRepeatedKey {
    context.sawRepeatedKey = true
    return RecordRepeatedKey()
  }

  /// Whether a member table (all of an object's members, in order) names a key twice.
  static func hasRepeatedKey(_ members: [Member]) -> Bool {
    if members.count < 2 { return false }
    if members.count <= 16 {
      for later in 1..<members.count {
        for earlier in 0..<later where ExactString.areIdentical(members[earlier].key, members[later].key) {
          return true
        }
      }
      return false
    }
    var seen = Set<ExactString>(minimumCapacity: members.count)
    for member in members where !seen.insert(ExactString(member.key)).inserted { return true }
    return false
  }

  /// Checks the key of a member that the type did not read, at `parser`'s position (its
  /// opening quote), against the keys matched at the cursor, then steps past `"key" :` as
  /// ``JSONParser/skipMemberKey()`` does. Returns the key when `decoded` is set (for reporting
  /// unknown keys), nil otherwise.
  @inline(__always)
  func checkSkippedKey(_ parser: inout JSONParser, decoded: Bool) throws -> String? {
    try parser.expectMemberKey()
    let quote = parser.position
    try parser.skipString()
    let keyStart = quote + 1
    let raw = UnsafeBufferPointer(start: base + keyStart, count: parser.position - 1 - keyStart)
    let matched = fields.pointee.matchedKeys
    guard decoded || matched.count > 0 else {
      try parser.skipNameSeparator()
      return nil
    }
    // A key with escapes is compared (and reported) as the string it stands for.
    var name: String? = nil
    if raw.contains(UInt8(ascii: "\\")) {
      var keyParser = self.parser(at: quote, depth: depth + 1)
      var unescaped = try keyParser.parseString()
      if matched.count > 0 {
        let isRepeat = unescaped.withUTF8 { key in
          matched.isRepeat(key, at: keyStart, in: base)
        }
        if isRepeat { throw repeatedKeyFound() }
      }
      name = unescaped
    } else {
      if matched.count > 0,
        matched.isRepeat(raw, at: keyStart, in: base)
      {
        throw repeatedKeyFound()
      }
      if decoded { name = String(decoding: raw, as: UTF8.self) }
    }
    try parser.skipNameSeparator()
    return decoded ? name : nil
  }
}

extension JSONParser {
  /// Whether an object anywhere in the document repeats a key, by the parser's own rule for
  /// which keys are one (``JSONObject``'s exact comparison, as `JSON.parse`'s); false for a
  /// document that does not parse.
  ///
  /// The streaming decoder notices a repeat only once it has read past it. A type that fails
  /// on the first of two members with one key (a string where the last member holds an
  /// integer) fails before that, so a failed streaming decode asks this first: where a key
  /// repeats, the failure may be the first value's, and the parsed tree, in which the last
  /// value won, decides. Only failures pay for this parse.
  static func documentRepeatsAKey(_ buffer: UnsafeRawBufferPointer) -> Bool {
    var parser = JSONParser(buffer)
    parser.skipWhitespace()
    guard (try? parser.parseValue()) != nil else { return false }
    return parser.didRepeatAKey
  }
}
