import OpsLogTypes

/// Where JSON is formatted: ``JSONWriter``'s array, or the record encoder's own buffer
/// (``RecordOutputBuffer``). The formatting is written once, over two primitives, so both
/// write every number and string byte for byte alike.
protocol JSONByteSink {
  mutating func appendByte(_ byte: UInt8)
  mutating func appendBytes(_ bytes: UnsafeBufferPointer<UInt8>)
}

extension JSONByteSink {
  /// Writes ASCII punctuation or a literal as it is.
  @inline(__always)
  mutating func appendASCII(_ text: StaticString) {
    appendBytes(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
  }

  /// Writes a whole value.
  mutating func appendJSON(_ value: JSONValue) {
    switch value {
    case .null: appendASCII("null")
    case .bool(let flag): appendASCII(flag ? "true" : "false")
    case .int(let number): appendJSON(number)
    case .double(let number): appendJSON(number)
    case .string(let string): appendJSON(string)
    case .array(let elements):
      appendByte(UInt8(ascii: "["))
      var first = true
      for element in elements {
        if !first { appendByte(UInt8(ascii: ",")) }
        first = false
        appendJSON(element)
      }
      appendByte(UInt8(ascii: "]"))
    case .object(let object):
      appendByte(UInt8(ascii: "{"))
      var first = true
      for (key, member) in object {
        if !first { appendByte(UInt8(ascii: ",")) }
        first = false
        appendJSON(key)
        appendByte(UInt8(ascii: ":"))
        appendJSON(member)
      }
      appendByte(UInt8(ascii: "}"))
    }
  }

  /// Writes an integer in decimal.
  mutating func appendJSON(_ number: Int64) {
    if number >= 0 && number < 10 {
      appendByte(UInt8(ascii: "0") + UInt8(number))
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
      if number < 0 { appendByte(UInt8(ascii: "-")) }
      appendBytes(UnsafeBufferPointer(rebasing: digits[(20 - count)...]))
    }
  }

  /// Writes a double as JavaScript's `Number.prototype.toString` does (plain decimals down to
  /// 1e-7, exponent form such as `5e-324` below, the shortest digits that round-trip), with one
  /// exception: an integral double of magnitude 2^53 or more is written in exponent form
  /// (`5.0914961609563974e+17`, where JavaScript writes `509149616095639740`), so that it reads
  /// back as the same double rather than as a different 64-bit integer (Docs/FORMAT.md, "Numbers").
  /// Smaller integral doubles are written as integers (`2`, not `2.0`). NaN and infinities are
  /// written as `null`, as `JSON.stringify` does.
  mutating func appendJSON(_ number: Double) {
    guard number.isFinite else {
      appendASCII("null")
      return
    }
    if number == 0 {
      appendByte(UInt8(ascii: "0"))  // JavaScript writes -0 as 0
      return
    }
    if number == number.rounded(.towardZero) && Swift.abs(number) < 9_007_199_254_740_992 {
      appendJSON(Int64(number))
      return
    }
    if writeShortDecimal(number) { return }
    // Every double of magnitude 2^53 or more is an integer; its shortest digits padded with
    // zeros would name a different integer, which a reader keeps as such.
    writeShortestDouble(number, exponentForm: Swift.abs(number) >= 9_007_199_254_740_992)
  }

  /// The fast path of `appendJSON(_:)` for a `Double`: a finite, non-integer double that is exactly
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
      if number < 0 { appendByte(UInt8(ascii: "-")) }
      // value = 0.d1d2… × 10^n with n = digitCount − k; k ≥ 1 and m is not a multiple of 10.
      let n = digitCount - k
      if n > 0 {
        appendBytes(UnsafeBufferPointer(rebasing: digits[0..<n]))
        appendByte(UInt8(ascii: "."))
        appendBytes(UnsafeBufferPointer(rebasing: digits[n...]))
      } else {
        appendByte(UInt8(ascii: "0"))
        appendByte(UInt8(ascii: "."))
        for _ in 0..<(-n) { appendByte(UInt8(ascii: "0")) }
        appendBytes(digits)
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

      if number < 0 { appendByte(UInt8(ascii: "-")) }
      if !exponentForm && k <= n && n <= 21 {
        digits.withUnsafeBufferPointer { appendBytes($0) }
        for _ in 0..<(n - k) { appendByte(UInt8(ascii: "0")) }
      } else if !exponentForm && 0 < n && n <= 21 {
        digits.withUnsafeBufferPointer { appendBytes(UnsafeBufferPointer(rebasing: $0[0..<n])) }
        appendByte(UInt8(ascii: "."))
        digits.withUnsafeBufferPointer { appendBytes(UnsafeBufferPointer(rebasing: $0[n...])) }
      } else if !exponentForm && -6 < n && n <= 0 {
        appendByte(UInt8(ascii: "0"))
        appendByte(UInt8(ascii: "."))
        for _ in 0..<(-n) { appendByte(UInt8(ascii: "0")) }
        digits.withUnsafeBufferPointer { appendBytes($0) }
      } else {
        appendByte(digits[0])
        if k > 1 {
          appendByte(UInt8(ascii: "."))
          digits.withUnsafeBufferPointer { appendBytes(UnsafeBufferPointer(rebasing: $0[1...])) }
        }
        appendByte(UInt8(ascii: "e"))
        let printedExponent = n - 1
        appendByte(printedExponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        appendJSON(Int64(printedExponent.magnitude))
      }
    }
  }

  /// Writes a quoted, escaped string.
  mutating func appendJSON(_ string: String) {
    // Read in place: `withUTF8` needs a mutable copy, whose retain and release were most of
    // writing a short string.
    if string.utf8.withContiguousStorageIfAvailable({ appendJSONString(utf8: $0) }) != nil { return }
    var copy = string
    copy.withUTF8 { appendJSONString(utf8: $0) }
  }

  /// Writes a quoted, escaped string from its UTF-8 bytes (which must be valid UTF-8).
  mutating func appendJSONString(utf8: UnsafeBufferPointer<UInt8>) {
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
      appendByte(UInt8(ascii: "\""))
      appendBytes(utf8)
      appendByte(UInt8(ascii: "\""))
      return
    }
    writeEscapedString(utf8: utf8, from: index)
  }

