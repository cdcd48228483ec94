import OpsLogTypes

/// A `prev` value that is already encoded, for `OperationLine.write(into:timestamp:kind:id:previous:data:agent:clock:)`:
/// a full previous record is its compact JSON bytes, written as they are.
public typealias EncodedPrevious = PreviousValue<[UInt8]>

/// One WAL line (see Docs/FORMAT.md, "WAL line"): encoding in the reference's key order and
/// strict decoding with a distinct reason for every broken rule.
///
/// The key order is the one opslog for Node writes, `ts, op, id, prev, data, encoding, agent,
/// clock`, so that a line this project writes is byte for byte the line the reference would
/// have written.
public enum OperationLine {
  /// The line for `operation`, without the trailing newline.
  ///
  /// A full `prev` is written without an `encoding` key and a delta one with
  /// `"encoding":"delta"`, as the reference does. `data` is written whenever it is non-nil.
  public static func encode(_ operation: LogOperation<JSONValue>) -> [UInt8] {
    var writer = JSONWriter(reservingCapacity: 256)
    writeHead(into: &writer, timestamp: operation.timestamp, kind: operation.kind, id: operation.id)
    switch operation.previous {
    case .none: writer.writeASCII("null")
    case .record(let record): writer.write(record)
    case .delta(let patch): writer.write(patch.jsonValue)
    }
    if let data = operation.data {
      writer.writeASCII(",\"data\":")
      writer.write(data)
    }
    writeTail(
      into: &writer, isDelta: operation.previous.storesDeltaPatch, agent: operation.agent, clock: operation.clock,
      batch: nil)
    return writer.bytes
  }

  /// Appends one line, with its trailing newline, for records that are already encoded: the
  /// engine's hot path, which never builds a `JSONValue` tree.
  ///
  /// `data` and a `PreviousValue.record(_:)` must each be one valid compact JSON value;
  /// they are copied as they are. `data` is `nil` for a delete.
  ///
  /// `batch` is the operation count of a batch of two or more, written on the batch's first
  /// line only (Docs/FORMAT.md, "Batches"): readers apply the batch only when all its lines are there.
  public static func write(
    into writer: inout JSONWriter, timestamp: String, kind: OperationKind, id: String,
    previous: EncodedPrevious, data: [UInt8]?, agent: String?, clock: Int?, batch: Int? = nil
  ) {
    writeEncodedLine(
      into: &writer, timestamp: timestamp, kind: kind, id: id, previous: previous, data: data, agent: agent,
      clock: clock, batch: batch)
  }

  /// The line of ``write(into:timestamp:kind:id:previous:data:agent:clock:batch:)``, in an
  /// array of its own exactly the line's size: assembled in the calling thread's scratch
  /// buffer and copied once, so a line costs one allocation (the engine's hot path).
  public static func encodedLine(
    timestamp: String, kind: OperationKind, id: String, previous: EncodedPrevious, data: [UInt8]?,
    agent: String?, clock: Int?, batch: Int? = nil
  ) -> [UInt8] {
    RecordEncodingState.withScratchBuffer { buffer in
      writeEncodedLine(
        into: &buffer, timestamp: timestamp, kind: kind, id: id, previous: previous, data: data, agent: agent,
        clock: clock, batch: batch)
      return Array(buffer.bytes)
    }
  }

  static func writeEncodedLine<Sink: JSONByteSink>(
    into sink: inout Sink, timestamp: String, kind: OperationKind, id: String,
    previous: EncodedPrevious, data: [UInt8]?, agent: String?, clock: Int?, batch: Int?
  ) {
    writeHead(into: &sink, timestamp: timestamp, kind: kind, id: id)
    switch previous {
    case .none: sink.appendASCII("null")
    case .record(let bytes): bytes.withUnsafeBufferPointer { sink.appendBytes($0) }
    case .delta(let patch): sink.appendJSON(patch.jsonValue)
    }
    if let data {
      sink.appendASCII(",\"data\":")
      data.withUnsafeBufferPointer { sink.appendBytes($0) }
    }
    writeTail(into: &sink, isDelta: previous.storesDeltaPatch, agent: agent, clock: clock, batch: batch)
    sink.appendByte(UInt8(ascii: "\n"))
  }

