import OpsLogTypes

/// Keeps fields a record type does not know across an update (API.md, "Schema safety"): an
/// application that decodes only some of a record's fields writes the record back with the
/// others as they were, byte for byte.
public enum RecordMerge {
  /// The new encoding of a record with the top-level members of the stored object named in
  /// `keys` appended, when the new encoding lacks them; their values are copied from `stored`
  /// byte for byte, in `stored`'s order.
  ///
  /// `encoded` is returned unchanged when either is not a JSON object, when `keys` is empty,
  /// or when the bytes are not valid JSON (nothing is guessed).
  /// - Complexity: O(`stored.count` + `encoded.count`).
  public static func mergingUnknownKeys(_ keys: [String], from stored: [UInt8], into encoded: [UInt8]) -> [UInt8] {
    guard !keys.isEmpty, let storedMembers = members(of: stored), let encodedMembers = members(of: encoded) else {
      return encoded
    }
    let wanted = Set(keys.map { ExactString($0) })
    let present = Set(encodedMembers.map { ExactString($0.key) })
    var seen = Set<ExactString>()
    var added: [Range<Int>] = []
    // The last of repeated keys wins, as when the stored record was read.
    for member in storedMembers.reversed() {
      let key = ExactString(member.key)
      guard wanted.contains(key), !present.contains(key), seen.insert(key).inserted else { continue }
      added.append(member.range)
    }
    guard !added.isEmpty else { return encoded }
    // `encoded` ends with `}`: the members go before it.
    var result = Array(encoded.dropLast())
    var needsComma = !encodedMembers.isEmpty
    for range in added.reversed() {
      if needsComma { result.append(UInt8(ascii: ",")) }
      result.append(contentsOf: stored[range])
      needsComma = true
    }
    result.append(UInt8(ascii: "}"))
    return result
  }

  /// The members of a JSON object: each key and the byte range of `"key":value`.
  static func members(of bytes: [UInt8]) -> [(key: String, range: Range<Int>)]? {
    bytes.withUnsafeBytes { raw -> [(key: String, range: Range<Int>)]? in
      var parser = JSONParser(raw)
      do {
        parser.skipWhitespace()
        guard parser.peek() == UInt8(ascii: "{") else { return nil }
        try parser.enterNesting()
        parser.position += 1
        parser.skipWhitespace()
        var members: [(key: String, range: Range<Int>)] = []
        if parser.peek() == UInt8(ascii: "}") { return members }
        repeat {
          parser.skipWhitespace()
          let start = parser.position
          let key = try parser.parseMemberKey()
          try parser.skipValue()
          members.append((key, start..<parser.position))
        } while try parser.endOfEntry(closing: UInt8(ascii: "}"))
        parser.skipWhitespace()
        guard parser.position == parser.end else { return nil }
        return members
      } catch {
        return nil
      }
    }
  }
}
