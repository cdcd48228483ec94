/// What an operation does to its record.
public enum OperationKind: String, Sendable, Hashable, Codable {
  /// Creates or replaces the record (`"op":"set"`).
  case set
  /// Removes the record (`"op":"delete"`).
  case delete
}

/// The record as it was before an operation: what undo puts back.
public enum PreviousValue<Record: Sendable>: Sendable {
  /// There was no record: the operation created it (`"prev": null`).
  case none
  /// The full previous record (`"encoding"` absent or `"full"`).
  case record(Record)
  /// A reverse patch that turns the new record back into the old one (`"encoding": "delta"`).
  case delta(DeltaPatch)
}

extension PreviousValue: Equatable where Record: Equatable {}
extension PreviousValue: Hashable where Record: Hashable {}

/// A reverse patch for an update of an object record: applied to the new record, it gives the
/// old one. See FORMAT.md, "Delta patch".
public struct DeltaPatch: Sendable, Hashable {
  /// `"$set"`: the old value of every top-level key that the update changed or removed.
  public var set: JSONObject
  /// `"$unset"`: every key that the update added.
  public var unset: [String]

  /// A patch with these parts, as given: nothing is validated (a key may be in both parts,
  /// and an empty patch is allowed). Use `DeltaPatch.make(from:to:)` to compute one.
  public init(set: JSONObject = JSONObject(), unset: [String] = []) {
    self.set = set
    self.unset = unset
  }
}

/// One WAL line: a single mutation of one record.
public struct LogOperation<Record: Sendable>: Sendable {
  /// `"ts"`: ISO-8601 UTC with milliseconds, `2026-04-01T10:00:01.000Z`.
  public var timestamp: String
  /// `"op"`.
  public var kind: OperationKind
  /// `"id"`: the record's ID, never empty.
  public var id: String
  /// `"data"`: the new record for a set; `nil` for a delete.
  public var data: Record?
  /// `"prev"` and `"encoding"`: what undo puts back.
  public var previous: PreviousValue<Record>
  /// `"agent"`: the writing agent's ID in a multi-writer store.
  public var agent: String?
  /// `"clock"`: the writing agent's Lamport clock in a multi-writer store.
  public var clock: Int?

  /// An operation with these fields, as given. Nothing is validated: the WAL line rules (a
  /// non-empty `timestamp` and `id`, `data` present exactly for a set, a delete's `previous`
  /// a full record, a non-negative `clock`, …) are checked when a line is decoded, not here.
  @inlinable
  public init(
    timestamp: String, kind: OperationKind, id: String, data: Record?,
    previous: PreviousValue<Record>, agent: String? = nil, clock: Int? = nil
  ) {
    self.timestamp = timestamp
    self.kind = kind
    self.id = id
    self.data = data
    self.previous = previous
    self.agent = agent
    self.clock = clock
  }

  /// The same operation with its records transformed, for example decoded from JSON into a
  /// typed record. Delta patches pass through unchanged.
  public func mapRecords<Other: Sendable>(_ transform: (Record) throws -> Other) rethrows -> LogOperation<Other> {
    let previous: PreviousValue<Other>
    switch self.previous {
    case .none: previous = .none
    case .record(let record): previous = .record(try transform(record))
    case .delta(let patch): previous = .delta(patch)
    }
    return LogOperation<Other>(
      timestamp: timestamp, kind: kind, id: id, data: try data.map(transform), previous: previous,
      agent: agent, clock: clock)
  }
}

extension LogOperation: Equatable where Record: Equatable {}
extension LogOperation: Hashable where Record: Hashable {}

/// A patch as JSON, `{"$set":{…},"$unset":[…]}` with an empty part omitted, as a WAL line holds it.
extension DeltaPatch: Codable {
  enum CodingKeys: String, CodingKey {
    case set = "$set"
    case unset = "$unset"
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let set = try container.decodeIfPresent(JSONValue.self, forKey: .set) ?? .object(JSONObject())
    guard case .object(let object) = set else {
      throw DecodingError.dataCorruptedError(forKey: .set, in: container, debugDescription: "$set is not an object")
    }
    self.init(set: object, unset: try container.decodeIfPresent([String].self, forKey: .unset) ?? [])
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    if set.count > 0 { try container.encode(JSONValue.object(set), forKey: .set) }
    if !unset.isEmpty { try container.encode(unset, forKey: .unset) }
  }
}

/// An operation encodes as its WAL line's JSON (`ts`, `op`, `id`, `prev`, `data`, `encoding`,
/// `agent`, `clock`), so that operations can be sent over a wire, stored, and compared in tests.
extension LogOperation: Codable where Record: Codable {
  enum CodingKeys: String, CodingKey {
    case timestamp = "ts"
    case kind = "op"
    case id, previous = "prev", data, encoding, agent, clock
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    let encoding = try container.decodeIfPresent(String.self, forKey: .encoding)
    let previous: PreviousValue<Record>
    if encoding == "delta" {
      previous = .delta(try container.decode(DeltaPatch.self, forKey: .previous))
    } else if try !container.contains(.previous) || container.decodeNil(forKey: .previous) {
      previous = .none
    } else {
      previous = .record(try container.decode(Record.self, forKey: .previous))
    }
    self.init(
      timestamp: try container.decode(String.self, forKey: .timestamp),
      kind: try container.decode(OperationKind.self, forKey: .kind),
      id: try container.decode(String.self, forKey: .id),
      data: try container.decodeIfPresent(Record.self, forKey: .data), previous: previous,
      agent: try container.decodeIfPresent(String.self, forKey: .agent),
      clock: try container.decodeIfPresent(Int.self, forKey: .clock))
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(timestamp, forKey: .timestamp)
    try container.encode(kind, forKey: .kind)
    try container.encode(id, forKey: .id)
    switch previous {
    case .none: try container.encodeNil(forKey: .previous)
    case .record(let record): try container.encode(record, forKey: .previous)
    case .delta(let patch): try container.encode(patch, forKey: .previous)
    }
    try container.encodeIfPresent(data, forKey: .data)
    if case .delta = previous { try container.encode("delta", forKey: .encoding) }
    try container.encodeIfPresent(agent, forKey: .agent)
    try container.encodeIfPresent(clock, forKey: .clock)
  }
}
