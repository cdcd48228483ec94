import OpsLogTypes

extension JSONValue {
  /// The compact JSON text, byte for byte as JavaScript's `JSON.stringify` writes it: no
  /// white space, short escapes, `\u00XX` for other control characters, non-ASCII as raw
  /// UTF-8, numbers in the shortest form that round-trips. One deliberate difference: an
  /// integral `JSONValue.double(_:)` of magnitude 2^53 or more is written in exponent form
  /// (`5.0914961609563974e+17`), so that parsing the text again gives back the same double and
  /// not a different `JSONValue.int(_:)`; opslog for Node reads both forms as one number.
  public func serialized() -> [UInt8] {
    var writer = JSONWriter()
    writer.write(self)
    return writer.bytes
  }

  /// ``serialized()`` as a `String`.
  public var jsonText: String { String(decoding: serialized(), as: UTF8.self) }
}

/// Appends compact JSON to a byte buffer, the way `JSON.stringify` writes it.
///
/// The building block of every encoder in this module: WAL lines, snapshot lines and
/// ``RecordEncoder`` all write through it, so a record is encoded once, straight into the
/// bytes that go to disk.
public struct JSONWriter: Sendable {
  /// The bytes written so far.
  public var bytes: [UInt8]

  /// An empty writer whose buffer holds `capacity` bytes before it grows; size it for the
  /// line or chunk being written to avoid reallocations.
  public init(reservingCapacity capacity: Int = 256) {
    bytes = []
    bytes.reserveCapacity(capacity)
  }

  /// Writes a whole value.
  public mutating func write(_ value: JSONValue) {
    switch value {
    case .null: writeASCII("null")
    case .bool(let flag): writeASCII(flag ? "true" : "false")
    case .int(let number): write(number)
    case .double(let number): write(number)
    case .string(let string): write(string)
    case .array(let elements):
      bytes.append(UInt8(ascii: "["))
      var first = true
      for element in elements {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        write(element)
      }
      bytes.append(UInt8(ascii: "]"))
    case .object(let object):
      bytes.append(UInt8(ascii: "{"))
      var first = true
      for (key, member) in object {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        write(key)
        bytes.append(UInt8(ascii: ":"))
        write(member)
      }
      bytes.append(UInt8(ascii: "}"))
    }
  }

  /// Writes bytes that are already JSON (a value encoded earlier).
  @inlinable
  public mutating func writeRaw(_ raw: some Sequence<UInt8>) { bytes.append(contentsOf: raw) }

