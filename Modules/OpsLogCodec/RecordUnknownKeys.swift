import OpsLogTypes

/// What a decode did not read: the members of the stored JSON that the `Decodable` type never
/// asked for, so that a store can keep them (Docs/API.md, "Schema safety"), and whether it
/// read a `null` as absent, which its encoding would drop.
///
/// A member counts as asked for when the type called `decode`, `decodeIfPresent`, `decodeNil`
/// or `contains` for its key, or read the whole value at once (as a `JSONValue`, or as a
/// dictionary, whose decoding asks for every key).
public struct UnknownKeys: Sendable, Hashable {
  /// The keys of the top-level object that the type never asked for, in file order, each
  /// once. These are the members ``RecordMerge/mergingUnknownKeys(_:from:into:)-(_,UnsafeRawBufferPointer,_)`` carries over.
  public var topLevel: [String]
  /// Whether a value below the top level had content the type never read: members of a
  /// nested object (one inside an array included), elements of an array it stopped reading
  /// before the end, or a whole object or array it never opened. Such content cannot be
  /// carried over member by member; it is lost if the record is written again from the type.
  public var nested: Bool
  /// Whether the type read an explicit `null` member as absent (`decodeIfPresent` returned
  /// `nil`, as it does for every optional property of a synthesized `Codable` type), so that
  /// its encoding would leave the member out (`encodeIfPresent`): `{"f": null}` would come
  /// back as `{}`. A store keeps such a record's JSON as stored (in snapshots, for undo)
  /// until the record is written again; what the type then writes is its own encoding.
  public var readNullAsAbsent: Bool

  /// A report with these parts.
  public init(topLevel: [String], nested: Bool, readNullAsAbsent: Bool = false) {
    self.topLevel = topLevel
    self.nested = nested
    self.readNullAsAbsent = readNullAsAbsent
  }
}

extension RecordDecoder {
  /// Decodes `type` as ``decode(_:from:)-(_,UnsafeRawBufferPointer)`` does, and reports what
  /// the type did not read.
  ///
  /// `unknownKeys` is nil when the type asked for every key of every object it decoded (see
  /// ``UnknownKeys`` for what counts as asking), which is the case whenever the type matches
  /// the data; then the decode costs what ``decode(_:from:)-(_,UnsafeRawBufferPointer)``
  /// costs. A `type` of `JSONValue` reads everything.
  ///
  /// - Throws: as ``decode(_:from:)-(_,UnsafeRawBufferPointer)``.
  public func decodeNotingUnknownKeys<T: Decodable>(
    _ type: T.Type, from bytes: UnsafeRawBufferPointer
  ) throws -> (value: T, unknownKeys: UnknownKeys?) {
    var unknownKeys: UnknownKeys? = nil
    let value = try decodeNotingUnknownKeys(type, from: bytes, unknownKeys: &unknownKeys)
    return (value, unknownKeys)
  }

  /// The loader's form of ``decodeNotingUnknownKeys(_:from:)-(_,UnsafeRawBufferPointer)``:
  /// what the type did not read goes to `unknownKeys` (left as it is when it read everything).
  /// Code that is not specialized for `T` and calls this once per record builds no tuple
  /// `(T, UnknownKeys?)`, whose type the run time would look up on every call.
  package func decodeNotingUnknownKeys<T: Decodable>(
    _ type: T.Type, from bytes: UnsafeRawBufferPointer, unknownKeys: inout UnknownKeys?
  ) throws -> T {
    if T.self == JSONValue.self { return try JSONParser.parseDocument(bytes) as! T }
    do {
      return try decodeStreaming(type, from: bytes, trackingUnknownKeys: true, unknownKeys: &unknownKeys)
    } catch is RecordRepeatedKey {
      // An object repeats a key: decode the parsed tree's text, in which the last value of
      // each key won and each key appears once.
      let deduplicated = try JSONParser.parseDocument(bytes).serialized()
      return try deduplicated.withUnsafeBytes { buffer in
        try decodeStreaming(type, from: buffer, trackingUnknownKeys: true, unknownKeys: &unknownKeys)
      }
    }
  }

