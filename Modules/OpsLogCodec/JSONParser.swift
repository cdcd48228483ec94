import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension JSONValue {
  /// Nesting deeper than this is `OpsLogError.invalidJSON(reason:offset:)`: a hostile file
  /// can never overflow the stack.
  public static let maximumDepth = 512

  /// Parses one JSON document, strictly by RFC 8259: UTF-8 validated, no trailing commas, no
  /// comments, nothing but white space after the value.
  ///
  /// Integers that fit `Int64` become `JSONValue.int(_:)`, exactly; every other number a
  /// `JSONValue.double(_:)`. A number beyond `Double`'s range (`1e400`) is an error, so NaN
  /// and infinities never enter a store. Object keys keep their order; a repeated key keeps
  /// its first place and its last value, as `JSON.parse` does.
  ///
  /// - Throws: `OpsLogError.invalidJSON(reason:offset:)` with the byte offset of the problem.
  public init(parsing bytes: some Collection<UInt8>) throws {
    let parsed = try bytes.withContiguousStorageIfAvailable { buffer in
      try JSONParser.parseDocument(UnsafeRawBufferPointer(buffer))
    }
    if let parsed {
      self = parsed
    } else {
      let array = Array(bytes)
      self = try array.withUnsafeBytes { try JSONParser.parseDocument($0) }
    }
  }

  /// Parses one JSON document from text; see ``init(parsing:)-(Collection<UInt8>)``.
  public init(parsing text: String) throws {
    var text = text
    self = try text.withUTF8 { try JSONParser.parseDocument(UnsafeRawBufferPointer($0)) }
  }
}

/// A strict recursive-descent JSON parser over a byte buffer.
///
/// The buffer must stay valid for the parser's lifetime; callers use it inside
/// `withUnsafeBytes`.
public struct JSONParser {
  @usableFromInline let base: UnsafePointer<UInt8>?
  @usableFromInline let end: Int
  /// The offset of the next byte to read.
  public var position: Int
  @usableFromInline var depth = 0
  /// Set once an object parsed by ``parseValue()`` repeated a key (its last value kept).
  var didRepeatAKey = false

  /// A parser at the start of `buffer`, which must stay valid (and unchanged) for as long as
  /// the parser is used: it reads the bytes in place, without copying them.
  public init(_ buffer: UnsafeRawBufferPointer) {
    base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
    end = buffer.count
    position = 0
  }

  /// A parser that resumes inside a document, at `position`, already `depth` containers deep,
  /// so that the depth limit counts from the document's root.
  @inlinable
  init(base: UnsafePointer<UInt8>?, end: Int, position: Int, depth: Int) {
    self.base = base
    self.end = end
    self.position = position
    self.depth = depth
  }

  /// Parses a whole document: one value surrounded by optional white space.
  public static func parseDocument(_ buffer: UnsafeRawBufferPointer) throws -> JSONValue {
    var parser = JSONParser(buffer)
    parser.skipWhitespace()
    let value = try parser.parseValue()
    parser.skipWhitespace()
    if parser.position != parser.end {
      throw parser.error("unexpected data after the JSON value")
    }
    return value
  }

  @inline(__always)
  func byte(at offset: Int) -> UInt8 { base.unsafelyUnwrapped[offset] }

  @inline(__always)
  func peek() -> UInt8? { position < end ? byte(at: position) : nil }

  /// The `OpsLogError.invalidJSON(reason:offset:)` for `reason` at `offset` (by default the
  /// current position), so every error names where parsing stopped.
  public func error(_ reason: String, at offset: Int? = nil) -> OpsLogError {
    .invalidJSON(reason: reason, offset: offset ?? position)
  }

