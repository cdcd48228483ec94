import OpsLogTypes

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A coding-path component for an array element, so that paths print as `tasks[2]`.
struct RecordIndexKey: CodingKey, Sendable {
  let intValue: Int?
  var stringValue: String { "Index \(intValue ?? 0)" }
  init(_ index: Int) { intValue = index }
  init?(stringValue: String) { return nil }
  init?(intValue: Int) { self.intValue = intValue }
}

/// Renders a coding path the way a reader would write it: `tasks[2].priority`.
func describeCodingPath(_ path: [any CodingKey]) -> String {
  if path.isEmpty { return "the top-level value" }
  var text = ""
  for key in path {
    if key is RecordIndexKey {
      text += "[\(key.intValue ?? 0)]"
    } else {
      if !text.isEmpty { text += "." }
      text += key.stringValue
    }
  }
  return text
}

/// One JSON value being decoded straight from the input bytes, without a tree in between.
///
/// Containers scan their members lazily: a key requested in the order it appears is matched
/// at the scan cursor and its value decoded in place, so each byte is read once. Any other
/// lookup builds a table of the whole object once. Whatever a type does not read is still
/// checked by a validating skip when its value ends (``finish()``), so the input is strict
/// JSON even where the type ignores it. The decoder must not outlive the call that created it:
/// it points into the caller's buffer.
final class RecordValueDecoder: CodingPathNode, Decoder, SingleValueDecodingContainer {
  struct Member {
    let key: String
    let valueOffset: Int
    /// Whether the type asked for this member (for ``UnknownKeys``).
    var isAsked = false
  }

  enum State {
    case untouched
    case object
    case array
    case done
  }

  /// Everything the decoder reads and writes while decoding. It lives behind a pointer the
  /// decoder owns, not in stored properties of the class: a class's `var`s are checked for
  /// exclusive access at run time on every read and write (about a tenth of the decode time),
  /// a pointer's memory is not.
  struct Fields {
    var base: UnsafePointer<UInt8>
    var end: Int
    /// Offset of the value's first byte; always below `end`.
    var start: Int
    /// Number of containers enclosing this value.
    var depth: Int
    var parent: RecordValueDecoder?
    var key: (any CodingKey)?
    var state = State.untouched
    /// Object: offset of the next member's opening quote. Array: offset of the next element.
    var cursor = 0
    /// Offset just after the value, once known; -1 before.
    var valueEnd = -1
    /// The container has been scanned up to its closing bracket.
    var isFinished = false
    var members: [Member]? = nil
    var lastFoundMember = -1
    var elementIndex = 0
    var cachedCount: Int? = nil
    /// The keyed container handed out last, and its key type: a pooled decoder serves values
    /// of the same type again and again, and building a `KeyedDecodingContainer` costs several
    /// run-time generic type lookups and an allocation.
    var cachedContainer = CachedKeyedContainer()
    /// Object: the keys read at the cursor, so that a repeated key is noticed.
    var matchedKeys = MatchedKeyList()
    /// Object: the length of the key last matched at the cursor.
    var matchedLength = 0
    /// Object: the member at the cursor was asked for (`contains`, `decodeNil`) but not read.
    var isCursorMemberAsked = false
    /// What this value left unread has been reported to the context (``UnknownKeys``).
    var hasReported = false
    /// Object: the cursor reached the end, every member read there (so each key is in
    /// `matchedKeys`).
    var isReadThroughAtCursor = false
  }

  let fields: UnsafeMutablePointer<Fields>
  /// Where pooled children come from.
  let context: RecordDecodingContext
  /// Whether this decoder is one of `context`'s pooled decoders (reused value after value).
  let isPooled: Bool

  init(
    base: UnsafePointer<UInt8>, end: Int, start: Int, depth: Int, parent: RecordValueDecoder?,
    key: (any CodingKey)?, context: RecordDecodingContext, isPooled: Bool = false
  ) {
    fields = .allocate(capacity: 1)
    fields.initialize(to: Fields(base: base, end: end, start: start, depth: depth, parent: parent, key: key))
    self.context = context
    self.isPooled = isPooled
  }

  deinit {
    fields.pointee.cachedContainer.clear()
    fields.pointee.matchedKeys.deallocate()
    fields.deinitialize(count: 1)
    fields.deallocate()
  }

  /// Makes a pooled decoder ready for a new value.
  @inline(__always)
  func reset(base: UnsafePointer<UInt8>, end: Int, start: Int, parent: RecordValueDecoder?, key: (any CodingKey)?) {
    let f = fields
    f.pointee.base = base
    f.pointee.end = end
    f.pointee.start = start
    f.pointee.parent = parent
    f.pointee.key = key
    f.pointee.state = .untouched
    f.pointee.cursor = 0
    f.pointee.valueEnd = -1
    f.pointee.isFinished = false
    if f.pointee.members != nil { f.pointee.members = nil }
    f.pointee.lastFoundMember = -1
    f.pointee.elementIndex = 0
    f.pointee.cachedCount = nil
    f.pointee.matchedKeys.removeAll()
    f.pointee.isCursorMemberAsked = false
    f.pointee.hasReported = false
    f.pointee.isReadThroughAtCursor = false
  }

  /// A decoder for a value at `depth + 1` (a member or element of this one), read completely
  /// before the caller goes on: taken from the pool, so no allocation.
  @inline(__always)
  func pooledChild(start: Int, key: (any CodingKey)?) -> RecordValueDecoder {
    context.decoder(depth: depth + 1, base: base, end: end, start: start, parent: self, key: key)
  }

