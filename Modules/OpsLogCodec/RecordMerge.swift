import OpsLogTypes

/// Carries the members a record type does not know from a stored record into its new
/// encoding, so that an update written from the type keeps them (Docs/API.md, "Schema safety").
public enum RecordMerge {
  /// `newEncodedBytes` with the top-level members of `storedObjectBytes` named in `keys`
  /// that it lacks appended after its own members, in the stored object's order, each key and
  /// value copied byte for byte from the stored object.
  ///
  /// A key that the new encoding has is left as the new encoding writes it; a key the stored
  /// object lacks is ignored. When the stored object repeats a key, it is appended once, in its
  /// first place with its last value, as a parse reads it. When either input is not one valid
  /// JSON object, or there is nothing to add, `newEncodedBytes` is returned unchanged.
  /// Keys compare by exact code points (`ExactString`).
  ///
  /// - Complexity: O(n) in the two inputs' sizes.
  public static func mergingUnknownKeys(
    _ keys: [String], from storedObjectBytes: UnsafeRawBufferPointer, into newEncodedBytes: [UInt8]
  ) -> [UInt8] {
    guard !keys.isEmpty, let stored = try? topLevelMembers(of: storedObjectBytes) else { return newEncodedBytes }
    let present = newEncodedBytes.withUnsafeBytes { try? topLevelMembers(of: $0) }
    guard let present else { return newEncodedBytes }
    let existing = Set(present.members.map { ExactString($0.key) })
    let wanted = Set(keys.map { ExactString($0) })
    // A stored key that repeats: its first place, its last value, as a parse reads it.
    var lastIndex: [ExactString: Int] = [:]
    for (index, member) in stored.members.enumerated() { lastIndex[ExactString(member.key)] = index }

    var merged = newEncodedBytes
    // Drop the closing brace (and any white space after it) to append members.
    merged.removeSubrange(present.closingBrace...)
    var hasMembers = !present.members.isEmpty
    var appended = Set<ExactString>()
    for member in stored.members {
      let key = ExactString(member.key)
      guard wanted.contains(key), !existing.contains(key), appended.insert(key).inserted,
        let last = lastIndex[key]
      else { continue }
      let source = stored.members[last]
      if hasMembers { merged.append(UInt8(ascii: ",")) }
      merged.append(contentsOf: UnsafeRawBufferPointer(rebasing: storedObjectBytes[member.keyRange]))
      merged.append(UInt8(ascii: ":"))
      merged.append(contentsOf: UnsafeRawBufferPointer(rebasing: storedObjectBytes[source.valueRange]))
      hasMembers = true
    }
    guard !appended.isEmpty else { return newEncodedBytes }
    merged.append(UInt8(ascii: "}"))
    return merged
  }

  /// ``mergingUnknownKeys(_:from:into:)-(_,UnsafeRawBufferPointer,_)`` for stored bytes in any
  /// collection.
  public static func mergingUnknownKeys(
    _ keys: [String], from storedObjectBytes: some Collection<UInt8>, into newEncodedBytes: [UInt8]
  ) -> [UInt8] {
    if let merged = storedObjectBytes.withContiguousStorageIfAvailable({ buffer in
      mergingUnknownKeys(keys, from: UnsafeRawBufferPointer(buffer), into: newEncodedBytes)
    }) {
      return merged
    }
    return Array(storedObjectBytes).withUnsafeBytes { mergingUnknownKeys(keys, from: $0, into: newEncodedBytes) }
  }

  struct Member {
    let key: String
    /// The key's bytes with their quotes.
    let keyRange: Range<Int>
    let valueRange: Range<Int>
  }

  /// The top-level members of the one JSON object in `bytes`, in order, and the offset of its
  /// closing brace. Validates the whole input strictly.
  static func topLevelMembers(of bytes: UnsafeRawBufferPointer) throws -> (members: [Member], closingBrace: Int) {
    var parser = JSONParser(bytes)
    parser.skipWhitespace()
    guard parser.peek() == UInt8(ascii: "{") else { throw parser.error("expected an object") }
    try parser.enterNesting()
    parser.position += 1
    parser.skipWhitespace()
    var members: [Member] = []
    if parser.peek() == UInt8(ascii: "}") {
      parser.position += 1
    } else {
      repeat {
        try parser.expectMemberKey()
        let keyStart = parser.position
        let key = try parser.parseString()
        let keyEnd = parser.position
        try parser.skipNameSeparator()
        let valueStart = parser.position
        try parser.skipValue()
        members.append(Member(key: key, keyRange: keyStart..<keyEnd, valueRange: valueStart..<parser.position))
      } while try parser.endOfEntry(closing: UInt8(ascii: "}"))
    }
    let closingBrace = parser.position - 1
    parser.skipWhitespace()
    if parser.position != parser.end { throw parser.error("unexpected data after the JSON value") }
    return (members, closingBrace)
  }
}
