import OpsLogTypes

/// Encodes a value into a tree of reference-typed nodes, so that containers can be filled in
/// any order; the slow path for the rare type that ``RecordValueEncoder`` cannot stream.
final class RecordTreeEncoder: CodingPathNode, Encoder, SingleValueEncodingContainer {
  enum Storage {
    case empty
    case value(JSONValue)
    /// An integer beyond `Int64` (a large `UInt64`), kept exact: a ``JSONValue`` would round it
    /// to a double.
    case largeInteger(UInt64)
    case object(RecordTreeObject)
    case array(RecordTreeArray)
  }

  let parent: RecordTreeEncoder?
  let key: (any CodingKey)?
  var storage = Storage.empty

  init(parent: RecordTreeEncoder?, key: (any CodingKey)?) {
    self.parent = parent
    self.key = key
  }

  var userInfo: [CodingUserInfoKey: Any] { [:] }

  /// The encoded value; a type that encoded nothing is an empty object, as in the streaming encoder.
  var jsonValue: JSONValue {
    switch storage {
    case .empty: return .object(JSONObject())
    case .value(let value): return value
    case .largeInteger(let value): return .double(Double(value))
    case .object(let object):
      var result = JSONObject(minimumCapacity: object.keys.count)
      for (key, member) in zip(object.keys, object.members) { result.appendNew(key, member.jsonValue) }
      return .object(result)
    case .array(let array): return .array(array.elements.map(\.jsonValue))
    }
  }

  /// Writes the encoded value as ``jsonValue`` would serialize, but with a large `UInt64`
  /// in its exact digits, as the streaming encoder writes it.
  func write(into writer: inout JSONWriter) {
    switch storage {
    case .empty: writer.writeASCII("{}")
    case .value(let value): writer.write(value)
    case .largeInteger(let value): writer.writeRaw(String(value).utf8)
    case .object(let object):
      writer.writeByte(UInt8(ascii: "{"))
      for index in object.keys.indices {
        if index > 0 { writer.writeByte(UInt8(ascii: ",")) }
        writer.write(object.keys[index])
        writer.writeByte(UInt8(ascii: ":"))
        object.members[index].write(into: &writer)
      }
      writer.writeByte(UInt8(ascii: "}"))
    case .array(let array):
      writer.writeByte(UInt8(ascii: "["))
      for index in array.elements.indices {
        if index > 0 { writer.writeByte(UInt8(ascii: ",")) }
        array.elements[index].write(into: &writer)
      }
      writer.writeByte(UInt8(ascii: "]"))
    }
  }

  func object() -> RecordTreeObject {
    if case .object(let object) = storage { return object }
    let object = RecordTreeObject()
    storage = .object(object)
    return object
  }

  func array() -> RecordTreeArray {
    if case .array(let array) = storage { return array }
    let array = RecordTreeArray()
    storage = .array(array)
    return array
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    KeyedEncodingContainer(RecordTreeKeyedContainer<Key>(encoder: self, object: object()))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    RecordTreeUnkeyedContainer(encoder: self, array: array())
  }

  func singleValueContainer() -> any SingleValueEncodingContainer { self }

  func number(_ value: Double) throws -> JSONValue {
    guard value.isFinite else {
      let path = codingPath
      throw EncodingError.invalidValue(
        value,
        .init(
          codingPath: path,
          debugDescription:
            "\(describeCodingPath(path)): \(value) cannot be written as JSON (NaN and infinities are not numbers in JSON)"
        ))
    }
    return .double(value)
  }

  func integer<Integer: FixedWidthInteger>(_ value: Integer) -> Storage {
    if let exact = Int64(exactly: value) { return .value(.int(exact)) }
    // Only an unsigned integer can be beyond Int64, and every such one fits UInt64.
    return .largeInteger(UInt64(value))
  }