  @inline(__always) var base: UnsafePointer<UInt8> { fields.pointee.base }
  @inline(__always) var end: Int { fields.pointee.end }
  @inline(__always) var start: Int { fields.pointee.start }
  @inline(__always) var depth: Int { fields.pointee.depth }
  @inline(__always) var parent: RecordValueDecoder? { fields.pointee.parent }
  @inline(__always) var key: (any CodingKey)? { fields.pointee.key }
  @inline(__always) var state: State {
    get { fields.pointee.state }
    set { fields.pointee.state = newValue }
  }
  @inline(__always) var cursor: Int {
    get { fields.pointee.cursor }
    set { fields.pointee.cursor = newValue }
  }
  @inline(__always) var valueEnd: Int {
    get { fields.pointee.valueEnd }
    set { fields.pointee.valueEnd = newValue }
  }
  @inline(__always) var isFinished: Bool {
    get { fields.pointee.isFinished }
    set { fields.pointee.isFinished = newValue }
  }
  @inline(__always) var members: [Member]? {
    get { fields.pointee.members }
    set { fields.pointee.members = newValue }
  }
  @inline(__always) var lastFoundMember: Int {
    get { fields.pointee.lastFoundMember }
    set { fields.pointee.lastFoundMember = newValue }
  }
  @inline(__always) var elementIndex: Int {
    get { fields.pointee.elementIndex }
    set { fields.pointee.elementIndex = newValue }
  }
  @inline(__always) var cachedCount: Int? {
    get { fields.pointee.cachedCount }
    set { fields.pointee.cachedCount = newValue }
  }

  var userInfo: [CodingUserInfoKey: Any] { [:] }

  @inline(__always)
  func parser(at offset: Int, depth: Int) -> JSONParser {
    JSONParser(base: base, end: end, position: offset, depth: depth)
  }

  @inline(__always)
  func byte(at offset: Int) -> UInt8 { base[offset] }

  // MARK: Errors

