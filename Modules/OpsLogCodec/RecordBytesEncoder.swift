import OpsLogTypes

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Thrown inside the streaming encoder when a type writes to a container after a later
/// sibling was started (legal in Codable, impossible to stream); ``RecordEncoder`` then
/// encodes the value again through ``RecordTreeEncoder``.
struct RecordEncodingOutOfOrder: Error {}

/// The output and the stack of open containers shared by every encoder of one value.
final class RecordEncodingState {
  var writer: JSONWriter
  /// Containers written into the output but not closed yet, innermost last.
  var openFrames: [RecordValueEncoder] = []
  /// Set when the type used containers out of order; the output is then discarded.
  var isOutOfOrder = false

  init(writer: JSONWriter) {
    self.writer = writer
    openFrames.reserveCapacity(8)
  }

  func close(_ frame: RecordValueEncoder) {
    switch frame.kind {
    case .object: writer.writeByte(UInt8(ascii: "}"))
    case .array: writer.writeByte(UInt8(ascii: "]"))
    case .pending: writer.writeASCII("{}")  // a type that encodes nothing, as JSONEncoder writes it
    case .single: break
    }
    frame.isClosed = true
  }

  /// Closes the frames above `frame` so that it can be written to; false when `frame` itself
  /// was closed already.
  @inline(__always)
  func makeCurrent(_ frame: RecordValueEncoder) -> Bool {
    if openFrames.last === frame { return true }
    return closeFrames(above: frame)
  }

  func closeFrames(above frame: RecordValueEncoder) -> Bool {
    guard !frame.isClosed else {
      isOutOfOrder = true
      return false
    }
    while let top = openFrames.last, top !== frame {
      openFrames.removeLast()
      close(top)
    }
    if openFrames.isEmpty {
      isOutOfOrder = true
      return false
    }
    return true
  }

  /// Closes `frame` and everything above it, once its value is complete.
  func closeFrames(through frame: RecordValueEncoder) throws {
    guard makeCurrent(frame) else { throw RecordEncodingOutOfOrder() }
    openFrames.removeLast()
    close(frame)
  }
}

/// The JSON form of the types that have their own: `Date`, `Data`, ``JSONValue``. Nil for
/// every other type.
@inline(__always)
func recordSpecialValue<T: Encodable>(_ value: T) -> JSONValue? {
  if T.self == JSONValue.self { return (value as! JSONValue) }
  if T.self == Date.self { return .string(RecordDateFormat.string(value as! Date)) }
  if T.self == Data.self { return .string((value as! Data).base64EncodedString()) }
  return nil
}

/// One JSON value being encoded straight into the output bytes.
///
/// Codable lets a type fill its containers in any order; in practice types fill them front to
/// back, so each container is written as it is filled and closed when its value is complete
/// or when an enclosing container is written to again. A write to a closed container sets
/// ``RecordEncodingState/isOutOfOrder``, and the value is encoded again through a tree.
final class RecordValueEncoder: Encoder, SingleValueEncodingContainer {
  enum Kind {
    case pending
    case object
    case array
    case single
  }

  let state: RecordEncodingState
  let parent: RecordValueEncoder?
  let key: (any CodingKey)?
  var kind = Kind.pending
  var isClosed = false
  /// Members or elements written so far, for commas and the unkeyed `count`.
  var count = 0

  init(state: RecordEncodingState, parent: RecordValueEncoder?, key: (any CodingKey)?) {
    self.state = state
    self.parent = parent
    self.key = key
  }

  var userInfo: [CodingUserInfoKey: Any] { [:] }

  var codingPath: [any CodingKey] {
    var path: [any CodingKey] = []
    var node: RecordValueEncoder? = self
    while let current = node, let key = current.key {
      path.append(key)
      node = current.parent
    }
    return path.reversed()
  }

  func path(appending component: (any CodingKey)?) -> [any CodingKey] {
    guard let component else { return codingPath }
    return codingPath + [component]
  }

  // MARK: Values

  func invalidNumber(_ value: Any, _ component: (any CodingKey)?) -> EncodingError {
    let path = path(appending: component)
    return EncodingError.invalidValue(
      value,
      .init(
        codingPath: path,
        debugDescription:
          "\(describeCodingPath(path)): \(value) cannot be written as JSON (NaN and infinities are not numbers in JSON)"
      ))
  }