  /// Whether `byte` is white space that JSON allows between tokens (space, tab, CR, LF), and
  /// nothing else: every reader in the codec asks this one question, so none is laxer.
  @inline(__always)
  static func isWhitespace(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x20, 0x0A, 0x0D, 0x09: return true
    default: return false
    }
  }

  @inline(__always)
  /// Moves past the white space JSON allows between tokens (space, tab, CR, LF), nothing else.
  public mutating func skipWhitespace() {
    while position < end && Self.isWhitespace(byte(at: position)) { position += 1 }
  }

  /// Parses the value at the current position (no leading white space).
  public mutating func parseValue() throws -> JSONValue {
    guard let first = peek() else { throw error("unexpected end of input, expected a value") }
    switch first {
    case UInt8(ascii: "{"): return .object(try parseObject())
    case UInt8(ascii: "["): return .array(try parseArray())
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
      return try parseNumber()
    default:
      throw error("unexpected character \(Self.describe(first)), expected a value")
    }
  }

  static func describe(_ byte: UInt8) -> String {
    if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
    return "byte 0x" + String(byte, radix: 16, uppercase: true)
  }

  mutating func expectLiteral(_ literal: StaticString) throws {
    let count = literal.utf8CodeUnitCount
    guard end - position >= count else { throw error("unexpected end of input in a literal") }
    let pointer = literal.utf8Start
    for offset in 0..<count where byte(at: position + offset) != pointer[offset] {
      throw error("invalid literal", at: position + offset)
    }
    position += count
  }

  mutating func enterNesting() throws {
    depth += 1
    if depth > JSONValue.maximumDepth {
      throw error("nesting deeper than \(JSONValue.maximumDepth) levels")
    }
  }

  mutating func parseObject() throws -> JSONObject {
    try enterNesting()
    position += 1  // {
    var object = JSONObject()
    skipWhitespace()
    if peek() == UInt8(ascii: "}") {
      position += 1
      depth -= 1
      return object
    }
    repeat {
      let key = try parseMemberKey()
      let value = try parseValue()
      if object.count > 0, object[key] != nil {
        didRepeatAKey = true
        object[key] = value
      } else {
        object.appendNew(key, value)
      }
    } while try endOfEntry(closing: UInt8(ascii: "}"))
    depth -= 1
    return object
  }

  mutating func parseArray() throws -> [JSONValue] {
    try enterNesting()
    position += 1  // [
    var array: [JSONValue] = []
    skipWhitespace()
    if peek() == UInt8(ascii: "]") {
      position += 1
      depth -= 1
      return array
    }
    repeat {
      array.append(try parseValue())
    } while try endOfEntry(closing: UInt8(ascii: "]"))
    depth -= 1
    return array
  }

  /// Parses a string at the current position (which holds its opening quote).
  public mutating func parseString() throws -> String {
    let start = position + 1
    var cursor = start
    var isASCII = true
    // The common case: no escapes. Scan to the closing quote, eight bytes at a time while none
    // of them is a quote, a backslash or a control character.
    if let base {
      let raw = UnsafeRawPointer(base)
      while cursor + 8 <= end {
        let word = raw.loadUnaligned(fromByteOffset: cursor, as: UInt64.self)
        if JSONWriter.mayNeedEscaping(word) { break }
        if word & 0x8080_8080_8080_8080 != 0 { isASCII = false }
        cursor += 8
      }
    }
    while cursor < end {
      let current = byte(at: cursor)
      if current == UInt8(ascii: "\"") {
        position = cursor + 1
        let span = UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: cursor - start)
        if isASCII { return String(decoding: span, as: UTF8.self) }
        guard let string = String(validating: span, as: UTF8.self) else {
          throw error("invalid UTF-8 in a string", at: start)
        }
        return string
      }
      if current == UInt8(ascii: "\\") { return try parseEscapedString(from: start, scannedTo: cursor) }
      if current < 0x20 { throw error("unescaped control character in a string", at: cursor) }
      if current >= 0x80 { isASCII = false }
      cursor += 1
    }
    throw error("unexpected end of input in a string", at: end)
  }

  mutating func parseEscapedString(from start: Int, scannedTo firstEscape: Int) throws -> String {
    var utf8: [UInt8] = []
    utf8.reserveCapacity(firstEscape - start + 16)
    utf8.append(contentsOf: UnsafeBufferPointer(start: base.unsafelyUnwrapped + start, count: firstEscape - start))
    var cursor = firstEscape
    while cursor < end {
      let current = byte(at: cursor)
      switch current {
      case UInt8(ascii: "\""):
        position = cursor + 1
        guard let string = String(validating: utf8, as: UTF8.self) else {
          throw error("invalid UTF-8 in a string", at: start)
        }
        return string
      case UInt8(ascii: "\\"):
        guard cursor + 1 < end else { throw error("unexpected end of input in an escape", at: cursor) }
        let escape = byte(at: cursor + 1)
        cursor += 2
        switch escape {
        case UInt8(ascii: "\""): utf8.append(0x22)
        case UInt8(ascii: "\\"): utf8.append(0x5C)
        case UInt8(ascii: "/"): utf8.append(0x2F)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try readHex4(at: cursor)
          cursor += 4
          if scalar >= 0xD800 && scalar <= 0xDBFF {
            guard cursor + 6 <= end, byte(at: cursor) == UInt8(ascii: "\\"), byte(at: cursor + 1) == UInt8(ascii: "u")
            else { throw error("lone high surrogate \\u\(String(scalar, radix: 16)) in a string", at: cursor - 6) }
            let low = try readHex4(at: cursor + 2)
            guard low >= 0xDC00 && low <= 0xDFFF else {
              throw error("high surrogate not followed by a low surrogate", at: cursor)
            }
            cursor += 6
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
            throw error("lone low surrogate \\u\(String(scalar, radix: 16)) in a string", at: cursor - 6)
          }
          Self.appendUTF8(scalar, to: &utf8)
        default:
          throw error("invalid escape \\\(Self.describe(escape))", at: cursor - 2)
        }
      default:
        if current < 0x20 { throw error("unescaped control character in a string", at: cursor) }
        utf8.append(current)
        cursor += 1
      }
    }
    throw error("unexpected end of input in a string", at: end)
  }

  func readHex4(at offset: Int) throws -> UInt32 {
    guard offset + 4 <= end else { throw error("unexpected end of input in a \\u escape", at: offset) }
    var value: UInt32 = 0
    for index in offset..<(offset + 4) {
      let digit = byte(at: index)
      let nibble: UInt32
      switch digit {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt32(digit - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt32(digit - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt32(digit - UInt8(ascii: "A") + 10)
      default: throw error("invalid hex digit in a \\u escape", at: index)
      }
      value = value << 4 | nibble
    }
    return value
  }

  static func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    switch scalar {
    case 0..<0x80:
      bytes.append(UInt8(scalar))
    case 0x80..<0x800:
      bytes.append(UInt8(0xC0 | (scalar >> 6)))
      bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    case 0x800..<0x10000:
      bytes.append(UInt8(0xE0 | (scalar >> 12)))
      bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
      bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    default:
      bytes.append(UInt8(0xF0 | (scalar >> 18)))
      bytes.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
      bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
      bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    }
  }

  @usableFromInline static let powersOfTen: [Double] = (0...22).map { exponent in
    var value = 1.0
    for _ in 0..<exponent { value *= 10 }
    return value
  }

  /// Parses a number by the RFC 8259 grammar.
  public mutating func parseNumber() throws -> JSONValue {
    let start = position
    var cursor = position
    var negative = false
    if byte(at: cursor) == UInt8(ascii: "-") {
      negative = true
      cursor += 1
    }
    guard cursor < end else { throw error("unexpected end of input in a number", at: cursor) }
    let firstDigit = byte(at: cursor)
    guard firstDigit >= UInt8(ascii: "0") && firstDigit <= UInt8(ascii: "9") else {
      throw error("expected a digit in a number", at: cursor)
    }
    var mantissa: UInt64 = 0
    var significantDigits = 0
    // Digits beyond 19 significant ones do not fit the mantissa: strtod takes those numbers.
    var truncated = false
    if firstDigit == UInt8(ascii: "0") {
      cursor += 1
      if cursor < end, byte(at: cursor) >= UInt8(ascii: "0") && byte(at: cursor) <= UInt8(ascii: "9") {
        throw error("leading zero in a number", at: cursor)
      }
    } else {
      while cursor < end {
        let digit = byte(at: cursor) &- UInt8(ascii: "0")
        if digit > 9 { break }
        if significantDigits < 19 {
          mantissa = mantissa &* 10 &+ UInt64(digit)
          significantDigits += 1
        } else {
          truncated = true
        }
        cursor += 1
      }
    }
    var isInteger = true
    var fractionDigits = 0
    var exponent = 0
    if cursor < end, byte(at: cursor) == UInt8(ascii: ".") {
      isInteger = false
      cursor += 1
      let fractionStart = cursor
      while cursor < end {
        let digit = byte(at: cursor) &- UInt8(ascii: "0")
        if digit > 9 { break }
        if significantDigits < 19 {
          if mantissa != 0 || digit != 0 { significantDigits += 1 }
          mantissa = mantissa &* 10 &+ UInt64(digit)
          fractionDigits += 1
        } else {
          truncated = true
        }
        cursor += 1
      }
      guard cursor > fractionStart else { throw error("expected a digit after '.' in a number", at: cursor) }
    }
    if cursor < end, byte(at: cursor) | 0x20 == UInt8(ascii: "e") {
      isInteger = false
      cursor += 1
      var exponentNegative = false
      if cursor < end, byte(at: cursor) == UInt8(ascii: "+") || byte(at: cursor) == UInt8(ascii: "-") {
        exponentNegative = byte(at: cursor) == UInt8(ascii: "-")
        cursor += 1
      }
      let exponentStart = cursor
      while cursor < end {
        let digit = byte(at: cursor) &- UInt8(ascii: "0")
        if digit > 9 { break }
        if exponent < 100_000 { exponent = exponent * 10 + Int(digit) }
        cursor += 1
      }
      guard cursor > exponentStart else { throw error("expected a digit in a number's exponent", at: cursor) }
      if exponentNegative { exponent = -exponent }
    }
    position = cursor

    if isInteger && !truncated {
      if mantissa <= UInt64(Int64.max) { return .int(negative ? -Int64(mantissa) : Int64(mantissa)) }
      if negative && mantissa == UInt64(Int64.max) + 1 { return .int(Int64.min) }
    }
    // Exact fast path: the mantissa and the power of ten are both exact doubles, so one
    // multiplication or division rounds correctly.
    let decimalExponent = exponent - fractionDigits
    if !truncated, mantissa <= (1 << 53), decimalExponent >= -22 && decimalExponent <= 22 {
      var value = Double(mantissa)
      if decimalExponent < 0 {
        value /= Self.powersOfTen[-decimalExponent]
      } else {
        value *= Self.powersOfTen[decimalExponent]
      }
      return .double(negative ? -value : value)
    }
    return try slowDouble(from: start, to: cursor)
  }

  func slowDouble(from start: Int, to stop: Int) throws -> JSONValue {
    // strtod needs a terminated string; numbers are short, so a stack copy is cheap.
    let length = stop - start
    let value: Double = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { buffer in
      for offset in 0..<length { buffer[offset] = CChar(bitPattern: byte(at: start + offset)) }
      buffer[length] = 0
      return strtod(buffer.baseAddress!, nil)
    }
    guard value.isFinite else { throw error("number beyond the range of a double", at: start) }
    return .double(value)
  }
}