  /// ``decodeNotingUnknownKeys(_:from:)-(_,UnsafeRawBufferPointer)`` for bytes in any collection.
  ///
  /// - Throws: as ``decode(_:from:)-(_,Collection<UInt8>)``.
  public func decodeNotingUnknownKeys<T: Decodable>(
    _ type: T.Type, from bytes: some Collection<UInt8>
  ) throws -> (value: T, unknownKeys: UnknownKeys?) {
    if let result = try bytes.withContiguousStorageIfAvailable({ buffer in
      try decodeNotingUnknownKeys(type, from: UnsafeRawBufferPointer(buffer))
    }) {
      return result
    }
    let array = Array(bytes)
    return try array.withUnsafeBytes { try decodeNotingUnknownKeys(type, from: $0) }
  }
}

extension RecordValueDecoder {
  /// Reports, once, what the type left unread of a value whose end is known (it read the
  /// value to its end, or finished it before).
  func reportReadValue() throws {
    fields.pointee.hasReported = true
    guard state == .object else { return }  // .done and .array read everything
    var unread: [String] = []
    if let members = fields.pointee.members {
      for member in members where !member.isAsked { unread.append(member.key) }
    }
    try reportObject(unread: unread, checkingRepeats: false)
  }

  /// Reports what this decoder's object container has not read so far, before the decoder
  /// hands its value to another view (a single-value decode of another type).
  func reportPartialObject() throws {
    if fields.pointee.members != nil || isFinished {
      try reportReadValue()
      return
    }
    var parser = self.parser(at: cursor, depth: depth + 1)
    var unread: [String] = []
    var isFirst = true
    repeat {
      let isAsked = isFirst && fields.pointee.isCursorMemberAsked
      let name = try checkSkippedKey(&parser, decoded: depth == 0)
      if !isAsked { unread.append(name ?? "") }
      isFirst = false
      try parser.skipValue()
    } while try parser.endOfEntry(closing: UInt8(ascii: "}"))
    try reportObject(unreadAfterCursor: unread)
  }

  /// ``reportObject(unread:checkingRepeats:)`` for the members skipped at the end of an
  /// object (no member table exists then), whose keys may repeat among themselves.
  func reportObject(unreadAfterCursor unread: [String]) throws {
    try reportObject(unread: unread, checkingRepeats: true)
  }

  /// Reports an object's unread members: by name at the top level, as nested content below.
  /// `unread` holds names only at the top level (elsewhere only its count matters).
  func reportObject(unread: [String], checkingRepeats: Bool) throws {
    fields.pointee.hasReported = true
    let document = context.document
    guard depth == 0 else {
      if !unread.isEmpty { document.pointee.hasUnknownNestedContent = true }
      return
    }
    // A key skipped twice: report it once, with the value that won, from the parsed tree.
    if checkingRepeats && unread.count > 1 {
      let members = unread.map { Member(key: $0, valueOffset: 0) }
      if Self.hasRepeatedKey(members) { throw repeatedKeyFound() }
    }
    if let earlier = document.pointee.unknownTopLevelKeys {
      // Another top-level decoder read the same object: a key is unknown if neither asked.
      document.pointee.unknownTopLevelKeys = earlier.filter { key in
        unread.contains { ExactString.areIdentical($0, key) }
      }
    } else {
      document.pointee.unknownTopLevelKeys = unread
    }
  }

  /// Reports a value the type was handed but never opened: all of a non-empty object's or
  /// array's content is unread.
  func reportUntouchedValue() throws {
    fields.pointee.hasReported = true
    let first = byte(at: start)
    guard first == UInt8(ascii: "{") || first == UInt8(ascii: "[") else { return }
    var parser = self.parser(at: start, depth: depth)
    let value = try parser.parseValue()
    switch value {
    case .object(let object) where depth == 0:
      try reportObject(unread: object.keys, checkingRepeats: false)
    case .object(let object) where !object.isEmpty: reportNested()
    case .array(let elements) where !elements.isEmpty: reportNested()
    default: break
    }
  }

  /// The type read a `null` member as absent (``UnknownKeys/readNullAsAbsent``).
  @inline(__always)
  func noteNullReadAsAbsent() {
    let document = context.document
    if document.pointee.isTrackingUnknownKeys { document.pointee.readNullAsAbsent = true }
  }

  /// Some content below the top level (or array elements anywhere) went unread.
  func reportNested() {
    fields.pointee.hasReported = true
    context.document.pointee.hasUnknownNestedContent = true
  }
}