  /// The error for a value of the wrong kind at `offset`: malformed JSON stays
  /// ``OpsLogError/invalidJSON(reason:offset:)``; `null` is `valueNotFound`; the rest `typeMismatch`.
  func mismatch(_ type: Any.Type, at offset: Int, _ component: (any CodingKey)?) -> any Error {
    let found: String
    switch byte(at: offset) {
    case UInt8(ascii: "\""): found = "a string"
    case UInt8(ascii: "{"): found = "an object"
    case UInt8(ascii: "["): found = "an array"
    case UInt8(ascii: "t"), UInt8(ascii: "f"): found = "a boolean"
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): found = "a number"
    case UInt8(ascii: "n"):
      var parser = self.parser(at: offset, depth: depth)
      do { try parser.expectLiteral("null") } catch { return error }
      let path = path(appending: component)
      return DecodingError.valueNotFound(
        type,
        .init(codingPath: path, debugDescription: "\(describeCodingPath(path)): expected \(type) but found null"))
    default:
      var parser = self.parser(at: offset, depth: depth)
      do { try parser.skipValue() } catch { return error }
      found = "something else"
    }
    let path = path(appending: component)
    return DecodingError.typeMismatch(
      type,
      .init(codingPath: path, debugDescription: "\(describeCodingPath(path)): expected \(type) but found \(found)"))
  }

  func corrupted(_ message: String, _ component: (any CodingKey)?) -> DecodingError {
    let path = path(appending: component)
    return DecodingError.dataCorrupted(
      .init(codingPath: path, debugDescription: "\(describeCodingPath(path)): \(message)"))
  }

  func keyNotFound(_ key: any CodingKey) -> DecodingError {
    let path = path(appending: key)
    return DecodingError.keyNotFound(
      key, .init(codingPath: codingPath, debugDescription: "\(describeCodingPath(path)): no such key"))
  }

  // MARK: Scalars at an offset, each returning the value and the offset after it

  func readString(at offset: Int, _ component: @autoclosure () -> (any CodingKey)?) throws -> (String, Int) {
    guard byte(at: offset) == UInt8(ascii: "\"") else { throw mismatch(String.self, at: offset, component()) }
    var parser = self.parser(at: offset, depth: depth)
    let value = try parser.parseString()
    return (value, parser.position)
  }

  func readBool(at offset: Int, _ component: @autoclosure () -> (any CodingKey)?) throws -> (Bool, Int) {
    var parser = self.parser(at: offset, depth: depth)
    switch byte(at: offset) {
    case UInt8(ascii: "t"):
      try parser.expectLiteral("true")
      return (true, parser.position)
    case UInt8(ascii: "f"):
      try parser.expectLiteral("false")
      return (false, parser.position)
    default: throw mismatch(Bool.self, at: offset, component())
    }
  }

  /// Reads `null` at `offset` if it is there; nil when the value is something else.
  func readNull(at offset: Int) throws -> Int? {
    guard byte(at: offset) == UInt8(ascii: "n") else { return nil }
    var parser = self.parser(at: offset, depth: depth)
    try parser.expectLiteral("null")
    return parser.position
  }

  func readDouble(at offset: Int, _ component: @autoclosure () -> (any CodingKey)?) throws -> (Double, Int) {
    let first = byte(at: offset)
    guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
      throw mismatch(Double.self, at: offset, component())
    }
    var parser = self.parser(at: offset, depth: depth)
    switch try parser.parseNumber() {
    case .int(let integer): return (Double(integer), parser.position)
    case .double(let double): return (double, parser.position)
    default: preconditionFailure("parseNumber returns numbers only")
    }
  }

  func readFloat(at offset: Int, _ component: @autoclosure () -> (any CodingKey)?) throws -> (Float, Int) {
    let (double, after) = try readDouble(at: offset, component())
    let float = Float(double)
    guard float.isFinite else { throw corrupted("the number \(double) does not fit in Float", component()) }
    return (float, after)
  }

  func readInteger<Integer: FixedWidthInteger>(
    _ type: Integer.Type, at offset: Int, _ component: @autoclosure () -> (any CodingKey)?
  ) throws -> (Integer, Int) {
    let first = byte(at: offset)
    guard first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
      throw mismatch(type, at: offset, component())
    }
    var parser = self.parser(at: offset, depth: depth)
    let number = try parser.parseNumber()
    let after = parser.position
    switch number {
    case .int(let integer):
      if let exact = Integer(exactly: integer) { return (exact, after) }
    case .double(let double):
      // Integer literals beyond Int64 (a large UInt64) are read exactly from their digits.
      let text = String(decoding: UnsafeBufferPointer(start: base + offset, count: after - offset), as: UTF8.self)
      if let exact = Integer(text) { return (exact, after) }
      if let exact = Integer(exactly: double) { return (exact, after) }
    default: break
    }
    let text = String(decoding: UnsafeBufferPointer(start: base + offset, count: after - offset), as: UTF8.self)
    throw corrupted("the number \(text) does not fit in \(type)", component())
  }

  /// Types with a JSON form of their own (and arrays of the common scalars, which the generic
  /// `Array.init(from:)` decodes slowly): decoded here. Only for the types ``isSpecial(_:)``
  /// accepts.
  ///
  /// Returns the value and sets `after` to the offset after it; not a `(T, Int)` tuple, whose
  /// type the run time would have to look up on every call for a generic `T`. `isMember`:
  /// the value is a member or element of this decoder's value (one level deeper), rather than
  /// this decoder's own value.
  func readSpecial<T: Decodable>(
    _ type: T.Type, at offset: Int, valueDepth: Int, _ component: (any CodingKey)?, isMember: Bool,
    after: inout Int
  ) throws -> T {
    if T.self == [String].self {
      let (array, end) = try readArray(at: offset, valueDepth: valueDepth, component, isMember: isMember) {
        element, elementOffset in
        try element.readString(at: elementOffset, RecordIndexKey(element.elementIndex))
      }
      after = end
      return (array as! T)
    }
    if T.self == JSONValue.self {
      var parser = self.parser(at: offset, depth: valueDepth)
      let value = try parser.parseValue()
      after = parser.position
      return (value as! T)
    }
    if T.self == Date.self {
      let (text, end) = try readString(at: offset, component)
      guard let date = RecordDateFormat.parse(text) else {
        throw corrupted("\"\(text)\" is not an ISO-8601 UTC date such as 2026-04-01T10:00:01.000Z", component)
      }
      after = end
      return (date as! T)
    }
    if T.self == Data.self {
      let (text, end) = try readString(at: offset, component)
      guard let data = Data(base64Encoded: text) else { throw corrupted("the string is not valid base64", component) }
      after = end
      return (data as! T)
    }
    if T.self == [Int].self {
      let (array, end) = try readArray(at: offset, valueDepth: valueDepth, component, isMember: isMember) {
        element, elementOffset in
        try element.readInteger(Int.self, at: elementOffset, RecordIndexKey(element.elementIndex))
      }
      after = end
      return (array as! T)
    }
    if T.self == [Double].self {
      let (array, end) = try readArray(at: offset, valueDepth: valueDepth, component, isMember: isMember) {
        element, elementOffset in
        try element.readDouble(at: elementOffset, RecordIndexKey(element.elementIndex))
      }
      after = end
      return (array as! T)
    }
    preconditionFailure("readSpecial called for \(T.self), which has no JSON form of its own")
  }

  /// Whether ``readSpecial(_:at:valueDepth:_:isMember:after:)`` reads `type`. A plain check
  /// first, so that the generic callers never build an `Optional<T>` (a run-time metadata
  /// lookup on every call).
  @inline(__always)
  static func isSpecial<T>(_ type: T.Type) -> Bool {
    T.self == [String].self || T.self == JSONValue.self || T.self == Date.self || T.self == Data.self
      || T.self == [Int].self || T.self == [Double].self
  }

  /// Reads a whole array of one scalar kind in place, reserving capacity as it goes.
  @inline(__always)
  func readArray<Element>(
    at offset: Int, valueDepth: Int, _ component: (any CodingKey)?, isMember: Bool,
    _ readElement: (RecordValueDecoder, Int) throws -> (Element, Int)
  ) throws -> ([Element], Int) {
    guard byte(at: offset) == UInt8(ascii: "[") else { throw mismatch([Element].self, at: offset, component) }
    // A member's array can borrow the pooled decoder one level down; this decoder's own value
    // (same depth) cannot, as that pooled decoder may be this one.
    let arrayDecoder =
      isMember
      ? pooledChild(start: offset, key: component)
      : RecordValueDecoder(
        base: base, end: end, start: offset, depth: valueDepth, parent: self, key: component, context: context)
    try arrayDecoder.openArray()
    var elements: [Element] = []
    elements.reserveCapacity(4)
    while !arrayDecoder.isFinished {
      let (element, after) = try readElement(arrayDecoder, arrayDecoder.cursor)
      elements.append(element)
      try arrayDecoder.advanceArray(after: after)
    }
    return (elements, arrayDecoder.valueEnd)
  }

  /// Decodes a value of any type at `offset`, a member or element of this container.
  /// Sets `after` to the offset after it (see ``readSpecial(_:at:valueDepth:_:isMember:after:)``
  /// for why not a tuple).
  @inline(__always)
  func decodeNested<T: Decodable>(
    _ type: T.Type, at offset: Int, _ component: any CodingKey, after: inout Int
  ) throws -> T {
    if Self.isSpecial(type) {
      return try readSpecial(type, at: offset, valueDepth: depth + 1, component, isMember: true, after: &after)
    }
    let child = pooledChild(start: offset, key: component)
    let value = try T(from: child)
    after = try child.finish()
    return value
  }

  /// Decodes this decoder's own value as `type` (the document's root).
  func decodeRoot<T: Decodable>(_ type: T.Type) throws -> T {
    var after = 0
    if Self.isSpecial(type) {
      let special = try readSpecial(type, at: start, valueDepth: depth, nil, isMember: false, after: &after)
      valueEnd = after
      state = .done
      return special
    }
    return try T(from: self)
  }

  /// The offset just after this value. Whatever the type left unread is skipped here, and
  /// checked as strictly as if it had been read.
  func finish() throws -> Int {
    let isTracking = context.document.pointee.isTrackingUnknownKeys
    if valueEnd >= 0 {
      if isTracking && !fields.pointee.hasReported { try reportReadValue() }
      return valueEnd
    }
    switch state {
    case .untouched, .done:
      if isTracking && state == .untouched { try reportUntouchedValue() }
      var parser = self.parser(at: start, depth: depth)
      try parser.skipValue()
      valueEnd = parser.position
    case .object:
      // The members the type did not read; one that repeats a key it read means the type
      // read the wrong (first) value.
      var parser = self.parser(at: cursor, depth: depth + 1)
      var unread: [String] = []
      var isFirst = true
      repeat {
        let isAsked = isFirst && fields.pointee.isCursorMemberAsked
        let name = try checkSkippedKey(&parser, decoded: isTracking && depth == 0)
        if isTracking && !isAsked { unread.append(name ?? "") }
        isFirst = false
        try parser.skipValue()
      } while try parser.endOfEntry(closing: UInt8(ascii: "}"))
      valueEnd = parser.position
      if isTracking { try reportObject(unreadAfterCursor: unread) }
    case .array:
      var parser = self.parser(at: cursor, depth: depth + 1)
      repeat {
        try parser.skipValue()
      } while try parser.endOfEntry(closing: UInt8(ascii: "]"))
      valueEnd = parser.position
      // Elements the type stopped before.
      if isTracking { reportNested() }
    }
    isFinished = true
    return valueEnd
  }

  // MARK: Objects

  func openObject() throws {
    guard state != .object else { return }
    guard state == .untouched, byte(at: start) == UInt8(ascii: "{") else {
      throw mismatch([String: JSONValue].self, at: start, nil)
    }
    var parser = self.parser(at: start, depth: depth)
    try parser.enterNesting()
    parser.position += 1
    parser.skipWhitespace()
    if parser.peek() == UInt8(ascii: "}") {
      isFinished = true
      fields.pointee.isReadThroughAtCursor = true
      valueEnd = parser.position + 1
    } else {
      try parser.expectMemberKey()
    }
    cursor = parser.position
    state = .object
  }

  /// The offset of member `key`'s value, and whether it was found at the scan cursor (then
  /// ``advanceObject(after:)`` must follow a successful read). Nil when there is no such member.
  @inline(__always)
  func locate(_ key: String) throws -> (offset: Int, atCursor: Bool)? {
    if members == nil && !isFinished, let offset = matchAtCursor(key) { return (offset, true) }
    if members == nil {
      // Every member was read at the cursor, so their keys are all in the matched list: a key
      // not there is absent (a trailing optional), and no member table is needed.
      if fields.pointee.isReadThroughAtCursor && !isMatched(key) { return nil }
      try buildMemberTable()
    }
    return lookUp(key).map { ($0, false) }
  }

  /// Whether `key` is one of the keys read at the cursor.
  func isMatched(_ key: String) -> Bool {
    var key = key
    return key.withUTF8 { fields.pointee.matchedKeys.contains($0, in: base) }
  }

  /// Compares the raw key at the cursor with `key`; a key with escapes never matches here
  /// (the member table decodes it properly). Notes the key's length for
  /// ``advanceObject(after:)``.
  @inline(__always)
  func matchAtCursor(_ key: String) -> Int? {
    var key = key
    return key.withUTF8 { keyBytes -> Int? in
      var offset = cursor + 1
      let count = keyBytes.count
      guard offset + count < end else { return nil }
      for index in 0..<count {
        let current = base[offset + index]
        if current != keyBytes[index] || current == UInt8(ascii: "\\") || current < 0x20 { return nil }
      }
      offset += count
      guard base[offset] == UInt8(ascii: "\"") else { return nil }
      var parser = self.parser(at: offset + 1, depth: depth)
      parser.skipWhitespace()
      guard parser.peek() == UInt8(ascii: ":") else { return nil }
      parser.position += 1
      parser.skipWhitespace()
      guard parser.position < end else { return nil }
      fields.pointee.matchedLength = count
      return parser.position
    }
  }

  /// Moves the scan cursor past the member whose value ends at `after`, which the type has
  /// read at the cursor (its key matched by ``matchAtCursor(_:)``). The key is recorded, and a
  /// key read before in this object is a repeated key (``RecordRepeatedKey``).
  func advanceObject(after: Int) throws {
    fields.pointee.isCursorMemberAsked = false
    let keyStart = cursor + 1
    let key = UnsafeBufferPointer(start: base + keyStart, count: fields.pointee.matchedLength)
    if fields.pointee.matchedKeys.note(key, at: keyStart, in: base) { throw repeatedKeyFound() }
    var parser = self.parser(at: after, depth: depth + 1)
    if try parser.endOfEntry(closing: UInt8(ascii: "}")) {
      try parser.expectMemberKey()
      cursor = parser.position
    } else {
      isFinished = true
      fields.pointee.isReadThroughAtCursor = true
      valueEnd = parser.position
      cursor = parser.position - 1
    }
  }

  func buildMemberTable() throws {
    var parser = self.parser(at: start, depth: depth)
    try parser.enterNesting()
    parser.position += 1
    parser.skipWhitespace()
    var table: [Member] = []
    if parser.peek() == UInt8(ascii: "}") {
      parser.position += 1
    } else {
      // Members before the cursor were read there; the one at it may have been asked for.
      let readBefore = state == .object ? cursor : start
      var cursorMemberPending = state == .object && fields.pointee.isCursorMemberAsked
      repeat {
        let keyStart = parser.position
        let key = try parser.parseMemberKey()
        var isAsked = keyStart < readBefore
        if !isAsked && cursorMemberPending {
          isAsked = true
          cursorMemberPending = false
        }
        table.append(Member(key: key, valueOffset: parser.position, isAsked: isAsked))
        try parser.skipValue()
      } while try parser.endOfEntry(closing: UInt8(ascii: "}"))
    }
    if Self.hasRepeatedKey(table) { throw repeatedKeyFound() }
    members = table
    isFinished = true
    valueEnd = parser.position
  }

  /// Looks a key up in the member table, starting after the last hit so that keys requested
  /// in document order (a dictionary's) cost O(1) each.
  func lookUp(_ key: String) -> Int? {
    guard let found = findMember(key) else { return nil }
    lastFoundMember = found
    // In place: no copy of the table is alive here, so this does not copy it.
    fields.pointee.members![found].isAsked = true
    return fields.pointee.members![found].valueOffset
  }

  /// The index of member `key` in the table, starting after the last hit.
  func findMember(_ key: String) -> Int? {
    guard let members, !members.isEmpty else { return nil }
    var index = lastFoundMember + 1
    for _ in 0..<members.count {
      if index >= members.count { index = 0 }
      if ExactString.areIdentical(members[index].key, key) { return index }
      index += 1
    }
    return nil
  }

  func memberKeys() throws -> [String] {
    if members == nil { try buildMemberTable() }
    return members!.map(\.key)
  }

  // MARK: Arrays

  func openArray() throws {
    guard state != .array else { return }
    guard state == .untouched, byte(at: start) == UInt8(ascii: "[") else {
      throw mismatch([JSONValue].self, at: start, nil)
    }
    var parser = self.parser(at: start, depth: depth)
    try parser.enterNesting()
    parser.position += 1
    parser.skipWhitespace()
    guard let next = parser.peek() else { throw parser.error("unexpected end of input in an array") }
    if next == UInt8(ascii: "]") {
      isFinished = true
      valueEnd = parser.position + 1
    }
    cursor = parser.position
    state = .array
  }

  /// Moves past the element that ends at `after`.
  func advanceArray(after: Int) throws {
    var parser = self.parser(at: after, depth: depth + 1)
    if try parser.endOfEntry(closing: UInt8(ascii: "]")) {
      guard let first = parser.peek() else { throw parser.error("unexpected end of input, expected a value") }
      if first == UInt8(ascii: "]") { throw parser.error("unexpected character ']', expected a value") }
      cursor = parser.position
    } else {
      isFinished = true
      valueEnd = parser.position
      cursor = parser.position - 1
    }
    elementIndex += 1
  }

  func elementCount() throws -> Int {
    if let cachedCount { return cachedCount }
    var parser = self.parser(at: start, depth: depth)
    try parser.enterNesting()
    parser.position += 1
    parser.skipWhitespace()
    var count = 0
    if parser.peek() != UInt8(ascii: "]") {
      repeat {
        try parser.skipValue()
        count += 1
      } while try parser.endOfEntry(closing: UInt8(ascii: "]"))
    }
    cachedCount = count
    return count
  }

  // MARK: Decoder

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    try openObject()
    guard isPooled else { return KeyedDecodingContainer(RecordKeyedDecodingContainer<Key>(decoder: self)) }
    // A pooled decoder keeps its last container: it refers to the decoder, not to one value.
    let typeID = ObjectIdentifier(type)
    if fields.pointee.cachedContainer.typeID == typeID, let copier = fields.pointee.cachedContainer.copier {
      return copier._withUnsafeGuaranteedRef {
        unsafeDowncast($0, to: KeyedContainerCopier<KeyedDecodingContainer<Key>>.self).copy()
      }
    }
    let container = KeyedDecodingContainer(RecordKeyedDecodingContainer<Key>(decoder: self))
    fields.pointee.cachedContainer.store(container, typeID: typeID)
    return container
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try openArray()
    return RecordUnkeyedDecodingContainer(decoder: self)
  }

  func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

  // MARK: SingleValueDecodingContainer

  @inline(__always)
  func single<T>(_ read: (Int) throws -> (T, Int)) throws -> T {
    let (value, after) = try read(start)
    valueEnd = after
    state = .done
    return value
  }

  func decodeNil() -> Bool {
    guard let after = try? readNull(at: start) else { return false }
    valueEnd = after
    state = .done
    return true
  }
  func decode(_ type: Bool.Type) throws -> Bool { try single { try readBool(at: $0, nil) } }
  func decode(_ type: String.Type) throws -> String { try single { try readString(at: $0, nil) } }
  func decode(_ type: Double.Type) throws -> Double { try single { try readDouble(at: $0, nil) } }
  func decode(_ type: Float.Type) throws -> Float { try single { try readFloat(at: $0, nil) } }
  func decode(_ type: Int.Type) throws -> Int { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: Int8.Type) throws -> Int8 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: Int16.Type) throws -> Int16 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: Int32.Type) throws -> Int32 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: Int64.Type) throws -> Int64 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: UInt.Type) throws -> UInt { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try single { try readInteger(type, at: $0, nil) } }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try single { try readInteger(type, at: $0, nil) } }
  func decode<T: Decodable>(_ type: T.Type) throws -> T {
    var after = 0
    if Self.isSpecial(type) {
      let special = try readSpecial(type, at: start, valueDepth: depth, nil, isMember: false, after: &after)
      valueEnd = after
      state = .done
      return special
    }
    // What this decoder's own container left unread so far counts too: a key is unknown
    // only if no view of the object asked for it.
    if state == .object && context.document.pointee.isTrackingUnknownKeys { try reportPartialObject() }
    // The same value, seen through a fresh decoder so that its containers start clean.
    let inner = RecordValueDecoder(
      base: base, end: end, start: start, depth: depth, parent: parent, key: key, context: context)
    let value = try T(from: inner)
    valueEnd = try inner.finish()
    state = .done
    return value
  }
}