// MARK: - Validating skips

extension JSONParser {
  /// Steps over the value at the current position, checking it exactly as ``parseValue()``
  /// would but building nothing. Iterative, so any nesting up to the depth limit costs no stack.
  mutating func skipValue() throws {
    guard let first = peek() else { throw error("unexpected end of input, expected a value") }
    if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
      try skipContainer()
    } else {
      try skipScalar(first)
    }
  }

  /// Skips the string, number or literal whose first byte, `first`, is at the current position.
  @inline(__always)
  private mutating func skipScalar(_ first: UInt8) throws {
    switch first {
    case UInt8(ascii: "\""): try skipString()
    case UInt8(ascii: "t"): try expectLiteral("true")
    case UInt8(ascii: "f"): try expectLiteral("false")
    case UInt8(ascii: "n"): try expectLiteral("null")
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try parseNumber()
    default: throw error("unexpected character \(Self.describe(first)), expected a value")
    }
  }

  /// Skips an object or array whose opening bracket is at the current position.
  private mutating func skipContainer() throws {
    let startDepth = depth
    // Whether each open level is an object; depth is bounded, so this never grows past 513.
    try withUnsafeTemporaryAllocation(of: Bool.self, capacity: JSONValue.maximumDepth + 2) { isObject in
      var level = 0
      while true {
        // Here: at the first byte of a value.
        guard let first = peek() else { throw error("unexpected end of input, expected a value") }
        var closedEmpty = false
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
          try enterNesting()
          level += 1
          let opensObject = first == UInt8(ascii: "{")
          isObject[level] = opensObject
          position += 1
          skipWhitespace()
          if peek() == (opensObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
            position += 1
            depth -= 1
            level -= 1
            closedEmpty = true
          } else if opensObject {
            try skipMemberKey()
            continue
          } else {
            continue
          }
        }
        if !closedEmpty { try skipScalar(first) }
        // Here: just after a complete value; close every container that ends now.
        while true {
          if level == 0 {
            assert(depth == startDepth)
            return
          }
          if try endOfEntry(closing: isObject[level] ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
            if isObject[level] { try skipMemberKey() }
            break
          }
          depth -= 1
          level -= 1
        }
      }
    }
  }

  /// Steps over a string (opening quote at the position), checking escapes, surrogate pairs and
  /// UTF-8 as ``parseString()`` does.
  mutating func skipString() throws {
    var cursor = position + 1
    while cursor < end {
      let current = byte(at: cursor)
      if current == UInt8(ascii: "\"") {
        position = cursor + 1
        return
      }
      if current == UInt8(ascii: "\\") {
        cursor = try skipEscape(at: cursor)
      } else if current < 0x20 {
        throw error("unescaped control character in a string", at: cursor)
      } else if current < 0x80 {
        cursor += 1
      } else {
        cursor += try validateUTF8Sequence(at: cursor)
      }
    }
    throw error("unexpected end of input in a string", at: end)
  }

  /// Checks the escape at `offset` (its backslash) and returns the offset after it.
  func skipEscape(at offset: Int) throws -> Int {
    guard offset + 1 < end else { throw error("unexpected end of input in an escape", at: offset) }
    let escape = byte(at: offset + 1)
    switch escape {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
      UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
      return offset + 2
    case UInt8(ascii: "u"):
      let scalar = try readHex4(at: offset + 2)
      if scalar >= 0xD800 && scalar <= 0xDBFF {
        let lowStart = offset + 6
        guard lowStart + 6 <= end, byte(at: lowStart) == UInt8(ascii: "\\"),
          byte(at: lowStart + 1) == UInt8(ascii: "u")
        else { throw error("lone high surrogate \\u\(String(scalar, radix: 16)) in a string", at: offset) }
        let low = try readHex4(at: lowStart + 2)
        guard low >= 0xDC00 && low <= 0xDFFF else {
          throw error("high surrogate not followed by a low surrogate", at: lowStart)
        }
        return lowStart + 6
      }
      if scalar >= 0xDC00 && scalar <= 0xDFFF {
        throw error("lone low surrogate \\u\(String(scalar, radix: 16)) in a string", at: offset)
      }
      return offset + 6
    default:
      throw error("invalid escape \\\(Self.describe(escape))", at: offset)
    }
  }

  /// Checks the multi-byte UTF-8 sequence starting at `offset` (a byte ≥ 0x80) and returns its
  /// length. Rejects overlong forms, surrogates, code points above U+10FFFF and truncation.
  @inline(__always)
  func validateUTF8Sequence(at offset: Int) throws -> Int {
    let lead = byte(at: offset)
    let length: Int
    var lowerBound: UInt8 = 0x80
    var upperBound: UInt8 = 0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0:
      length = 3
      lowerBound = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED:
      length = 3
      upperBound = 0x9F
    case 0xF0:
      length = 4
      lowerBound = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4:
      length = 4
      upperBound = 0x8F
    default: throw error("invalid UTF-8 in a string", at: offset)
    }
    guard offset + length <= end else { throw error("invalid UTF-8 in a string", at: offset) }
    let second = byte(at: offset + 1)
    guard second >= lowerBound && second <= upperBound else { throw error("invalid UTF-8 in a string", at: offset) }
    for index in (offset + 2)..<(offset + length) where byte(at: index) & 0xC0 != 0x80 {
      throw error("invalid UTF-8 in a string", at: offset)
    }
    return length
  }
}

