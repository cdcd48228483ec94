// What the kill -9 torture's child process (OpsLogTorture) and the test that kills it share:
// the record type, the seeded random numbers, and the line protocol the child prints.
//
// The child prints `begin <n> <step>` before it calls the store and `ack <n> <result>` once the
// call has returned, so the parent knows, at the moment of the kill, every call that returned
// and the one (at most) that was in flight. Values are not printed: a value is named by a
// serial number and a length, and `TorturePayload` rebuilds its text from them.

/// SplitMix64: small, fast and the same on every platform, so a seed names one run.
public struct TortureRandom: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    return mixed ^ (mixed >> 31)
  }

  /// A number in `range`, computed here rather than with `Int.random(in:using:)`, whose
  /// algorithm the standard library may change: the same seed must mean the same run.
  public mutating func int(in range: ClosedRange<Int>) -> Int {
    let width = UInt64(range.upperBound - range.lowerBound) + 1
    return range.lowerBound + Int(next() % width)
  }

  /// `true` with probability `percent` / 100.
  public mutating func chance(_ percent: Int) -> Bool { int(in: 0...99) < percent }
}

/// A value as the line protocol names it: which write made it, and how long its text is.
public struct TortureValue: Sendable, Hashable, CustomStringConvertible {
  public var serial: Int
  public var length: Int

  public init(serial: Int, length: Int) {
    self.serial = serial
    self.length = length
  }

  public var description: String { "#\(serial)/\(length)" }
}

/// The record the torture writes: its payload is rebuilt from the serial and length, so a
/// record that comes back with the wrong text (a torn or misplaced line) is recognised.
public struct TortureRecord: Codable, Sendable, Equatable {
  public var serial: Int
  public var payload: String

  public init(_ value: TortureValue) {
    serial = value.serial
    payload = TorturePayload.text(serial: value.serial, length: value.length)
  }

  /// The value this record is, or `nil` when its payload is not the one its serial makes.
  public var value: TortureValue? {
    let candidate = TortureValue(serial: serial, length: payload.unicodeScalars.count)
    return TorturePayload.text(serial: serial, length: candidate.length) == payload ? candidate : nil
  }
}

public enum TorturePayload {
  /// `length` Unicode scalars that depend on `serial`, with characters that JSON escapes
  /// (quote, backslash, newline, tab, a control character) and multi-byte UTF-8 among them.
  public static func text(serial: Int, length: Int) -> String {
    let unit = Array("\(serial):ab\"c\\d\ne\tfé€😀\u{1}/".unicodeScalars)
    var scalars = String.UnicodeScalarView()
    scalars.reserveCapacity(length)
    for index in 0..<length { scalars.append(unit[index % unit.count]) }
    return String(scalars)
  }
}

/// One change of a set, a delete or a batch.
public enum TortureChange: Sendable, Hashable {
  case set(id: String, value: TortureValue)
  case delete(id: String)

  public var id: String {
    switch self {
    case .set(let id, _), .delete(let id): return id
    }
  }

  /// `s:<id>:<serial>:<length>` or `d:<id>`, as a batch lists its changes (ids never contain
  /// a colon or a space).
  var token: String {
    switch self {
    case .set(let id, let value): return "s:\(id):\(value.serial):\(value.length)"
    case .delete(let id): return "d:\(id)"
    }
  }

  init?(token: Substring) {
    let parts = token.split(separator: ":", omittingEmptySubsequences: false)
    switch (parts.first, parts.count) {
    case ("s", 4):
      guard let serial = Int(parts[2]), let length = Int(parts[3]) else { return nil }
      self = .set(id: String(parts[1]), value: TortureValue(serial: serial, length: length))
    case ("d", 2):
      self = .delete(id: String(parts[1]))
    default:
      return nil
    }
  }
}

/// One store call of the torture.
public enum TortureStep: Sendable, Hashable {
  case set(id: String, value: TortureValue)
  case delete(id: String)
  case batch([TortureChange])
  case undo, flush, sync, compact

  /// What `begin <n>` is followed by.
  public var text: String {
    switch self {
    case .set(let id, let value): return "set \(id) \(value.serial) \(value.length)"
    case .delete(let id): return "delete \(id)"
    case .batch(let changes): return "batch \(changes.count) " + changes.map(\.token).joined(separator: " ")
    case .undo: return "undo"
    case .flush: return "flush"
    case .sync: return "sync"
    case .compact: return "compact"
    }
  }

  public init?(text: Substring) {
    let words = text.split(separator: " ")
    guard let verb = words.first else { return nil }
    switch (verb, words.count) {
    case ("set", 4):
      guard let serial = Int(words[2]), let length = Int(words[3]) else { return nil }
      self = .set(id: String(words[1]), value: TortureValue(serial: serial, length: length))
    case ("delete", 2):
      self = .delete(id: String(words[1]))
    case ("batch", _):
      guard words.count >= 2, let count = Int(words[1]), words.count == count + 2 else { return nil }
      var changes: [TortureChange] = []
      for token in words.dropFirst(2) {
        guard let change = TortureChange(token: token) else { return nil }
        changes.append(change)
      }
      self = .batch(changes)
    case ("undo", 1): self = .undo
    case ("flush", 1): self = .flush
    case ("sync", 1): self = .sync
    case ("compact", 1): self = .compact
    default: return nil
    }
  }

  /// The changes this step makes to the records (none for undo, flush, sync, compact).
  public var changes: [TortureChange] {
    switch self {
    case .set(let id, let value): return [.set(id: id, value: value)]
    case .delete(let id): return [.delete(id: id)]
    case .batch(let changes): return changes
    case .undo, .flush, .sync, .compact: return []
    }
  }
}