/// A keyed container over an object of the input; all state lives in the decoder.
struct RecordKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
  /// The decoder, unretained so that the container is plain data: the standard library's
  /// `KeyedDecodingContainer` copies its container for every `decode(_:forKey:)`, and a strong
  /// reference made each copy a retain and a release (a tenth of a record's decoding). The
  /// decoder outlives every use a type may make of the container: it is held by its
  /// context's pool or loose decoders, or by the call that hands it to `init(from:)`, and a
  /// container is valid only inside that `init(from:)`, as the decoder itself is (it points
  /// into the caller's buffer).
  let unretainedDecoder: Unmanaged<RecordValueDecoder>

  init(decoder: RecordValueDecoder) { unretainedDecoder = .passUnretained(decoder) }

  /// Runs `body` with the decoder borrowed: no retain, no release.
  @inline(__always)
  func withDecoder<Result>(_ body: (RecordValueDecoder) throws -> Result) rethrows -> Result {
    try unretainedDecoder._withUnsafeGuaranteedRef(body)
  }

  var codingPath: [any CodingKey] { withDecoder { $0.codingPath } }

  var allKeys: [Key] { withDecoder { ((try? $0.memberKeys()) ?? []).compactMap { Key(stringValue: $0) } } }

  func contains(_ key: Key) -> Bool {
    withDecoder { decoder in
      guard let (_, atCursor) = (try? decoder.locate(key.stringValue)) ?? nil else { return false }
      // Asked for, though not read: not an unknown key.
      if atCursor { decoder.fields.pointee.isCursorMemberAsked = true }
      return true
    }
  }

  @inline(__always)
  func read<T>(_ key: Key, _ read: (RecordValueDecoder, Int) throws -> (T, Int)) throws -> T {
    try withDecoder { decoder in
      guard let (offset, atCursor) = try decoder.locate(key.stringValue) else { throw decoder.keyNotFound(key) }
      let (value, after) = try read(decoder, offset)
      if atCursor { try decoder.advanceObject(after: after) }
      return value
    }
  }

  @inline(__always)
  func readIfPresent<T>(_ key: Key, _ read: (RecordValueDecoder, Int) throws -> (T, Int)) throws -> T? {
    try withDecoder { decoder in
      guard let (offset, atCursor) = try decoder.locate(key.stringValue) else { return nil }
      if let after = try decoder.readNull(at: offset) {
        if atCursor { try decoder.advanceObject(after: after) }
        decoder.noteNullReadAsAbsent()
        return nil
      }
      let (value, after) = try read(decoder, offset)
      if atCursor { try decoder.advanceObject(after: after) }
      return value
    }
  }

  func decodeNil(forKey key: Key) throws -> Bool {
    try withDecoder { decoder in
      guard let (offset, atCursor) = try decoder.locate(key.stringValue) else { throw decoder.keyNotFound(key) }
      guard let after = try decoder.readNull(at: offset) else {
        if atCursor { decoder.fields.pointee.isCursorMemberAsked = true }
        return false
      }
      if atCursor { try decoder.advanceObject(after: after) }
      return true
    }
  }

  func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
    try read(key) { decoder, offset in try decoder.readBool(at: offset, key) }
  }
  func decode(_ type: String.Type, forKey key: Key) throws -> String {
    try read(key) { decoder, offset in try decoder.readString(at: offset, key) }
  }
  func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
    try read(key) { decoder, offset in try decoder.readDouble(at: offset, key) }
  }
  func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
    try read(key) { decoder, offset in try decoder.readFloat(at: offset, key) }
  }
  func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
    try read(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try withDecoder { decoder in
      guard let (offset, atCursor) = try decoder.locate(key.stringValue) else { throw decoder.keyNotFound(key) }
      var after = 0
      let value = try decoder.decodeNested(type, at: offset, key, after: &after)
      if atCursor { try decoder.advanceObject(after: after) }
      return value
    }
  }

  func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
    try readIfPresent(key) { decoder, offset in try decoder.readBool(at: offset, key) }
  }
  func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
    try readIfPresent(key) { decoder, offset in try decoder.readString(at: offset, key) }
  }
  func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
    try readIfPresent(key) { decoder, offset in try decoder.readDouble(at: offset, key) }
  }
  func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
    try readIfPresent(key) { decoder, offset in try decoder.readFloat(at: offset, key) }
  }
  func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
    try readIfPresent(key) { decoder, offset in try decoder.readInteger(type, at: offset, key) }
  }
  func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
    try withDecoder { decoder in
      guard let (offset, atCursor) = try decoder.locate(key.stringValue) else { return nil }
      var after = 0
      if let end = try decoder.readNull(at: offset) {
        after = end
        decoder.noteNullReadAsAbsent()
      } else {
        let value = try decoder.decodeNested(type, at: offset, key, after: &after)
        if atCursor { try decoder.advanceObject(after: after) }
        return value
      }
      if atCursor { try decoder.advanceObject(after: after) }
      return nil
    }
  }

  /// A decoder for member `key`, whose value's end is found by a validating skip first (the
  /// caller may read it at any time, interleaved with other members).
  func childDecoder(forKey key: any CodingKey, named name: String) throws -> RecordValueDecoder {
    try withDecoder { try Self.childDecoder(of: $0, forKey: key, named: name) }
  }

  static func childDecoder(
    of decoder: RecordValueDecoder, forKey key: any CodingKey, named name: String
  ) throws -> RecordValueDecoder {
    guard let (offset, atCursor) = try decoder.locate(name) else { throw decoder.keyNotFound(key) }
    if atCursor {
      var parser = decoder.parser(at: offset, depth: decoder.depth + 1)
      try parser.skipValue()
      try decoder.advanceObject(after: parser.position)
    }
    let child = RecordValueDecoder(
      base: decoder.base, end: decoder.end, start: offset, depth: decoder.depth + 1, parent: decoder, key: key,
      context: decoder.context)
    decoder.context.looseDecoders.append(child)
    return child
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type, forKey key: Key
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try childDecoder(forKey: key, named: key.stringValue).container(keyedBy: type)
  }

  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try childDecoder(forKey: key, named: key.stringValue).unkeyedContainer()
  }

  func superDecoder() throws -> any Decoder {
    try childDecoder(forKey: JSONCodingKey("super"), named: "super")
  }

  func superDecoder(forKey key: Key) throws -> any Decoder {
    try childDecoder(forKey: key, named: key.stringValue)
  }
}

