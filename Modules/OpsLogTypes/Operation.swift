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
/// old one. See Docs/FORMAT.md, "Delta patch".
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

// MARK: - Codable

extension DeltaPatch: Codable {
  enum CodingKeys: String, CodingKey {
    case set = "$set"
    case unset = "$unset"
  }

  /// Reads a patch in its stored form, `{"$set":{…},"$unset":[…]}`, either part optional.
  ///
  /// - Throws: `DecodingError` when `$set` is not an object, `$unset` not an array of strings,
  ///   or any other key is present (undo would ignore it silently).
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: JSONCodingKey.self)
    for key in container.allKeys where !["$set", "$unset"].contains(ExactString(key.stringValue)) {
      throw DecodingError.dataCorruptedError(
        forKey: key, in: container, debugDescription: "\"\(key.stringValue)\" is not part of a delta patch")
    }
    var set = JSONObject()
    if let value = try container.decodeIfPresent(JSONValue.self, forKey: JSONCodingKey("$set")) {
      guard case .object(let members) = value else {
        throw DecodingError.dataCorruptedError(
          forKey: JSONCodingKey("$set"), in: container, debugDescription: "$set is not an object")
      }
      set = members
    }
    let unset = try container.decodeIfPresent([String].self, forKey: JSONCodingKey("$unset")) ?? []
    self.init(set: set, unset: unset)
  }

  /// Writes the stored form, `{"$set":{…},"$unset":[…]}`, an empty part left out.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    if !set.isEmpty { try container.encode(JSONValue.object(set), forKey: .set) }
    if !unset.isEmpty { try container.encode(unset, forKey: .unset) }
  }
}

/// The members of a WAL line, in the reference's order.
enum LogOperationCodingKeys: String, CodingKey {
  case timestamp = "ts"
  case kind = "op"
  case id
  case previous = "prev"
  case data
  case encoding
  case agent
  case clock
}

extension LogOperation: Encodable where Record: Encodable {

  /// Writes the operation as its WAL line's JSON object, in the reference's key order: `ts`,
  /// `op`, `id`, `prev` (`null` for a create, the record, or a delta patch), `data` (absent
  /// for a delete), `encoding` (`"delta"` for a delta `prev`, absent otherwise), then `agent`
  /// and `clock` when set. With OpsLogCodec's `RecordEncoder` the bytes are those of the WAL
  /// line, without its newline.
  public func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: LogOperationCodingKeys.self)
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

extension LogOperation: Decodable where Record: Decodable {
  /// Reads a WAL line's JSON object, by the rules of Docs/FORMAT.md ("WAL line"): a non-empty
  /// `ts` and `id`; `op` `"set"` or `"delete"`; `data` present (not null) for a set and absent
  /// for a delete; `prev` `null` or absent for a create, a delta patch with
  /// `"encoding":"delta"`, the record otherwise (required for a delete); `encoding` `"full"`,
  /// `"delta"` or absent; a non-empty `agent` and a `clock` ≥ 0 when present.
  ///
  /// - Throws: `DecodingError` naming the field for a line that breaks a rule.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: LogOperationCodingKeys.self)
    func corrupted(_ key: LogOperationCodingKeys, _ message: String) -> DecodingError {
      DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: message)
    }
    let timestamp = try container.decode(String.self, forKey: .timestamp)
    guard !timestamp.isEmpty else { throw corrupted(.timestamp, "ts is empty") }
    let kind = try container.decode(OperationKind.self, forKey: .kind)
    let id = try container.decode(String.self, forKey: .id)
    guard !id.isEmpty else { throw corrupted(.id, "id is empty") }
    let data = try container.decodeIfPresent(Record.self, forKey: .data)
    switch kind {
    case .set: if data == nil { throw corrupted(.data, "data is missing or null in a set") }
    case .delete: if container.contains(.data) { throw corrupted(.data, "data is present in a delete") }
    }
    let encoding = try container.decodeIfPresent(String.self, forKey: .encoding)
    guard encoding == nil || encoding == "full" || encoding == "delta" else {
      throw corrupted(.encoding, "encoding is not \"full\" or \"delta\"")
    }
    let hasPrevious = try container.contains(.previous) && !container.decodeNil(forKey: .previous)
    let previous: PreviousValue<Record>
    switch (kind, hasPrevious, encoding == "delta") {
    case (.delete, false, _): throw corrupted(.previous, "prev is missing or null in a delete")
    case (.delete, true, true): throw corrupted(.encoding, "encoding is \"delta\" in a delete")
    case (_, false, true): throw corrupted(.encoding, "encoding is \"delta\" but prev is missing or null")
    case (.set, false, false): previous = .none
    case (_, true, true): previous = .delta(try container.decode(DeltaPatch.self, forKey: .previous))
    case (_, true, false): previous = .record(try container.decode(Record.self, forKey: .previous))
    }
    let agent = try container.decodeIfPresent(String.self, forKey: .agent)
    if let agent, agent.isEmpty { throw corrupted(.agent, "agent is empty") }
    let clock = try container.decodeIfPresent(Int.self, forKey: .clock)
    if let clock, clock < 0 { throw corrupted(.clock, "clock is negative") }
    self.init(
      timestamp: timestamp, kind: kind, id: id, data: data, previous: previous, agent: agent, clock: clock)
  }
}