  /// A line up to its `prev` value: `{"ts":…,"op":…,"id":…,"prev":`. The caller writes the
  /// value, then `,"data":` and the record when there is one, then ``writeTail``.
  /// (Straight-line code rather than closures for the parts: a closure over the record's bytes
  /// was an allocation and a dozen reference counts a line.)
  static func writeHead<Sink: JSONByteSink>(into writer: inout Sink, timestamp: String, kind: OperationKind, id: String)
  {
    writer.appendASCII("{\"ts\":")
    writer.appendJSON(timestamp)
    switch kind {
    case .set: writer.appendASCII(",\"op\":\"set\",\"id\":")
    case .delete: writer.appendASCII(",\"op\":\"delete\",\"id\":")
    }
    writer.appendJSON(id)
    writer.appendASCII(",\"prev\":")
  }

  /// The rest of a line after its `data`, without the trailing newline.
  static func writeTail<Sink: JSONByteSink>(
    into writer: inout Sink, isDelta: Bool, agent: String?, clock: Int?, batch: Int?
  ) {
    if isDelta { writer.appendASCII(",\"encoding\":\"delta\"") }
    if let agent {
      writer.appendASCII(",\"agent\":")
      writer.appendJSON(agent)
    }
    if let clock {
      writer.appendASCII(",\"clock\":")
      writer.appendJSON(Int64(clock))
    }
    if let batch {
      writer.appendASCII(",\"batch\":")
      writer.appendJSON(Int64(batch))
    }
    writer.appendByte(UInt8(ascii: "}"))
  }

  /// Decodes one line (without its newline; surrounding white space is allowed).
  ///
  /// Beyond the reference's rules, a non-object, non-null `prev` or `data` is accepted (the
  /// deliberate widening in Docs/FORMAT.md); a `set` without `prev` counts as a create.
  ///
  /// - Throws: `OpsLogError.invalidJSON(reason:offset:)` when the line is not JSON, and
  ///   `OpsLogError.invalidOperation(reason:)` naming the field when the JSON breaks a rule
  ///   of the WAL line format, each rule with its own reason.
  public static func decode(_ line: some Collection<UInt8>) throws -> LogOperation<JSONValue> {
    try decode(value: JSONValue(parsing: line))
  }

  /// Validates an already parsed line; see ``decode(_:)``.
  public static func decode(value: JSONValue) throws -> LogOperation<JSONValue> {
    try decodeLine(value: value).operation
  }

  /// Validates an already parsed line and also returns its `batch` count; see
  /// ``decodeEncodedLine(_:)``.
  public static func decodeLine(value: JSONValue) throws -> DecodedLine<JSONValue> {
    guard case .object(let object) = value else { throw invalid("the line is not a JSON object") }
    let fields = Fields(
      timestamp: object["ts"], kind: object["op"], id: object["id"], previous: object["prev"], data: object["data"],
      encoding: object["encoding"], agent: object["agent"], clock: object["clock"], batch: object["batch"])
    return DecodedLine(operation: try fields.operation(isNull: \.isNull, value: { $0 }), batch: try fields.batchCount())
  }

  /// Decodes one line as ``decode(_:)`` does, accepting and rejecting exactly the same lines
  /// for the same reasons, but leaves `data` and a full `prev` as the line's bytes: a typed
  /// store decodes them straight into its record type instead of building a `JSONValue`
  /// tree first. Both are checked to be valid JSON, nested no deeper than in the whole line.
  ///
  /// The returned bytes share `line`'s storage.
  ///
  /// - Throws: as ``decode(_:)``.
  public static func decodeEncoded(_ line: ArraySlice<UInt8>) throws -> LogOperation<JSONBytes> {
    try decodeEncodedLine(line).operation
  }

  /// ``decodeEncoded(_:)``, with the line's `batch` count: the number of operations of the
  /// batch that this line starts (Docs/FORMAT.md, "Batches"), `nil` for a line that starts none.
  ///
  /// - Throws: as ``decode(_:)``; a `batch` that is not an integer of at least 2 is
  ///   `OpsLogError.invalidOperation(reason:)`.
  public static func decodeEncodedLine(_ line: ArraySlice<UInt8>) throws -> DecodedLine<JSONBytes> {
    do {
      return try scanEncoded(line)
    } catch let error as OpsLogError {
      guard case .invalidJSON = error else { throw error }
      // The validating skip names the bad byte itself where the full parse names, say, the
      // start of the string holding it: the full parse reports what is wrong, so that a
      // skipped line is logged as it always was.
      _ = try decode(line)
      throw error
    }
  }