/// An unkeyed container over an array of the input, read front to back.
struct RecordUnkeyedDecodingContainer: UnkeyedDecodingContainer {
  let decoder: RecordValueDecoder

  var codingPath: [any CodingKey] { decoder.codingPath }
  var count: Int? { try? decoder.elementCount() }
  var isAtEnd: Bool { decoder.isFinished }
  var currentIndex: Int { decoder.elementIndex }

  @inline(__always)
  func read<T>(_ type: T.Type, _ read: (Int, RecordIndexKey) throws -> (T, Int)) throws -> T {
    let key = RecordIndexKey(decoder.elementIndex)
    guard !decoder.isFinished else {
      let path = decoder.path(appending: key)
      throw DecodingError.valueNotFound(
        type, .init(codingPath: path, debugDescription: "\(describeCodingPath(path)): the array has no more elements"))
    }
    let (value, after) = try read(decoder.cursor, key)
    try decoder.advanceArray(after: after)
    return value
  }

  mutating func decodeNil() throws -> Bool {
    guard !decoder.isFinished else { return false }
    guard let after = try decoder.readNull(at: decoder.cursor) else { return false }
    try decoder.advanceArray(after: after)
    return true
  }

  mutating func decode(_ type: Bool.Type) throws -> Bool { try read(type) { try decoder.readBool(at: $0, $1) } }
  mutating func decode(_ type: String.Type) throws -> String { try read(type) { try decoder.readString(at: $0, $1) } }
  mutating func decode(_ type: Double.Type) throws -> Double { try read(type) { try decoder.readDouble(at: $0, $1) } }
  mutating func decode(_ type: Float.Type) throws -> Float { try read(type) { try decoder.readFloat(at: $0, $1) } }
  mutating func decode(_ type: Int.Type) throws -> Int {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: Int8.Type) throws -> Int8 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: Int16.Type) throws -> Int16 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: Int32.Type) throws -> Int32 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: Int64.Type) throws -> Int64 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: UInt.Type) throws -> UInt {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
    try read(type) { try decoder.readInteger(type, at: $0, $1) }
  }
  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
    let key = RecordIndexKey(decoder.elementIndex)
    guard !decoder.isFinished else {
      let path = decoder.path(appending: key)
      throw DecodingError.valueNotFound(
        type, .init(codingPath: path, debugDescription: "\(describeCodingPath(path)): the array has no more elements"))
    }
    var after = 0
    let value = try decoder.decodeNested(type, at: decoder.cursor, key, after: &after)
    try decoder.advanceArray(after: after)
    return value
  }

  /// A decoder for the next element, whose end is found by a validating skip first.
  func nextElementDecoder() throws -> RecordValueDecoder {
    try read(RecordValueDecoder.self) { offset, key in
      var parser = decoder.parser(at: offset, depth: decoder.depth + 1)
      try parser.skipValue()
      let child = RecordValueDecoder(
        base: decoder.base, end: decoder.end, start: offset, depth: decoder.depth + 1, parent: decoder, key: key,
        context: decoder.context)
      decoder.context.looseDecoders.append(child)
      return (child, parser.position)
    }
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try nextElementDecoder().container(keyedBy: type)
  }

  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try nextElementDecoder().unkeyedContainer()
  }

  mutating func superDecoder() throws -> any Decoder { try nextElementDecoder() }
}