  func encodeNil() throws { storage = .value(.null) }
  func encode(_ value: Bool) throws { storage = .value(.bool(value)) }
  func encode(_ value: String) throws { storage = .value(.string(value)) }
  func encode(_ value: Double) throws { storage = .value(try number(value)) }
  func encode(_ value: Float) throws { storage = .value(try number(Double(value.description) ?? Double(value))) }
  func encode(_ value: Int) throws { storage = integer(value) }
  func encode(_ value: Int8) throws { storage = integer(value) }
  func encode(_ value: Int16) throws { storage = integer(value) }
  func encode(_ value: Int32) throws { storage = integer(value) }
  func encode(_ value: Int64) throws { storage = integer(value) }
  func encode(_ value: UInt) throws { storage = integer(value) }
  func encode(_ value: UInt8) throws { storage = integer(value) }
  func encode(_ value: UInt16) throws { storage = integer(value) }
  func encode(_ value: UInt32) throws { storage = integer(value) }
  func encode(_ value: UInt64) throws { storage = integer(value) }
  func encode<T: Encodable>(_ value: T) throws {
    if let special = recordSpecialValue(value) {
      storage = .value(special)
    } else {
      try value.encode(to: self)
    }
  }
}

final class RecordTreeObject {
  var keys: [String] = []
  var members: [RecordTreeEncoder] = []

  /// The slot for `key`; encoding a key twice replaces its value in its first place, as
  /// JSONEncoder does.
  func slot(for key: any CodingKey, parent: RecordTreeEncoder) -> RecordTreeEncoder {
    let child = RecordTreeEncoder(parent: parent, key: key)
    let name = key.stringValue
    if let index = keys.firstIndex(where: { ExactString.areIdentical($0, name) }) {
      members[index] = child
    } else {
      keys.append(name)
      members.append(child)
    }
    return child
  }
}

final class RecordTreeArray {
  var elements: [RecordTreeEncoder] = []

  func slot(parent: RecordTreeEncoder) -> RecordTreeEncoder {
    let child = RecordTreeEncoder(parent: parent, key: RecordIndexKey(elements.count))
    elements.append(child)
    return child
  }
}

struct RecordTreeKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let encoder: RecordTreeEncoder
  let object: RecordTreeObject

  var codingPath: [any CodingKey] { encoder.codingPath }

  func encodeNil(forKey key: Key) throws { try object.slot(for: key, parent: encoder).encodeNil() }
  func encode(_ value: Bool, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: String, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Double, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Float, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Int, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Int8, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Int16, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Int32, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: Int64, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: UInt, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: UInt8, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: UInt16, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: UInt32, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode(_ value: UInt64, forKey key: Key) throws { try object.slot(for: key, parent: encoder).encode(value) }
  func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try object.slot(for: key, parent: encoder).encode(value)
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    object.slot(for: key, parent: encoder).container(keyedBy: keyType)
  }
  func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    object.slot(for: key, parent: encoder).unkeyedContainer()
  }
  func superEncoder() -> any Encoder { object.slot(for: JSONCodingKey("super"), parent: encoder) }
  func superEncoder(forKey key: Key) -> any Encoder { object.slot(for: key, parent: encoder) }
}

struct RecordTreeUnkeyedContainer: UnkeyedEncodingContainer {
  let encoder: RecordTreeEncoder
  let array: RecordTreeArray

  var codingPath: [any CodingKey] { encoder.codingPath }
  var count: Int { array.elements.count }

  mutating func encodeNil() throws { try array.slot(parent: encoder).encodeNil() }
  mutating func encode(_ value: Bool) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: String) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Double) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Float) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Int) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Int8) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Int16) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Int32) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: Int64) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: UInt) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: UInt8) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: UInt16) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: UInt32) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode(_ value: UInt64) throws { try array.slot(parent: encoder).encode(value) }
  mutating func encode<T: Encodable>(_ value: T) throws { try array.slot(parent: encoder).encode(value) }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type
  ) -> KeyedEncodingContainer<NestedKey> {
    array.slot(parent: encoder).container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    array.slot(parent: encoder).unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder { array.slot(parent: encoder) }
}
