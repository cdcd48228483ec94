import OpsLogTypes

/// A `prev` value that is already encoded, for ``OperationLine/write(into:timestamp:kind:id:previous:data:agent:clock:)``.
public enum EncodedPrevious: Sendable {
  /// `"prev":null`: the operation created the record.
  case none
  /// The full previous record as compact JSON bytes, written as they are.
  case record([UInt8])
  /// A reverse patch, written with `"encoding":"delta"`.
  case delta(DeltaPatch)
}

/// One WAL line (see FORMAT.md, "WAL line"): encoding in the reference's key order and
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
    writeFields(
      into: &writer, timestamp: operation.timestamp, kind: operation.kind, id: operation.id,
      writePrevious: { writer in
        switch operation.previous {
        case .none: writer.writeASCII("null")
        case .record(let record): writer.write(record)
        case .delta(let patch): writer.write(patch.jsonValue)
        }
      },
      isDelta: operation.previous.storesDeltaPatch,
      writeData: operation.data.map { data in { (writer: inout JSONWriter) in writer.write(data) } },
      agent: operation.agent, clock: operation.clock)
    return writer.bytes
  }

  /// Appends one line, with its trailing newline, for records that are already encoded: the
  /// engine's hot path, which never builds a ``JSONValue`` tree.
  ///
  /// `data` and a ``EncodedPrevious/record(_:)`` must each be one valid compact JSON value;
  /// they are copied as they are. `data` is `nil` for a delete.
  public static func write(
    into writer: inout JSONWriter, timestamp: String, kind: OperationKind, id: String,
    previous: EncodedPrevious, data: [UInt8]?, agent: String?, clock: Int?
  ) {
    let isDelta: Bool
    if case .delta = previous { isDelta = true } else { isDelta = false }
    writeFields(
      into: &writer, timestamp: timestamp, kind: kind, id: id,
      writePrevious: { writer in
        switch previous {
        case .none: writer.writeASCII("null")
        case .record(let bytes): writer.writeRaw(bytes)
        case .delta(let patch): writer.write(patch.jsonValue)
        }
      },
      isDelta: isDelta,
      writeData: data.map { bytes in { (writer: inout JSONWriter) in writer.writeRaw(bytes) } },
      agent: agent, clock: clock)
    writer.writeByte(UInt8(ascii: "\n"))
  }

  static func writeFields(
    into writer: inout JSONWriter, timestamp: String, kind: OperationKind, id: String,
    writePrevious: (inout JSONWriter) -> Void, isDelta: Bool, writeData: ((inout JSONWriter) -> Void)?,
    agent: String?, clock: Int?
  ) {
    writer.writeASCII("{\"ts\":")
    writer.write(timestamp)
    switch kind {
    case .set: writer.writeASCII(",\"op\":\"set\",\"id\":")
    case .delete: writer.writeASCII(",\"op\":\"delete\",\"id\":")
    }
    writer.write(id)
    writer.writeASCII(",\"prev\":")
    writePrevious(&writer)
    if let writeData {
      writer.writeASCII(",\"data\":")
      writeData(&writer)
    }
    if isDelta { writer.writeASCII(",\"encoding\":\"delta\"") }
    if let agent {
      writer.writeASCII(",\"agent\":")
      writer.write(agent)
    }
    if let clock {
      writer.writeASCII(",\"clock\":")
      writer.write(Int64(clock))
    }
    writer.writeByte(UInt8(ascii: "}"))
  }

  /// Decodes one line (without its newline; surrounding white space is allowed).
  ///
  /// Beyond the reference's rules, a non-object, non-null `prev` or `data` is accepted (the
  /// deliberate widening in FORMAT.md); a `set` without `prev` counts as a create.
  ///
  /// - Throws: ``OpsLogError/invalidJSON(reason:offset:)`` when the line is not JSON, and
  ///   ``OpsLogError/invalidOperation(reason:)`` naming the field when the JSON breaks a rule
  ///   of the WAL line format, each rule with its own reason.
  public static func decode(_ line: some Collection<UInt8>) throws -> LogOperation<JSONValue> {
    try decode(value: JSONValue(parsing: line))
  }

  /// Validates an already parsed line; see ``decode(_:)``.
  public static func decode(value: JSONValue) throws -> LogOperation<JSONValue> {
    guard case .object(let object) = value else { throw invalid("the line is not a JSON object") }

    guard let timestampValue = object["ts"] else { throw invalid("ts is missing") }
    guard case .string(let timestamp) = timestampValue else { throw invalid("ts is not a string") }
    guard !timestamp.isEmpty else { throw invalid("ts is empty") }

    guard let kindValue = object["op"] else { throw invalid("op is missing") }
    guard case .string(let kindName) = kindValue, let kind = OperationKind(rawValue: kindName) else {
      throw invalid("op is not \"set\" or \"delete\"")
    }

    guard let idValue = object["id"] else { throw invalid("id is missing") }
    guard case .string(let id) = idValue else { throw invalid("id is not a string") }
    guard !id.isEmpty else { throw invalid("id is empty") }

    let data = object["data"]
    switch kind {
    case .set:
      guard let data else { throw invalid("data is missing in a set") }
      if data.isNull { throw invalid("data is null in a set") }
    case .delete:
      if data != nil { throw invalid("data is present in a delete") }
    }

    var isDelta = false
    if let encodingValue = object["encoding"] {
      switch encodingValue {
      case .string("full"): break
      case .string("delta"): isDelta = true
      default: throw invalid("encoding is not \"full\" or \"delta\"")
      }
    }

    let previous: PreviousValue<JSONValue>
    switch (kind, object["prev"]) {
    case (.delete, nil): throw invalid("prev is missing in a delete")
    case (.delete, .null?): throw invalid("prev is null in a delete")
    case (.delete, let record?):
      if isDelta { throw invalid("encoding is \"delta\" in a delete") }
      previous = .record(record)
    case (.set, nil), (.set, .null?):
      if isDelta { throw invalid("encoding is \"delta\" but prev is missing or null") }
      previous = .none
    case (.set, let record?):
      previous = isDelta ? .delta(try DeltaPatch(jsonValue: record)) : .record(record)
    }

    var agent: String? = nil
    if let agentValue = object["agent"] {
      guard case .string(let name) = agentValue else { throw invalid("agent is not a string") }
      guard !name.isEmpty else { throw invalid("agent is empty") }
      agent = name
    }

    var clock: Int? = nil
    if let clockValue = object["clock"] {
      guard let number = clockValue.intValue, let integer = Int(exactly: number) else {
        throw invalid("clock is not an integer")
      }
      guard integer >= 0 else { throw invalid("clock is negative") }
      clock = integer
    }

    return LogOperation(
      timestamp: timestamp, kind: kind, id: id, data: data, previous: previous, agent: agent, clock: clock)
  }

  static func invalid(_ reason: String) -> OpsLogError { .invalidOperation(reason: reason) }
}

extension PreviousValue {
  var storesDeltaPatch: Bool {
    if case .delta = self { return true }
    return false
  }
}