/// The keyed container a pooled decoder or encoder hands out again and again, kept as a
/// closure that returns a copy of it.
///
/// `Keyed{De,En}codingContainer<Key>` is a resilient standard library type: unspecialized
/// code (every `container(keyedBy:)`, which a type's `init(from:)` or `encode(to:)` reaches
/// through the `Decoder` or `Encoder` existential) that copies one looks its type metadata up
/// for that `Key` first, in the run time's metadata cache, whose reader count both decoding
/// threads contend for: 11 % of an open's samples, one lookup per object decoded. The closure,
/// made by ``copy(of:)`` with the container's own type as its generic parameter, keeps that
/// metadata in its context, so a copy looks nothing up; ``KeyedContainerCopier`` holds it with
/// its type, at a field offset that does not depend on the type.
struct CachedKeyedContainer {
  /// `ObjectIdentifier` of the container's key type.
  var typeID: ObjectIdentifier? = nil
  /// A ``KeyedContainerCopier`` of that key type's container, retained until ``clear()``:
  /// unmanaged so that handing out a copy retains nothing.
  var copier: Unmanaged<AnyObject>? = nil

  mutating func store<Container>(_ container: Container, typeID: ObjectIdentifier) {
    clear()
    copier = .passRetained(KeyedContainerCopier(copy: Self.copy(of: container)))
    self.typeID = typeID
  }