  static func scanEncoded(_ line: ArraySlice<UInt8>) throws -> DecodedLine<JSONBytes> {
    try line.withUnsafeBytes { raw in
      var parser = JSONParser(raw)
      parser.skipWhitespace()
      guard parser.peek() == UInt8(ascii: "{") else {
        // Not an object: the full parse reports the same JSON error or the same broken rule.
        _ = try decode(value: JSONParser.parseDocument(raw))
        throw invalid("the line is not a JSON object")
      }
      var fields = Fields<JSONBytes>()
      try parser.enterNesting()
      parser.position += 1
      parser.skipWhitespace()
      if parser.peek() == UInt8(ascii: "}") {
        parser.position += 1
      } else {
        // Built from the parser's own member steps, so that it accepts exactly the lines the
        // full parse accepts, with the same errors. A repeated key's last value counts, as there.
        repeat {
          // The key is matched on its bytes, not built into a `String` (six per line; reading a
          // WAL of 20,000 lines takes 0.85-0.95× the time without them). The skip validates it
          // as the full parse does.
          let member = try Member(key: raw, quoted: try parser.skipMemberKey())
          let valueStart = parser.position
          switch member {
          case .data, .previous:
            try parser.skipValue()
            let bytes = JSONBytes(
              unchecked: line[(line.startIndex + valueStart)..<(line.startIndex + parser.position)])
            if member == .data { fields.data = bytes } else { fields.previous = bytes }
          case .timestamp: fields.timestamp = try parser.parseValue()
          case .kind: fields.kind = try parser.parseValue()
          case .id: fields.id = try parser.parseValue()
          case .encoding: fields.encoding = try parser.parseValue()
          case .agent: fields.agent = try parser.parseValue()
          case .clock: fields.clock = try parser.parseValue()
          case .batch: fields.batch = try parser.parseValue()
          case .other: try parser.skipValue()
          }
        } while try parser.endOfEntry(closing: UInt8(ascii: "}"))
      }
      parser.skipWhitespace()
      if parser.position != parser.end { throw parser.error("unexpected data after the JSON value") }
      return DecodedLine(
        operation: try fields.operation(isNull: \.isNull, value: \.value), batch: try fields.batchCount())
    }
  }

  /// A member of a line, by its key.
  enum Member: Equatable {
    case data, previous, timestamp, kind, id, encoding, agent, clock, batch, other

    /// The member whose key is the JSON string at `quoted` in `raw` (quotes included), a
    /// string already validated. Keys compare exactly (ExactString), as the tree path's
    /// `JSONObject` lookups do; a key with an escape (`"d\u0061ta"`) is decoded first, so that
    /// it names what the full parse makes of it.
    init(key raw: UnsafeRawBufferPointer, quoted: Range<Int>) throws {
      let bytes = UnsafeRawBufferPointer(rebasing: raw[(quoted.lowerBound + 1)..<(quoted.upperBound - 1)])
      if bytes.contains(UInt8(ascii: "\\")) {
        var parser = JSONParser(raw)
        parser.position = quoted.lowerBound
        var decoded = try parser.parseString()
        self = decoded.withUTF8 { Self(bytes: UnsafeRawBufferPointer($0)) }
      } else {
        self = Self(bytes: bytes)
      }
    }

    /// The member whose key is `bytes` (UTF-8, unescaped).
    init(bytes: UnsafeRawBufferPointer) {
      guard bytes.count <= 8 else {
        self = .other
        return
      }
      // With the length: "ts" and "ts\u0000" pack alike.
      switch (bytes.count, Self.packed(bytes)) {
      case (4, Self.dataKey): self = .data
      case (4, Self.previousKey): self = .previous
      case (2, Self.timestampKey): self = .timestamp
      case (2, Self.kindKey): self = .kind
      case (2, Self.idKey): self = .id
      case (8, Self.encodingKey): self = .encoding
      case (5, Self.agentKey): self = .agent
      case (5, Self.clockKey): self = .clock
      case (5, Self.batchKey): self = .batch
      default: self = .other
      }
    }

    static let dataKey = packed("data")
    static let previousKey = packed("prev")
    static let timestampKey = packed("ts")
    static let kindKey = packed("op")
    static let idKey = packed("id")
    static let encodingKey = packed("encoding")
    static let agentKey = packed("agent")
    static let clockKey = packed("clock")
    static let batchKey = packed("batch")

    /// Up to eight bytes as one little-endian word.
    static func packed(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
      var packed: UInt64 = 0
      for (index, byte) in bytes.enumerated() { packed |= UInt64(byte) << (8 * UInt64(index)) }
      return packed
    }

