/// A JSON document held in memory: the schemaless record type (`Store<JSONValue>`) and the
/// value the codec parses into and serializes from.
///
/// Integers that fit `Int64` keep their exact value in ``int(_:)``; every other number is a
/// ``double(_:)``. Equality and hashing are numeric, as in JSON and JavaScript:
/// `.int(1) == .double(1.0)`, and both hash alike. Strings compare by exact code points.
/// Objects compare without regard to key
/// order (see ``JSONObject``) but keep that order for serialization.
public enum JSONValue: Sendable, Hashable {
  /// `null`.
  case null
  /// `true` or `false`.
  case bool(Bool)
  /// An integer literal that fits `Int64`.
  case int(Int64)
  /// Every other number. Never NaN or infinite when parsed; such values are written as `null`,
  /// as `JSON.stringify` does.
  case double(Double)
  /// A string.
  case string(String)
  /// An array, elements in order.
  case array([JSONValue])
  /// An object, members in insertion order.
  case object(JSONObject)

  /// Structural equality, numeric for numbers: an ``int(_:)`` equals a ``double(_:)`` holding
  /// exactly that integer, and NaN equals nothing. Strings and object keys compare by their
  /// exact code points (``ExactString``), not by Swift's canonical equivalence, because their
  /// JSON texts differ: `.string("é") != .string("e\u{301}")`. Objects compare without regard
  /// to member order; arrays element by element. See ``isIdentical(to:)`` for byte-level sameness.
  public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.int(let a), .int(let b)): return a == b
    case (.double(let a), .double(let b)): return a == b
    case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
      return Int64(exactly: b) == a
    case (.string(let a), .string(let b)): return ExactString.areIdentical(a, b)
    case (.array(let a), .array(let b)): return a == b
    case (.object(let a), .object(let b)): return a == b
    default: return false
    }
  }

  /// Hashes consistently with `==`: equal numbers hash alike whichever case holds them, and
  /// objects hash without regard to member order.
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
      ExactString.hash(value, into: &hasher)
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

  /// Whether this is ``null``.
  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }
  /// The Boolean, or `nil` when this is not ``bool(_:)``.
  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }
  /// The string, or `nil` when this is not ``string(_:)``.
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
  /// The elements, or `nil` when this is not ``array(_:)``.
  public var arrayValue: [JSONValue]? {
    if case .array(let value) = self { return value }
    return nil
  }
  /// The object, or `nil` when this is not ``object(_:)``.
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
    case (.string(let a), .string(let b)): return ExactString.areIdentical(a, b)
    case (.int(let a), .int(let b)): return a == b
    case (.double(let a), .double(let b)):
      // Doubles are written in their shortest round-tripping form, so equal ones serialize
      // alike (JavaScript writes -0 as 0 too).
      return a == b
    case (.int(let integer), .double(let double)), (.double(let double), .int(let integer)):
      // An integral double below 2^53 is written as an integer; from 2^53 on, in exponent form.
      return Swift.abs(double) < 9_007_199_254_740_992 && Int64(exactly: double) == integer
    case (.array(let a), .array(let b)):
      guard a.count == b.count else { return false }
      for index in a.indices where !a[index].isIdentical(to: b[index]) { return false }
      return true
    case (.object(let a), .object(let b)):
      guard a.count == b.count else { return false }
      for (left, right) in zip(a, b) {
        guard ExactString.areIdentical(left.key, right.key), left.value.isIdentical(to: right.value) else {
          return false
        }
      }
      return true
    default: return false
    }
  }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
  /// ``null``.
  public init(nilLiteral: ()) { self = .null }
}
extension JSONValue: ExpressibleByBooleanLiteral {
  /// ``bool(_:)``.
  public init(booleanLiteral value: Bool) { self = .bool(value) }
}
extension JSONValue: ExpressibleByIntegerLiteral {
  /// ``int(_:)``.
  public init(integerLiteral value: Int64) { self = .int(value) }
}
extension JSONValue: ExpressibleByFloatLiteral {
  /// ``double(_:)``, even for a literal with an integer value such as `2.0`.
  public init(floatLiteral value: Double) { self = .double(value) }
}
extension JSONValue: ExpressibleByStringLiteral {
  /// ``string(_:)``.
  public init(stringLiteral value: String) { self = .string(value) }
}
extension JSONValue: ExpressibleByArrayLiteral {
  /// ``array(_:)``, elements in the literal's order.
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
  /// Decodes whatever JSON value the decoder holds, trying each kind in this order and taking
  /// the first the decoder accepts: an array (an unkeyed container), an object (a keyed
  /// container), `null`, `Bool`, `Int64`, `Double`, then `String`.
  ///
  /// An object's members follow the order of the container's `allKeys`, which is the
  /// decoder's to choose: document order only from a decoder that keeps it. A key listed twice
  /// keeps its first place. Members and elements are decoded recursively, in order.
  ///
  /// - Throws: what the decoder throws for a member or element, or, for a value that is none
  ///   of the kinds above, the error of its last attempt, decoding a `String`.
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

  /// Encodes the value through the encoder's containers: a single-value container for
  /// ``null`` (`encodeNil`) and every scalar (``int(_:)`` as `Int64`, ``double(_:)`` as
  /// `Double`, whatever its value), an unkeyed container for an array and a keyed container
  /// (``JSONCodingKey``) for an object, members in insertion order.
  ///
  /// - Throws: whatever the encoder's containers throw (an encoder may reject a NaN or
  ///   infinite ``double(_:)``, for example).
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
  /// The member name, any string (empty included).
  public var stringValue: String
  /// The integer the key was made from with ``init(intValue:)``; `nil` for a key made from a name.
  public var intValue: Int?
  /// The key for member `string`.
  public init(_ string: String) {
    self.stringValue = string
    self.intValue = nil
  }
  /// The key for member `stringValue`; never fails, as every string names a JSON member.
  public init?(stringValue: String) { self.init(stringValue) }
  /// The key named by `intValue`'s decimal digits (`"3"`), keeping the integer; never fails.
  public init?(intValue: Int) {
    self.stringValue = String(intValue)
    self.intValue = intValue
  }
}
