/// A JSON document held in memory: the schemaless record type (`Store<JSONValue>`) and the
/// value the codec parses into and serializes from.
///
/// Integers that fit `Int64` keep their exact value in ``int(_:)``; every other number is a
/// ``double(_:)``. Equality and hashing are numeric, as in JSON and JavaScript:
/// `.int(1) == .double(1.0)`, and both hash alike. Objects compare without regard to key
/// order (see ``JSONObject``) but keep that order for serialization.
public enum JSONValue: Sendable, Hashable {
  case null
  case bool(Bool)
  /// An integer literal that fits `Int64`.
  case int(Int64)
  /// Every other number. Never NaN or infinite when parsed; such values are written as `null`,
  /// as `JSON.stringify` does.
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object(JSONObject)

  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.int(let a), .int(let b)): return a == b
    case (.double(let a), .double(let b)): return a == b
    case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
      return Int64(exactly: b) == a
    case (.string(let a), .string(let b)): return a == b
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)): return a == b
    default: return false
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch self {
    case .null: hasher.combine(0 as UInt8)
    case .bool(let value):
      hasher.combine(1 as UInt8)
      hasher.combine(value)
    case .int(let value):
      // An integer that a Double holds exactly hashes as that Double, so that equal numbers
      // of either case hash alike.
      hasher.combine(2 as UInt8)
      let asDouble = Double(value)
      if Int64(exactly: asDouble) == value {
        hasher.combine(asDouble)
      } else {
        hasher.combine(value)
      }
    case .double(let value):
      hasher.combine(2 as UInt8)
      hasher.combine(value)
    case .string(let value):
      hasher.combine(3 as UInt8)
      hasher.combine(value)
    case .array(let value):
      hasher.combine(4 as UInt8)
      hasher.combine(value)
    case .object(let value):
      hasher.combine(5 as UInt8)
      hasher.combine(value)
    }
  }
}

// MARK: - Accessors

extension JSONValue {
  /// The object's member named `key`, or `nil` when this is not an object or has no such key.
  public subscript(key: String) -> JSONValue? {
    get {
      if case .object(let object) = self { return object[key] }
      return nil
    }
    set {
      guard case .object(var object) = self else { return }
      self = .null  // drop the reference so the object is mutated in place
      object[key] = newValue
      self = .object(object)
    }
  }

  /// The array's element at `index`, or `nil` when this is not an array or the index is out of range.
  public subscript(index: Int) -> JSONValue? {
    if case .array(let array) = self, array.indices.contains(index) { return array[index] }
    return nil
  }

  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }
  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }
  /// The value as an integer when it is an integer, or a double with an exact integer value.
  public var intValue: Int64? {
    switch self {
    case .int(let value): return value
    case .double(let value): return Int64(exactly: value)
    default: return nil
    }
  }
  /// The value as a double when it is any number (large integers round to the nearest double).
  public var doubleValue: Double? {
    switch self {
    case .int(let value): return Double(value)
    case .double(let value): return value
    default: return nil
    }
  }
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }
  public var objectValue: JSONObject? {
    if case .object(let value) = self { return value }
    return nil
  }

  /// Structural equality that, unlike `==`, also requires object keys in the same order and
  /// numbers of the same spelling class. Two values are `isIdentical` exactly when their
  /// compact serializations are equal byte for byte, which is the sameness delta patches use.
  public func isIdentical(to other: JSONValue) -> Bool {
    switch (self, other) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.string(let a), .string(let b)): return a == b
    case (.int, _), (.double, _):
      // Numbers are written in their shortest round-tripping form, so numerically equal
      // values serialize alike (JavaScript writes -0 as 0 too).
      switch other {
      case .int, .double: return self == other
      default: return false
      }
    case (.array(let a), .array(let b)):
      guard a.count == b.count else { return false }
      for index in a.indices where !a[index].isIdentical(to: b[index]) { return false }
      return true
    case (.object(let a), .object(let b)):
      guard a.count == b.count else { return false }
      for (left, right) in zip(a, b) {
        guard left.key == right.key, left.value.isIdentical(to: right.value) else { return false }
      }
      return true
    default: return false
    }
  }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
  public init(nilLiteral: ()) { self = .null }
}
extension JSONValue: ExpressibleByBooleanLiteral {
  public init(booleanLiteral value: Bool) { self = .bool(value) }
}
extension JSONValue: ExpressibleByIntegerLiteral {
  public init(integerLiteral value: Int64) { self = .int(value) }
}
extension JSONValue: ExpressibleByFloatLiteral {
  public init(floatLiteral value: Double) { self = .double(value) }
}
extension JSONValue: ExpressibleByStringLiteral {
  public init(stringLiteral value: String) { self = .string(value) }
}
extension JSONValue: ExpressibleByArrayLiteral {
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}
extension JSONValue: ExpressibleByDictionaryLiteral {
  /// Keys keep the literal's order; a repeated key keeps its first place and its last value.
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(JSONObject(elements))
  }
}

// MARK: - Codable

extension JSONValue: Codable {
  public init(from decoder: any Decoder) throws {
    if var array = try? decoder.unkeyedContainer() {
      var elements: [JSONValue] = []
      if let count = array.count { elements.reserveCapacity(count) }
      while !array.isAtEnd { elements.append(try array.decode(JSONValue.self)) }
      self = .array(elements)
      return
    }
    if let keyed = try? decoder.container(keyedBy: JSONCodingKey.self) {
      // allKeys may be computed on every access (a table of the object's members).
      let keys = keyed.allKeys
      var object = JSONObject(minimumCapacity: keys.count)
      for key in keys { object[key.stringValue] = try keyed.decode(JSONValue.self, forKey: key) }
      self = .object(object)
      return
    }
    let single = try decoder.singleValueContainer()
    if single.decodeNil() {
      self = .null
    } else if let value = try? single.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? single.decode(Int64.self) {
      self = .int(value)
    } else if let value = try? single.decode(Double.self) {
      self = .double(value)
    } else {
      self = .string(try single.decode(String.self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    switch self {
    case .null:
      var single = encoder.singleValueContainer()
      try single.encodeNil()
    case .bool(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .int(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .double(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .string(let value):
      var single = encoder.singleValueContainer()
      try single.encode(value)
    case .array(let elements):
      var unkeyed = encoder.unkeyedContainer()
      for element in elements { try unkeyed.encode(element) }
    case .object(let object):
      var keyed = encoder.container(keyedBy: JSONCodingKey.self)
      for (key, value) in object { try keyed.encode(value, forKey: JSONCodingKey(key)) }
    }
  }
}

/// A coding key for any JSON object member name.
public struct JSONCodingKey: CodingKey, Hashable, Sendable {
  public var stringValue: String
  public var intValue: Int?
  public init(_ string: String) {
    self.stringValue = string
    self.intValue = nil
  }
  public init?(stringValue: String) { self.init(stringValue) }
  public init?(intValue: Int) {
    self.stringValue = String(intValue)
    self.intValue = intValue
  }
}