  @inline(__always)
  func write(_ value: Double, _ component: (any CodingKey)?) throws {
    guard value.isFinite else { throw invalidNumber(value, component) }
    state.writer.write(value)
  }

  @inline(__always)
  func write(_ value: Float, _ component: (any CodingKey)?) throws {
    guard value.isFinite else { throw invalidNumber(value, component) }
    // A Float's shortest digits, not those of the Double it widens to (0.1, not 0.10000000149011612).
    state.writer.write(Double(value.description) ?? Double(value))
  }

  @inline(__always)
  func write<Integer: FixedWidthInteger>(integer value: Integer) {
    if let exact = Int64(exactly: value) {
      state.writer.write(exact)
    } else {
      state.writer.writeRaw(String(value).utf8)
    }
  }

  /// Writes any value as a member or element of this container (or as this encoder's own
  /// value when `asChild` is false).
  func encodeNested<T: Encodable>(_ value: T, _ component: any CodingKey) throws {
    if let special = recordSpecialValue(value) {
      state.writer.write(special)
      return
    }
    if T.self == [String].self {
      let array = value as! [String]
      state.writer.writeByte(UInt8(ascii: "["))
      for (index, element) in array.enumerated() {
        if index > 0 { state.writer.writeByte(UInt8(ascii: ",")) }
        state.writer.write(element)
      }
      state.writer.writeByte(UInt8(ascii: "]"))
      return
    }
    if T.self == [Int].self {
      let array = value as! [Int]
      state.writer.writeByte(UInt8(ascii: "["))
      for (index, element) in array.enumerated() {
        if index > 0 { state.writer.writeByte(UInt8(ascii: ",")) }
        state.writer.write(Int64(element))
      }
      state.writer.writeByte(UInt8(ascii: "]"))
      return
    }
    let child = RecordValueEncoder(state: state, parent: self, key: component)
    state.openFrames.append(child)
    try value.encode(to: child)
    try state.closeFrames(through: child)
  }

  // MARK: Encoder

  func openObject() {
    if kind == .object && !isClosed { return }
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      return
    }
    kind = .object
    state.writer.writeByte(UInt8(ascii: "{"))
  }

  func openArray() {
    if kind == .array && !isClosed { return }
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      return
    }
    kind = .array
    state.writer.writeByte(UInt8(ascii: "["))
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    openObject()
    return KeyedEncodingContainer(RecordKeyedEncodingContainer<Key>(encoder: self))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    openArray()
    return RecordUnkeyedEncodingContainer(encoder: self)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer { self }

  /// Starts a member or element of this container: closes whatever is open above it and
  /// writes the separator.
  @inline(__always)
  func beginEntry() throws {
    guard state.makeCurrent(self) else { throw RecordEncodingOutOfOrder() }
    if count > 0 { state.writer.writeByte(UInt8(ascii: ",")) }
    count += 1
  }

  @inline(__always)
  func beginMember(_ key: some CodingKey) throws {
    try beginEntry()
    state.writer.write(key.stringValue)
    state.writer.writeByte(UInt8(ascii: ":"))
  }

  /// A child encoder for a value written later by the caller (nested containers, super encoders).
  func pendingChild(_ component: any CodingKey) -> RecordValueEncoder {
    let child = RecordValueEncoder(state: state, parent: self, key: component)
    state.openFrames.append(child)
    return child
  }

  // MARK: SingleValueEncodingContainer

  @inline(__always)
  func beginSingle() throws {
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      throw RecordEncodingOutOfOrder()
    }
    kind = .single
  }

  func encodeNil() throws {
    try beginSingle()
    state.writer.writeASCII("null")
  }
  func encode(_ value: Bool) throws {
    try beginSingle()
    state.writer.writeASCII(value ? "true" : "false")
  }
  func encode(_ value: String) throws {
    try beginSingle()
    state.writer.write(value)
  }
  func encode(_ value: Double) throws {
    try beginSingle()
    try write(value, nil)
  }
  func encode(_ value: Float) throws {
    try beginSingle()
    try write(value, nil)
  }
  func encode(_ value: Int) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int8) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int16) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int32) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: Int64) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt8) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt16) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt32) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode(_ value: UInt64) throws {
    try beginSingle()
    write(integer: value)
  }
  func encode<T: Encodable>(_ value: T) throws {
    if let special = recordSpecialValue(value) {
      try beginSingle()
      state.writer.write(special)
      return
    }
    guard kind == .pending, state.makeCurrent(self) else {
      state.isOutOfOrder = true
      throw RecordEncodingOutOfOrder()
    }
    // The value becomes this encoder's own: its containers open right here.
    try value.encode(to: self)
  }

  /// Encodes the document's root value.
  func encodeRoot<T: Encodable>(_ value: T) throws {
    state.openFrames.append(self)
    if let special = recordSpecialValue(value) {
      kind = .single
      state.writer.write(special)
    } else {
      try value.encode(to: self)
    }
    try state.closeFrames(through: self)
  }
}