  /// The general path of `appendJSONString(utf8:)`, for strings with something to escape.
  /// `firstEscape` is where the fast path's scan stopped: no byte before it needs escaping,
  /// so the scan resumes there instead of reading the prefix twice.
  mutating func writeEscapedString(utf8: UnsafeBufferPointer<UInt8>, from firstEscape: Int = 0) {
    appendByte(UInt8(ascii: "\""))
    var runStart = 0
    for index in firstEscape..<utf8.count {
      let byte = utf8[index]
      guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
      if index > runStart {
        appendBytes(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
      }
      runStart = index + 1
      appendByte(UInt8(ascii: "\\"))
      switch byte {
      case UInt8(ascii: "\""): appendByte(UInt8(ascii: "\""))
      case UInt8(ascii: "\\"): appendByte(UInt8(ascii: "\\"))
      case 0x08: appendByte(UInt8(ascii: "b"))
      case 0x0C: appendByte(UInt8(ascii: "f"))
      case 0x0A: appendByte(UInt8(ascii: "n"))
      case 0x0D: appendByte(UInt8(ascii: "r"))
      case 0x09: appendByte(UInt8(ascii: "t"))
      default:
        appendByte(UInt8(ascii: "u"))
        appendByte(UInt8(ascii: "0"))
        appendByte(UInt8(ascii: "0"))
        appendByte(JSONWriter.hexDigits[Int(byte >> 4)])
        appendByte(JSONWriter.hexDigits[Int(byte & 0xF)])
      }
    }
    if utf8.count > runStart {
      appendBytes(UnsafeBufferPointer(rebasing: utf8[runStart...]))
    }
    appendByte(UInt8(ascii: "\""))
  }
}