  /// Writes ASCII punctuation or a literal as it is.
  @inlinable
  public mutating func writeASCII(_ text: StaticString) {
    bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  @inlinable
  /// Writes one byte as it is (punctuation); the caller keeps the output valid JSON.
  public mutating func writeByte(_ byte: UInt8) { bytes.append(byte) }

  /// Writes an integer in decimal.
  public mutating func write(_ number: Int64) {
    if number >= 0 && number < 10 {
      bytes.append(UInt8(ascii: "0") + UInt8(number))
      return
    }
    var magnitude = number.magnitude
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
      var count = 0
      while magnitude > 0 {
        digits[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
        count += 1
      }
      if number < 0 { bytes.append(UInt8(ascii: "-")) }
      bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
    }
  }

  /// Writes a double as JavaScript's `Number.prototype.toString` does (plain decimals down to
  /// 1e-7, exponent form such as `5e-324` below, the shortest digits that round-trip), with one
  /// exception: an integral double of magnitude 2^53 or more is written in exponent form
  /// (`5.0914961609563974e+17`, where JavaScript writes `509149616095639740`), so that it reads
  /// back as the same double rather than as a different 64-bit integer (Docs/FORMAT.md, "Numbers").
  /// Smaller integral doubles are written as integers (`2`, not `2.0`). NaN and infinities are
  /// written as `null`, as `JSON.stringify` does.
  public mutating func write(_ number: Double) {
    guard number.isFinite else {
      writeASCII("null")
      return
    }
    if number == 0 {
      bytes.append(UInt8(ascii: "0"))  // JavaScript writes -0 as 0
      return
    }
    if number == number.rounded(.towardZero) && Swift.abs(number) < 9_007_199_254_740_992 {
      write(Int64(number))
      return
    }
    if writeShortDecimal(number) { return }
    // Every double of magnitude 2^53 or more is an integer; its shortest digits padded with
    // zeros would name a different integer, which a reader keeps as such.
    writeShortestDouble(number, exponentForm: Swift.abs(number) >= 9_007_199_254_740_992)
  }

  /// The fast path of ``write(_:)-(Double)`` for a finite, non-integer double that is exactly
  /// the double nearest to m / 10^k for some m < 10^15 and k ≤ 15 (0.05, 12.34, 1.5): then
  /// m / 10^k with the smallest such k is the unique shortest round-tripping form, because the
  /// doubles near it are less than 10^-k apart. Writes it and returns true, or returns false
  /// (nothing written) for every other number, which takes the general path.
  @inline(__always)
  mutating func writeShortDecimal(_ number: Double) -> Bool {
    let magnitude = number.magnitude
    // Below 1e-6 JavaScript switches to the exponent form; at 1e15 and above m overflows.
    guard magnitude >= 1e-6 && magnitude < 1e15 else { return false }
    var k = 1
    var m: UInt64 = 0
    var power = 10.0
    while true {
      let scaled = (magnitude * power).rounded()
      if scaled >= 1e15 { return false }
      if scaled / power == magnitude {
        m = UInt64(scaled)
        break
      }
      k += 1
      if k > 15 { return false }
      power *= 10
    }
    // m's decimal digits, most significant first.
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buffer -> Bool in
      var digitCount = 0
      var rest = m
      while rest > 0 {
        buffer[39 - digitCount] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
        digitCount += 1
      }
      let digits = UnsafeBufferPointer(rebasing: buffer[(40 - digitCount)...])
      if number < 0 { bytes.append(UInt8(ascii: "-")) }
      // value = 0.d1d2… × 10^n with n = digitCount − k; k ≥ 1 and m is not a multiple of 10.
      let n = digitCount - k
      if n > 0 {
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[0..<n]))
        bytes.append(UInt8(ascii: "."))
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[n...]))
      } else {
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "."))
        for _ in 0..<(-n) { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: digits)
      }
      return true
    }
  }

  /// Formats the shortest round-tripping digits (from Swift's `description`) in
  /// JavaScript's layout, or always in exponent form with `exponentForm`.
  mutating func writeShortestDouble(_ number: Double, exponentForm: Bool = false) {
    var description = number.magnitude.description
    description.withUTF8 { text in
      // Split "d.ddde+XX" / "ddd.ddd" into its digits and the decimal exponent n, so that the
      // value is 0.d1d2d3... × 10^n.
      var digits: [UInt8] = []
      digits.reserveCapacity(20)
      var pointPosition: Int? = nil
      var exponent = 0
      var index = 0
      while index < text.count {
        let character = text[index]
        if character == UInt8(ascii: ".") {
          pointPosition = digits.count
        } else if character == UInt8(ascii: "e") || character == UInt8(ascii: "E") {
          var exponentIndex = index + 1
          var exponentNegative = false
          if text[exponentIndex] == UInt8(ascii: "-") || text[exponentIndex] == UInt8(ascii: "+") {
            exponentNegative = text[exponentIndex] == UInt8(ascii: "-")
            exponentIndex += 1
          }
          while exponentIndex < text.count {
            exponent = exponent * 10 + Int(text[exponentIndex] - UInt8(ascii: "0"))
            exponentIndex += 1
          }
          if exponentNegative { exponent = -exponent }
          break
        } else {
          digits.append(character)
        }
        index += 1
      }
      var n = (pointPosition ?? digits.count) + exponent
      while let first = digits.first, first == UInt8(ascii: "0") {
        digits.removeFirst()
        n -= 1
      }
      while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
      let k = digits.count

      if number < 0 { bytes.append(UInt8(ascii: "-")) }
      if !exponentForm && k <= n && n <= 21 {
        bytes.append(contentsOf: digits)
        for _ in 0..<(n - k) { bytes.append(UInt8(ascii: "0")) }
      } else if !exponentForm && 0 < n && n <= 21 {
        bytes.append(contentsOf: digits[0..<n])
        bytes.append(UInt8(ascii: "."))
        bytes.append(contentsOf: digits[n...])
      } else if !exponentForm && -6 < n && n <= 0 {
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "."))
        for _ in 0..<(-n) { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: digits)
      } else {
        bytes.append(digits[0])
        if k > 1 {
          bytes.append(UInt8(ascii: "."))
          bytes.append(contentsOf: digits[1...])
        }
        bytes.append(UInt8(ascii: "e"))
        let printedExponent = n - 1
        bytes.append(printedExponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        write(Int64(printedExponent.magnitude))
      }
    }
  }

  @usableFromInline static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

  /// Writes a quoted, escaped string.
  public mutating func write(_ string: String) {
    var string = string
    string.withUTF8 { writeString(utf8: $0) }
  }

  /// Writes a quoted, escaped string from its UTF-8 bytes (which must be valid UTF-8).
  public mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) {
    // Fast path, nearly every string: nothing to escape, so one scan and one copy.
    var index = 0
    let count = utf8.count
    if let base = utf8.baseAddress {
      // Eight bytes at a time while none needs escaping; the byte loop finds the first that does.
      let raw = UnsafeRawPointer(base)
      while index + 8 <= count {
        if JSONWriter.mayNeedEscaping(raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)) { break }
        index += 8
      }
      while index < count {
        let byte = base[index]
        if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { break }
        index += 1
      }
    }
    if index == count {
      bytes.append(UInt8(ascii: "\""))
      bytes.append(contentsOf: utf8)
      bytes.append(UInt8(ascii: "\""))
      return
    }
    writeEscapedString(utf8: utf8, from: index)
  }

  /// Whether any of the eight bytes of `word` is a control character, `"` or `\\` (exact: the
  /// borrow tricks below never miss such a byte and never report one that is not there).
  @inline(__always)
  static func mayNeedEscaping(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highBits: UInt64 = 0x8080_8080_8080_8080
    let control = (word &- ones &* 0x20) & ~word & highBits
    let quote = word ^ (ones &* 0x22)
    let backslash = word ^ (ones &* 0x5C)
    let found = control | ((quote &- ones) & ~quote & highBits) | ((backslash &- ones) & ~backslash & highBits)
    return found != 0
  }

  /// The general path of ``writeString(utf8:)``, for strings with something to escape.
  /// `firstEscape` is where the fast path's scan stopped: no byte before it needs escaping,
  /// so the scan resumes there instead of reading the prefix twice.
  mutating func writeEscapedString(utf8: UnsafeBufferPointer<UInt8>, from firstEscape: Int = 0) {
    bytes.append(UInt8(ascii: "\""))
    var runStart = 0
    for index in firstEscape..<utf8.count {
      let byte = utf8[index]
      guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
      if index > runStart {
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
      }
      runStart = index + 1
      bytes.append(UInt8(ascii: "\\"))
      switch byte {
      case UInt8(ascii: "\""): bytes.append(UInt8(ascii: "\""))
      case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
      case 0x08: bytes.append(UInt8(ascii: "b"))
      case 0x0C: bytes.append(UInt8(ascii: "f"))
      case 0x0A: bytes.append(UInt8(ascii: "n"))
      case 0x0D: bytes.append(UInt8(ascii: "r"))
      case 0x09: bytes.append(UInt8(ascii: "t"))
      default:
        bytes.append(UInt8(ascii: "u"))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(UInt8(ascii: "0"))
        bytes.append(Self.hexDigits[Int(byte >> 4)])
        bytes.append(Self.hexDigits[Int(byte & 0xF)])
      }
    }
    if utf8.count > runStart {
      bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
    bytes.append(UInt8(ascii: "\""))
  }
}
