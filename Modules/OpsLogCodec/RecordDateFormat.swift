#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The JSON form of `Date` in records: ISO-8601 in UTC with milliseconds,
/// `2026-04-01T10:00:01.000Z`, exactly what JavaScript's `Date.prototype.toJSON` writes, so
/// stores written by either implementation read the same. Written by hand because it is on
/// the hot path and must not depend on a locale or a formatter's configuration.
enum RecordDateFormat {
  /// Days from 1970-01-01 to the civil date (proleptic Gregorian), after Howard Hinnant.
  static func days(year: Int, month: Int, day: Int) -> Int {
    let shiftedYear = month <= 2 ? year - 1 : year
    let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
    let yearOfEra = shiftedYear - era * 400
    let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    return era * 146_097 + dayOfEra - 719_468
  }

  /// Writes the date's text (without quotes). Sub-millisecond precision is cut off, as a
  /// JavaScript `Date` holds whole milliseconds; years outside 0...9999 use the extended
  /// `+YYYYYY` form, as `toJSON` does (with more digits past ±999999, beyond JavaScript's range).
  static func write(_ date: Date, into bytes: inout [UInt8]) {
    // A date read from whole milliseconds is a double a hair off; snap to the nearest
    // millisecond first so that it is not cut to the one below.
    let scaled = date.timeIntervalSince1970 * 1000
    let nearest = scaled.rounded()
    let totalMilliseconds = Int64(Swift.abs(scaled - nearest) < 1e-3 ? nearest : scaled.rounded(.down))
    ISOTime.write(millisecondsSince1970: totalMilliseconds, into: &bytes)
  }

  static func string(_ date: Date) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(24)
    write(date, into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (or an extended `±YYYYYY` year); nil for any
  /// other text or an impossible date. With `allowingOffsets`, a UTC offset (`+02:00`,
  /// `-0530`) may stand in place of `Z`.
  static func parse(_ text: String, allowingOffsets: Bool = false) -> Date? {
    var text = text
    return text.withUTF8 { bytes -> Date? in
      var index = 0
      func number(_ count: Int) -> Int? {
        guard index + count <= bytes.count else { return nil }
        var value = 0
        for _ in 0..<count {
          let digit = Int(bytes[index]) - 48
          guard digit >= 0 && digit <= 9 else { return nil }
          value = value * 10 + digit
          index += 1
        }
        return value
      }
      func expect(_ character: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == character else { return false }
        index += 1
        return true
      }
      let year: Int
      if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
        let negative = bytes[index] == UInt8(ascii: "-")
        index += 1
        guard let magnitude = number(6) else { return nil }
        year = negative ? -magnitude : magnitude
      } else {
        guard let value = number(4) else { return nil }
        year = value
      }
      guard expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")), let day = number(2),
        expect(UInt8(ascii: "T")), let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2),
        expect(UInt8(ascii: ":")), let second = number(2)
      else { return nil }
      guard (1...12).contains(month), day >= 1, hour <= 23, minute <= 59, second <= 59 else { return nil }
      let daysInMonth = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
      let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
      guard day <= daysInMonth[month - 1] + (month == 2 && isLeap ? 1 : 0) else { return nil }
      var fraction = 0.0
      if expect(UInt8(ascii: ".")) {
        var scale = 0.1
        let fractionStart = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0") && bytes[index] <= UInt8(ascii: "9") {
          fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
          scale /= 10
          index += 1
        }
        guard index > fractionStart else { return nil }
      }
      var offsetSeconds = 0
      if !expect(UInt8(ascii: "Z")) {
        guard allowingOffsets, index < bytes.count,
          bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")
        else { return nil }
        let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
        index += 1
        guard let offsetHours = number(2) else { return nil }
        _ = expect(UInt8(ascii: ":"))
        guard let offsetMinutes = number(2), offsetHours <= 23, offsetMinutes <= 59 else { return nil }
        offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
      }
      guard index == bytes.count else { return nil }
      let seconds =
        days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
      // Whole milliseconds are rebuilt exactly, so a written date reads back equal.
      let milliseconds = (fraction * 1000).rounded()
      if Swift.abs(fraction * 1000 - milliseconds) < 1e-6 {
        return Date(timeIntervalSince1970: (Double(seconds) * 1000 + milliseconds) / 1000)
      }
      return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }
  }
}
