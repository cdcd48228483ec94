import OpsLogTypes

/// The JSONL snapshot layout (Docs/FORMAT.md, "Snapshot"): a header line, then one
/// `{"id":…,"data":…}` line per record in the store's record order.
public enum SnapshotFormat {
  /// The header line `{"version":V,"timestamp":"…"}` with its trailing newline.
  public static func headerLine(_ header: SnapshotHeader) -> [UInt8] {
    var writer = JSONWriter(reservingCapacity: 64)
    writer.writeASCII("{\"version\":")
    writer.write(Int64(header.version))
    writer.writeASCII(",\"timestamp\":")
    writer.write(header.timestamp)
    writer.writeASCII("}\n")
    return writer.bytes
  }

  /// Appends `{"id":<id>,"data":<data>}` and a newline.
  ///
  /// `data` must be one valid compact JSON value (the record as ``RecordEncoder`` or
  /// `JSONValue.serialized()` wrote it); it is copied as it is, so a record is never parsed
  /// again to be snapshotted.
  public static func writeRecordLine(into writer: inout JSONWriter, id: String, data: some Sequence<UInt8>) {
    writeRecordLine(into: &writer, id: id) { $0.writeRaw(data) }
  }

  /// Appends one record line whose data `writeData` appends to `writer` (with
  /// ``RecordEncoder/encode(_:into:)``), so a checkpoint never allocates an array for each
  /// record's bytes. `writeData` must write exactly one JSON value.
  public static func writeRecordLine(
    into writer: inout JSONWriter, id: String, data writeData: (inout JSONWriter) throws -> Void
  ) rethrows {
    startRecordLine(into: &writer, id: id)
    try writeData(&writer)
    writer.writeASCII("}\n")
  }

  /// Appends one record line with `record` encoded by `encoder` into `writer` (one copy from
  /// the encoder's per-thread buffer, no array of its own).
  ///
  /// The record is passed as an argument rather than captured by a `writeData` closure: a
  /// caller that is not specialized for the record's type and lends a record it holds in
  /// place copied it (a retain per reference) to hand it to the closure.
  ///
  /// - Throws: `record`'s `EncodingError`; `writer` then holds part of the line.
  public static func writeRecordLine(
    into writer: inout JSONWriter, id: String, record: some Encodable, encoder: RecordEncoder
  ) throws {
    startRecordLine(into: &writer, id: id)
    try encoder.encode(record, into: &writer)
    writer.writeASCII("}\n")
  }

  /// A record line up to its data: `{"id":<id>,"data":`.
  private static func startRecordLine(into writer: inout JSONWriter, id: String) {
    writer.writeASCII("{\"id\":")
    writer.write(id)
    writer.writeASCII(",\"data\":")
  }

  /// The snapshot's file name: `snap-<ms>.jsonl`, or `snap-<ms>.jsonl.gz` when compressed.
  public static func fileName(timestampMilliseconds: Int64, compression: SnapshotCompression) -> String {
    switch compression {
    case .none: return "snap-\(timestampMilliseconds).jsonl"
    case .gzip: return "snap-\(timestampMilliseconds).jsonl.gz"
    }
  }
}

/// Builds a snapshot's bytes incrementally, plain or gzip-compressed, so a large store is
/// written in bounded pieces rather than as one buffer.
///
/// Call ``append(id:data:)`` for each record, write ``takeOutput()`` whenever convenient, and
/// write what ``finish()`` returns last. Not `Sendable` (it may own a zlib stream).
public final class SnapshotWriter {
  private var writer = JSONWriter(reservingCapacity: 64 * 1024)
  private var output: [UInt8] = []
  private let compressor: GzipCompressor?
  /// Plain bytes are handed to zlib in pieces of about this size.
  private let flushThreshold = 64 * 1024

  /// Starts a snapshot with its header line.
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` for a gzip level outside 0...9.
  public init(header: SnapshotHeader, compression: SnapshotCompression) throws {
    switch compression {
    case .none: compressor = nil
    case .gzip(let level): compressor = try GzipCompressor(level: level)
    }
    writer.writeRaw(SnapshotFormat.headerLine(header))
  }

  /// Adds one record line; `data` is the record's compact JSON, copied as it is (not checked).
  /// Lines come out in the order they are appended.
  ///
  /// - Throws: for a gzip snapshot, `OpsLogError.invalidArgument(_:)` from the compressor
  ///   when a full buffer is handed to it: zlib failed, or ``finish()`` was called already. A
  ///   plain snapshot never throws.
  public func append(id: String, data: some Sequence<UInt8>) throws {
    SnapshotFormat.writeRecordLine(into: &writer, id: id, data: data)
    if writer.bytes.count >= flushThreshold { try drain() }
  }

  /// The bytes ready to be written so far; they are handed over once.
  public func takeOutput() throws -> [UInt8] {
    try drain()
    defer { output = [] }
    return output
  }

  /// The remaining bytes, including the gzip trailer when compressed.
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` when called twice on a gzip snapshot.
  public func finish() throws -> [UInt8] {
    try drain()
    if let compressor { output.append(contentsOf: try compressor.finish()) }
    defer { output = [] }
    return output
  }

  private func drain() throws {
    guard !writer.bytes.isEmpty else { return }
    if let compressor {
      output.append(contentsOf: try compressor.compress(writer.bytes))
    } else {
      output.append(contentsOf: writer.bytes)
    }
    writer.bytes.removeAll(keepingCapacity: true)
  }
}