// MARK: - Object members and container entries

// Every reader of objects and arrays in this module (the parser, the validating skip, the WAL
// line scan and the record decoder) takes these steps, so that they all accept the same input
// and reject it with the same error at the same offset.
extension JSONParser {
  /// Throws unless the current byte is the opening quote of a member's key.
  @inline(__always)
  mutating func expectMemberKey() throws {
    guard peek() == UInt8(ascii: "\"") else {
      throw peek() == nil ? error("unexpected end of input in an object") : error("expected a string key in an object")
    }
  }

  /// Parses `"key" :` and the white space after it, leaving the position at the member's value.
  @inline(__always)
  mutating func parseMemberKey() throws -> String {
    try expectMemberKey()
    let key = try parseString()
    try skipNameSeparator()
    return key
  }

  /// Skips `"key" :` and the white space after it, leaving the position at the member's value.
  /// Returns where the key is: from its opening quote to just past its closing one.
  @discardableResult
  mutating func skipMemberKey() throws -> Range<Int> {
    try expectMemberKey()
    let start = position
    try skipString()
    let key = start..<position
    try skipNameSeparator()
    return key
  }

  /// Skips the white space, `:` and white space after a member's key.
  @inline(__always)
  mutating func skipNameSeparator() throws {
    skipWhitespace()
    guard peek() == UInt8(ascii: ":") else {
      throw peek() == nil ? error("unexpected end of input in an object") : error("expected ':' after an object key")
    }
    position += 1
    skipWhitespace()
  }

  /// Steps past what follows a member's or element's value: true after `,` (and the white
  /// space after it, so the next entry starts at the position), false after `closing` (`}` or
  /// `]`), which ends the container.
  @inline(__always)
  mutating func endOfEntry(closing: UInt8) throws -> Bool {
    skipWhitespace()
    let inObject = closing == UInt8(ascii: "}")
    guard let next = peek() else {
      throw error(inObject ? "unexpected end of input in an object" : "unexpected end of input in an array")
    }
    position += 1
    if next == UInt8(ascii: ",") {
      skipWhitespace()
      return true
    }
    if next == closing { return false }
    throw error(inObject ? "expected ',' or '}' in an object" : "expected ',' or ']' in an array", at: position - 1)
  }
}