    static func packed(_ key: StaticString) -> UInt64 {
      key.withUTF8Buffer { packed(UnsafeRawBufferPointer($0)) }
    }
  }

  /// The members of a line that the format defines, `prev` and `data` in whatever form the
  /// decoder keeps them; the rules are checked in one place for both forms.
  struct Fields<Payload: Sendable> {
    var timestamp: JSONValue? = nil
    var kind: JSONValue? = nil
    var id: JSONValue? = nil
    var previous: Payload? = nil
    var data: Payload? = nil
    var encoding: JSONValue? = nil
    var agent: JSONValue? = nil
    var clock: JSONValue? = nil
    var batch: JSONValue? = nil

    /// The `batch` count, checked after every other rule (a line that breaks one of them is
    /// reported for that).
    func batchCount() throws -> Int? {
      guard let batch else { return nil }
      guard let number = batch.intValue, let count = Int(exactly: number) else {
        throw invalid("batch is not an integer")
      }
      guard count >= 2 else { throw invalid("batch is less than 2") }
      return count
    }

    /// The operation, or the error for the first rule the line breaks, in a fixed order.
    /// `value` is needed only for a delta patch, which is always read as a tree.
    func operation(isNull: (Payload) -> Bool, value: (Payload) -> JSONValue) throws -> LogOperation<Payload> {
      guard let timestamp else { throw invalid("ts is missing") }
      guard case .string(let timestamp) = timestamp else { throw invalid("ts is not a string") }
      guard !timestamp.isEmpty else { throw invalid("ts is empty") }

      guard let kindValue = kind else { throw invalid("op is missing") }
      guard case .string(let kindName) = kindValue, let kind = OperationKind(rawValue: kindName) else {
        throw invalid("op is not \"set\" or \"delete\"")
      }

      guard let idValue = id else { throw invalid("id is missing") }
      guard case .string(let id) = idValue else { throw invalid("id is not a string") }
      guard !id.isEmpty else { throw invalid("id is empty") }

      switch kind {
      case .set:
        guard let data else { throw invalid("data is missing in a set") }
        if isNull(data) { throw invalid("data is null in a set") }
      case .delete:
        if data != nil { throw invalid("data is present in a delete") }
      }

      var isDelta = false
      if let encoding {
        switch encoding {
        case .string("full"): break
        case .string("delta"): isDelta = true
        default: throw invalid("encoding is not \"full\" or \"delta\"")
        }
      }

      let previous: PreviousValue<Payload>
      switch (kind, self.previous) {
      case (.delete, nil): throw invalid("prev is missing in a delete")
      case (.delete, let record?):
        if isNull(record) { throw invalid("prev is null in a delete") }
        if isDelta { throw invalid("encoding is \"delta\" in a delete") }
        previous = .record(record)
      case (.set, nil):
        if isDelta { throw invalid("encoding is \"delta\" but prev is missing or null") }
        previous = .none
      case (.set, let record?):
        if isNull(record) {
          if isDelta { throw invalid("encoding is \"delta\" but prev is missing or null") }
          previous = .none
        } else {
          previous = isDelta ? .delta(try DeltaPatch(jsonValue: value(record))) : .record(record)
        }
      }

      var agentName: String? = nil
      if let agent {
        guard case .string(let name) = agent else { throw invalid("agent is not a string") }
        guard !name.isEmpty else { throw invalid("agent is empty") }
        agentName = name
      }

      var clockValue: Int? = nil
      if let clock {
        guard let number = clock.intValue, let integer = Int(exactly: number) else {
          throw invalid("clock is not an integer")
        }
        guard integer >= 0 else { throw invalid("clock is negative") }
        clockValue = integer
      }

      return LogOperation(
        timestamp: timestamp, kind: kind, id: id, data: data, previous: previous, agent: agentName, clock: clockValue)
    }
  }

  static func invalid(_ reason: String) -> OpsLogError { .invalidOperation(reason: reason) }
}

/// A decoded WAL line: its operation and, on the first line of a batch, the batch's size.
public struct DecodedLine<Payload: Sendable>: Sendable {
  /// The line's operation.
  public var operation: LogOperation<Payload>
  /// `"batch"`: on the first line of a batch of two or more operations, how many operations
  /// (this one included) the batch holds; `nil` on every other line.
  public var batch: Int?

  /// A line with these parts.
  public init(operation: LogOperation<Payload>, batch: Int?) {
    self.operation = operation
    self.batch = batch
  }
}

extension PreviousValue {
  var storesDeltaPatch: Bool {
    if case .delta = self { return true }
    return false
  }
}