struct RecordKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let encoder: RecordValueEncoder

  var codingPath: [any CodingKey] { encoder.codingPath }

  func encodeNil(forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.state.writer.writeASCII("null")
  }
  func encode(_ value: Bool, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.state.writer.writeASCII(value ? "true" : "false")
  }
  func encode(_ value: String, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.state.writer.write(value)
  }
  func encode(_ value: Double, forKey key: Key) throws {
    guard value.isFinite else { throw encoder.invalidNumber(value, key) }
    try encoder.beginMember(key)
    encoder.state.writer.write(value)
  }
  func encode(_ value: Float, forKey key: Key) throws {
    guard value.isFinite else { throw encoder.invalidNumber(value, key) }
    try encoder.beginMember(key)
    try encoder.write(value, key)
  }
  func encode(_ value: Int, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.state.writer.write(Int64(value))
  }
  func encode(_ value: Int8, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: Int16, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: Int32, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: Int64, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt8, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt16, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt32, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode(_ value: UInt64, forKey key: Key) throws {
    try encoder.beginMember(key)
    encoder.write(integer: value)
  }
  func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try encoder.beginMember(key)
    try encoder.encodeNested(value, key)
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    if (try? encoder.beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).container(keyedBy: keyType)
  }

  func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    if (try? encoder.beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).unkeyedContainer()
  }

  func superEncoder() -> any Encoder {
    let key = JSONCodingKey("super")
    if (try? encoder.beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key)
  }

  func superEncoder(forKey key: Key) -> any Encoder {
    if (try? encoder.beginMember(key)) == nil { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key)
  }
}

struct RecordUnkeyedEncodingContainer: UnkeyedEncodingContainer {
  let encoder: RecordValueEncoder

  var codingPath: [any CodingKey] { encoder.codingPath }
  var count: Int { encoder.count }

  /// Starts the next element and returns its index, for error paths.
  @inline(__always)
  func begin() throws -> RecordIndexKey {
    let index = encoder.count
    try encoder.beginEntry()
    return RecordIndexKey(index)
  }

  mutating func encodeNil() throws {
    _ = try begin()
    encoder.state.writer.writeASCII("null")
  }
  mutating func encode(_ value: Bool) throws {
    _ = try begin()
    encoder.state.writer.writeASCII(value ? "true" : "false")
  }
  mutating func encode(_ value: String) throws {
    _ = try begin()
    encoder.state.writer.write(value)
  }
  mutating func encode(_ value: Double) throws {
    guard value.isFinite else { throw encoder.invalidNumber(value, RecordIndexKey(encoder.count)) }
    _ = try begin()
    encoder.state.writer.write(value)
  }
  mutating func encode(_ value: Float) throws {
    let key = try begin()
    try encoder.write(value, key)
  }
  mutating func encode(_ value: Int) throws {
    _ = try begin()
    encoder.state.writer.write(Int64(value))
  }
  mutating func encode(_ value: Int8) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: Int16) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: Int32) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: Int64) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt8) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt16) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt32) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode(_ value: UInt64) throws {
    _ = try begin()
    encoder.write(integer: value)
  }
  mutating func encode<T: Encodable>(_ value: T) throws {
    let key = try begin()
    try encoder.encodeNested(value, key)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type
  ) -> KeyedEncodingContainer<NestedKey> {
    let key = (try? begin()) ?? RecordIndexKey(encoder.count)
    if encoder.state.openFrames.last !== encoder { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).container(keyedBy: keyType)
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let key = (try? begin()) ?? RecordIndexKey(encoder.count)
    if encoder.state.openFrames.last !== encoder { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key).unkeyedContainer()
  }

  mutating func superEncoder() -> any Encoder {
    let key = (try? begin()) ?? RecordIndexKey(encoder.count)
    if encoder.state.openFrames.last !== encoder { encoder.state.isOutOfOrder = true }
    return encoder.pendingChild(key)
  }
}