  /// A closure that returns a copy of `container`.
  private static func copy<Container>(of container: Container) -> () -> Container {
    { container }
  }

  mutating func clear() {
    copier?.release()
    copier = nil
    typeID = nil
  }
}

/// Holds a ``CachedKeyedContainer``'s closure with its type.
final class KeyedContainerCopier<Container> {
  let copy: () -> Container
  init(copy: @escaping () -> Container) { self.copy = copy }
}

/// The decoders one thread reuses from one document to the next, one per depth, each with its
/// cached keyed container: decoding a record then allocates nothing but the record's own
/// strings and arrays. A pooled decoder serves one value at a time; a value at depth d is
/// always read completely (``RecordValueDecoder/finish()``) before its parent at depth d − 1
/// starts the next one, and decoders made for any other purpose are fresh, so a pooled decoder
/// is never asked for two values at once. Like every decoder, a pooled one is valid only
/// inside the `init(from:)` it was handed to.
final class RecordDecodingContext {
  /// `maximumDepth + 2` slots: values nest at most that deep before the parser rejects them.
  let slots: UnsafeMutablePointer<RecordValueDecoder?>
  let slotCount = JSONValue.maximumDepth + 2
  /// Set while a document is being decoded with this context, so that a nested top-level
  /// decode (a type's `init(from:)` calling ``RecordDecoder`` again) takes a context of its own.
  var isActive = false
  /// What the context learns about the document being decoded, behind a pointer for the
  /// reason given at ``RecordValueDecoder/Fields``: these are read on every decode.
  struct DocumentState {
    /// Set when an object of the document repeats a key (``RecordRepeatedKey``).
    var sawRepeatedKey = false
    /// Decoders handed to the type for it to read whenever it likes (nested containers, super
    /// decoders), which no parent finishes: ``finishLooseDecoders()`` checks what they left.
    var looseDecoders: [RecordValueDecoder] = []
    /// Set for ``RecordDecoder/decodeNotingUnknownKeys(_:from:)-(_,UnsafeRawBufferPointer)``:
    /// every decoder then reports, as it finishes, the members it was never asked for.
    var isTrackingUnknownKeys = false
    /// The top-level keys never asked for, in file order: the intersection of the reports of
    /// every top-level decoder (a type may read its value through more than one); nil before
    /// the first report.
    var unknownTopLevelKeys: [String]? = nil
    /// Some value below the top level had members (or elements) the type never read.
    var hasUnknownNestedContent = false
    /// The type read an explicit `null` member as absent (``UnknownKeys/readNullAsAbsent``).
    var readNullAsAbsent = false
  }
  let document: UnsafeMutablePointer<DocumentState>

