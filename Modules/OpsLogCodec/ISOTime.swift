import Synchronization

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

/// ISO-8601 timestamps exactly as JavaScript's `Date.prototype.toISOString` writes them,
/// `2026-04-01T10:00:01.000Z`: the spelling of `ts`, snapshot and manifest times.
///
/// The arithmetic is done here rather than through Foundation so the codec stays free of
/// locale and time zone state, and so every time is UTC by construction.
public enum ISOTime {
  /// The current time, UTC, with milliseconds.
  public static func now() -> String {
    let milliseconds = nowMilliseconds()
    // Every operation is stamped, and thousands fall in one millisecond: format each
    // millisecond once.
    if let cached = lastFormatted.withLock({ $0.milliseconds == milliseconds ? $0.text : nil }) { return cached }
    let text = string(millisecondsSince1970: milliseconds)
    lastFormatted.withLock { $0 = (milliseconds, text) }
    return text
  }

  private static let lastFormatted = Mutex<(milliseconds: Int64, text: String)>((-1, ""))

  /// Milliseconds since 1970-01-01T00:00:00Z, from the real-time clock.
  public static func nowMilliseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
  }

  /// Formats a Unix time in milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
  ///
  /// Years outside 0...9999 are written as JavaScript does, with a sign and six digits
  /// (`+275760-09-13T00:00:00.000Z`); years beyond that, which JavaScript cannot represent,
  /// keep all their digits. Any `Int64` gives a string and never traps.
  public static func string(millisecondsSince1970 milliseconds: Int64) -> String {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(32)
    write(millisecondsSince1970: milliseconds, into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Appends the text of ``string(millisecondsSince1970:)`` to `bytes`: the one formatter for
  /// every time the codec writes, record dates included, so they cannot spell a time differently.
  static func write(millisecondsSince1970 milliseconds: Int64, into bytes: inout [UInt8]) {
    let time = CivilTime(millisecondsSince1970: milliseconds)
    if time.year >= 0 && time.year <= 9999 {
      appendDigits(time.year.magnitude, width: 4, to: &bytes)
    } else {
      bytes.append(time.year < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
      appendDigits(time.year.magnitude, width: 6, to: &bytes)
    }
    bytes.append(UInt8(ascii: "-"))
    appendDigits(time.month.magnitude, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "-"))
    appendDigits(time.day.magnitude, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "T"))
    appendDigits(time.hour.magnitude, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: ":"))
    appendDigits(time.minute.magnitude, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: ":"))
    appendDigits(time.second.magnitude, width: 2, to: &bytes)
    bytes.append(UInt8(ascii: "."))
    appendDigits(time.millisecond.magnitude, width: 3, to: &bytes)
    bytes.append(UInt8(ascii: "Z"))
  }

  /// Appends `value` in decimal, zero-padded to at least `width` digits; never fewer digits
  /// than the value has.
  @inline(__always)
  static func appendDigits(_ value: UInt64, width: Int, to bytes: inout [UInt8]) {
    var divisor: UInt64 = 1
    for _ in 1..<width { divisor *= 10 }
    // divisor * 10 <= value here, so the multiplication cannot overflow.
    while value / divisor >= 10 { divisor *= 10 }
    var remaining = value
    while divisor > 0 {
      bytes.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: remaining / divisor))
      remaining %= divisor
      divisor /= 10
    }
  }

  /// The instant an ISO-8601 timestamp names: `2026-04-01T10:00:01.000Z`, with or without
  /// fractional seconds, in UTC (`Z`) or with an offset (`+02:00`, `-0530`); `nil` for any
  /// other text. This is how WAL timestamps are compared by time, never as strings.
  public static func date(parsing text: String) -> Date? {
    RecordDateFormat.parse(text, allowingOffsets: true)
  }

  /// The current quarter in UTC, `YYYY-Qn`: the default archive period.
  public static func currentQuarter() -> String {
    quarter(millisecondsSince1970: nowMilliseconds())
  }

  /// The quarter, `YYYY-Qn` in UTC, that holds a Unix time in milliseconds.
  public static func quarter(millisecondsSince1970 milliseconds: Int64) -> String {
    let parts = CivilTime(millisecondsSince1970: milliseconds)
    return "\(parts.year)-Q\((parts.month - 1) / 3 + 1)"
  }

}

/// A UTC calendar date and time, split from Unix milliseconds with the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`), which is what JavaScript dates use.
struct CivilTime {
  var year: Int64
  var month: Int64
  var day: Int64
  var hour: Int64
  var minute: Int64
  var second: Int64
  var millisecond: Int64

  init(millisecondsSince1970 milliseconds: Int64) {
    let millisecondsPerDay: Int64 = 86_400_000
    // Floor division, so times before 1970 land on the right day.
    var days = milliseconds / millisecondsPerDay
    var remainder = milliseconds % millisecondsPerDay
    if remainder < 0 {
      remainder += millisecondsPerDay
      days -= 1
    }
    millisecond = remainder % 1000
    second = (remainder / 1000) % 60
    minute = (remainder / 60_000) % 60
    hour = remainder / 3_600_000

    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
  }
}