  @inline(__always) var sawRepeatedKey: Bool {
    get { document.pointee.sawRepeatedKey }
    set { document.pointee.sawRepeatedKey = newValue }
  }
  @inline(__always) var looseDecoders: [RecordValueDecoder] {
    get { document.pointee.looseDecoders }
    _modify { yield &document.pointee.looseDecoders }
  }

  init() {
    slots = .allocate(capacity: slotCount)
    slots.initialize(repeating: nil, count: slotCount)
    document = .allocate(capacity: 1)
    document.initialize(to: DocumentState())
  }

  deinit {
    slots.deinitialize(count: slotCount)
    slots.deallocate()
    document.deinitialize(count: 1)
    document.deallocate()
  }

  @inline(__always)
  func decoder(
    depth: Int, base: UnsafePointer<UInt8>, end: Int, start: Int, parent: RecordValueDecoder?,
    key: (any CodingKey)?
  ) -> RecordValueDecoder {
    if depth < slotCount, let pooled = slots[depth] {
      pooled.reset(base: base, end: end, start: start, parent: parent, key: key)
      return pooled
    }
    let decoder = RecordValueDecoder(
      base: base, end: end, start: start, depth: depth, parent: parent, key: key, context: self,
      isPooled: depth < slotCount)
    if depth < slotCount { slots[depth] = decoder }
    return decoder
  }

  /// Breaks the reference cycles (context → decoder → context, decoder → cached container →
  /// decoder) so that everything is freed.
  func tearDown() {
    document.pointee.looseDecoders.removeAll()
    for index in 0..<slotCount {
      guard let decoder = slots[index] else { continue }
      decoder.fields.pointee.cachedContainer.clear()
      decoder.fields.pointee.parent = nil
      slots[index] = nil
    }
  }

  /// The calling thread's context, marked active; a fresh one when the thread's is already in
  /// use. Hand it back with ``release()``.
  static func acquire() -> RecordDecodingContext {
    if let raw = pthread_getspecific(recordDecodingContextKey) {
      let context = Unmanaged<RecordDecodingContext>.fromOpaque(raw).takeUnretainedValue()
      if !context.isActive {
        context.isActive = true
        return context
      }
      let temporary = RecordDecodingContext()
      temporary.isActive = true
      return temporary
    }
    let context = RecordDecodingContext()
    pthread_setspecific(recordDecodingContextKey, Unmanaged.passRetained(context).toOpaque())
    context.isActive = true
    return context
  }

  /// Finishes the decoders the type read at its own pace, once the whole document is decoded:
  /// what they left unread is checked as every other decoder's is.
  func finishLooseDecoders() throws {
    var index = 0
    // Finishing one cannot add another, but index rather than iterate, to be safe.
    while index < document.pointee.looseDecoders.count {
      _ = try document.pointee.looseDecoders[index].finish()
      index += 1
    }
  }

  func release() {
    isActive = false
    document.pointee.sawRepeatedKey = false
    if document.pointee.isTrackingUnknownKeys {
      document.pointee.isTrackingUnknownKeys = false
      document.pointee.unknownTopLevelKeys = nil
      document.pointee.hasUnknownNestedContent = false
      document.pointee.readNullAsAbsent = false
    }
    if !document.pointee.looseDecoders.isEmpty { document.pointee.looseDecoders.removeAll() }
    // A temporary context (not the thread's) is freed now.
    if pthread_getspecific(recordDecodingContextKey) != Unmanaged.passUnretained(self).toOpaque() { tearDown() }
  }
}

/// The thread-local slot of each thread's ``RecordDecodingContext``; freed when the thread ends.
let recordDecodingContextKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key) { raw in
    guard let raw else { return }
    let context = Unmanaged<RecordDecodingContext>.fromOpaque(raw).takeRetainedValue()
    context.tearDown()
  }
  return key
}()
