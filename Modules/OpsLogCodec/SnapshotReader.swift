import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One record of a snapshot.
public struct SnapshotRecord: Sendable {
  /// The record's ID, never empty.
  public var id: String
  /// The record's JSON exactly as stored (validated, not parsed into a tree), for
  /// `RecordDecoder` to decode straight into the record type. For legacy snapshots it is the
  /// compact re-serialization of the stored value.
  public var data: ArraySlice<UInt8>

  /// A record with its ID and its JSON bytes, which must be one valid JSON value.
  public init(id: String, data: ArraySlice<UInt8>) {
    self.id = id
    self.data = data
  }
}

/// Reads a snapshot as a stream of byte chunks, in whatever sizes the file is read.
///
/// gzip is detected by its magic bytes and inflated as a stream. Three layouts are read: JSONL
/// (a header line, then record lines), the legacy single-line document and the legacy
/// pretty-printed document (`{"version":V,"timestamp":…,"records":{…}}`). JSONL and gzip JSONL
/// are never held whole in memory: only the current line is buffered. The legacy documents
/// have no line structure and are buffered.
///
/// Snapshots are replaced atomically, so a bad line is real damage: every problem throws
/// `OpsLogError.corrupted(path:reason:)` naming the line; no record is ever skipped.
///
/// Not `Sendable` and not to be copied mid-stream (a copy shares the zlib stream).
public struct SnapshotReader {
  enum Layout {
    /// The first line has not been read yet.
    case unknown
    case jsonl
    /// The whole document was the first line; only blank lines may follow.
    case legacyLine
    /// The first line was `{` alone: the rest is buffered into `document`.
    case legacyDocument
  }

  let path: String
  var layout = Layout.unknown
  /// The first bytes, held until there are enough to tell gzip from plain text.
  var prefix: [UInt8] = []
  var isDetected = false
  var decompressor: GzipDecompressor?
  /// The current, incomplete line; reused for every line.
  var line: [UInt8] = []
  var lineNumber = 0
  var document: [UInt8] = []
  var isFinished = false

  /// Whether record data is validated as JSON before it is handed over. A consumer that
  /// decodes it with a strict decoder anyway (the store does, through ``RecordDecoder``) turns
  /// this off so each byte is parsed once; damage then surfaces as that decoder's error.
  public var validatesRecordData = true

  /// The header, known once the first line is read (at ``finish(_:)`` for the legacy
  /// pretty-printed layout).
  public private(set) var header: SnapshotHeader?

  /// - Parameter path: the snapshot's path, named in errors.
  public init(path: String) {
    self.path = path
  }

  /// Reads the next chunk of the file and calls `onRecord` for every record line it
  /// completes, in file order.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` for a bad header, a record line that is
  ///   not `{"id":<non-empty string>,"data":<value>}`, anything but blank lines after a
  ///   single-line legacy document, damaged gzip data, or any chunk after ``finish(_:)``
  ///   ("data after the end of the snapshot"); whatever `onRecord` throws.
  public mutating func consume(_ chunk: some Collection<UInt8>, _ onRecord: (SnapshotRecord) throws -> Void) throws {
    guard !isFinished else { throw corrupted("data after the end of the snapshot") }
    if !isDetected {
      prefix.append(contentsOf: chunk)
      guard prefix.count >= 2 else { return }
      try detect(onRecord)
      return
    }
    try feed(chunk, onRecord)
  }

  /// Reads what is left after the last chunk and returns the header.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` for an empty snapshot, a truncated gzip
  ///   stream, a last line that is damaged, or a legacy document that is truncated or invalid.
  public mutating func finish(_ onRecord: (SnapshotRecord) throws -> Void) throws -> SnapshotHeader {
    guard !isFinished else {
      if let header { return header }
      throw corrupted("the snapshot has no header")
    }
    if !isDetected { try detect(onRecord) }
    if let decompressor, !decompressor.isFinished {
      throw corrupted("the gzip stream is truncated")
    }
    if lineNumber == 0 && line.isEmpty && document.isEmpty {
      throw corrupted("the snapshot is empty")
    }
    if !line.isEmpty {
      // A last line without its newline.
      try completeLine(onRecord)
    }
    if layout == .legacyDocument {
      try readLegacyDocument(onRecord)
    }
    isFinished = true
    guard let header else { throw corrupted("the snapshot has no header") }
    return header
  }

  func corrupted(_ reason: String) -> OpsLogError { .corrupted(path: path, reason: reason) }

  mutating func detect(_ onRecord: (SnapshotRecord) throws -> Void) throws {
    isDetected = true
    if Gzip.hasMagic(prefix) { decompressor = try GzipDecompressor(path: path) }
    let bytes = prefix
    prefix = []
    try feed(bytes, onRecord)
  }

  mutating func feed(_ chunk: some Collection<UInt8>, _ onRecord: (SnapshotRecord) throws -> Void) throws {
    if let decompressor {
      try feedPlain(decompressor.decompress(chunk), onRecord)
    } else {
      try feedPlain(chunk, onRecord)
    }
  }

  mutating func feedPlain(_ chunk: some Collection<UInt8>, _ onRecord: (SnapshotRecord) throws -> Void) throws {
    if layout == .legacyDocument {
      document.append(contentsOf: chunk)
      return
    }
    try Gzip.withBytes(chunk) { buffer in
      guard let base = buffer.baseAddress else { return }
      var start = 0
      while start < buffer.count {
        guard let found = memchr(base + start, 0x0A, buffer.count - start) else { break }
        let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        line.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<newline]))
        start = newline + 1
        try completeLine(onRecord)
        if layout == .legacyDocument {
          document.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start...]))
          return
        }
      }
      line.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start...]))
    }
  }

  /// Handles the line in `line` and empties it.
  mutating func completeLine(_ onRecord: (SnapshotRecord) throws -> Void) throws {
    lineNumber += 1
    defer { line.removeAll(keepingCapacity: true) }
    switch layout {
    case .unknown:
      try readFirstLine(onRecord)
    case .jsonl:
      guard !Self.isBlank(line) else { return }
      try onRecord(try recordLine())
    case .legacyLine:
      guard Self.isBlank(line) else {
        throw corrupted("line \(lineNumber): unexpected data after the legacy snapshot document")
      }
    case .legacyDocument:
      document.append(contentsOf: line)
      document.append(0x0A)
    }
  }

  static func isBlank(_ bytes: [UInt8]) -> Bool {
    bytes.allSatisfy(JSONParser.isWhitespace)
  }

  mutating func readFirstLine(_ onRecord: (SnapshotRecord) throws -> Void) throws {
    if let first = line.firstIndex(where: { !JSONParser.isWhitespace($0) }), line[first] == UInt8(ascii: "{"),
      line.lastIndex(where: { !JSONParser.isWhitespace($0) }) == first
    {
      layout = .legacyDocument
      document = line
      document.append(0x0A)
      return
    }
    let value: JSONValue
    do {
      value = try JSONValue(parsing: line)
    } catch {
      throw corrupted("line 1: the header is not valid JSON (\(error))")
    }
    guard case .object(let object) = value else { throw corrupted("line 1: the header is not a JSON object") }
    header = try readHeader(object, location: "line 1: ")
    if object["records"] != nil {
      layout = .legacyLine
      try emitLegacyRecords(object, location: "line 1: ", onRecord)
    } else {
      layout = .jsonl
    }
  }

  func readHeader(_ object: JSONObject, location: String) throws -> SnapshotHeader {
    guard let versionValue = object["version"] else { throw corrupted("\(location)the header's version is missing") }
    guard let number = versionValue.intValue, let version = Int(exactly: number), version >= 1 else {
      throw corrupted("\(location)the header's version is not an integer ≥ 1")
    }
    guard let timestampValue = object["timestamp"] else {
      throw corrupted("\(location)the header's timestamp is missing")
    }
    guard case .string(let timestamp) = timestampValue else {
      throw corrupted("\(location)the header's timestamp is not a string")
    }
    return SnapshotHeader(version: version, timestamp: timestamp)
  }

  func emitLegacyRecords(
    _ object: JSONObject, location: String, _ onRecord: (SnapshotRecord) throws -> Void
  ) throws {
    guard case .object(let records)? = object["records"] else {
      throw corrupted("\(location)records is not an object")
    }
    for (id, record) in records {
      guard !id.isEmpty else { throw corrupted("\(location)records has an empty ID") }
      try onRecord(SnapshotRecord(id: id, data: record.serialized()[...]))
    }
  }

  mutating func readLegacyDocument(_ onRecord: (SnapshotRecord) throws -> Void) throws {
    let value: JSONValue
    do {
      value = try JSONValue(parsing: document)
    } catch {
      throw corrupted("the legacy snapshot document is truncated or not valid JSON (\(error))")
    }
    document = []
    guard case .object(let object) = value else {
      throw corrupted("the legacy snapshot document is not a JSON object")
    }
    guard object["records"] != nil else { throw corrupted("the legacy snapshot document has no records") }
    header = try readHeader(object, location: "legacy document: ")
    try emitLegacyRecords(object, location: "legacy document: ", onRecord)
  }

  /// The record in `line`: by the fast path when the line has the writer's exact shape,
  /// otherwise by a full parse that also explains what is wrong.
  func recordLine() throws -> SnapshotRecord {
    if let (id, range) = Self.scanRecordLine(line, validatingData: validatesRecordData) {
      return SnapshotRecord(id: id, data: line[range])
    }
    let value: JSONValue
    do {
      value = try JSONValue(parsing: line)
    } catch {
      throw corrupted("line \(lineNumber): not valid JSON (\(error))")
    }
    guard case .object(let object) = value else {
      throw corrupted("line \(lineNumber): the record line is not a JSON object")
    }
    guard let idValue = object["id"] else { throw corrupted("line \(lineNumber): id is missing") }
    guard case .string(let id) = idValue, !id.isEmpty else {
      throw corrupted("line \(lineNumber): id is not a non-empty string")
    }
    guard let data = object["data"] else { throw corrupted("line \(lineNumber): data is missing") }
    return SnapshotRecord(id: id, data: data.serialized()[...])
  }

  static let idPrefix = Array(#"{"id":"#.utf8)
  static let dataInfix = Array(#","data":"#.utf8)

  /// Scans `{"id":"<string>","data":<value>}` as the writer lays it out, validating the data
  /// value strictly without building a tree. `nil` when the line has any other shape or is
  /// not valid, so the caller can fall back to a full parse.
  /// With `validatingData` false, the data value is taken to run to the line's final `}`
  /// unscanned: the caller's strict decoder rejects anything else in it.
  static func scanRecordLine(_ line: [UInt8], validatingData: Bool = true) -> (String, Range<Int>)? {
    line.withUnsafeBytes { raw -> (String, Range<Int>)? in
      guard raw.count > idPrefix.count + dataInfix.count + 3,
        raw.starts(with: idPrefix), raw[idPrefix.count] == UInt8(ascii: "\"")
      else { return nil }
      var parser = JSONParser(raw)
      parser.position = idPrefix.count
      guard let id = try? parser.parseString(), !id.isEmpty else { return nil }
      let infixEnd = parser.position + dataInfix.count
      guard infixEnd <= raw.count, raw[parser.position..<infixEnd].elementsEqual(dataInfix) else { return nil }
      parser.position = infixEnd
      let dataStart = infixEnd
      if !validatingData {
        var end = raw.count
        while end > dataStart, JSONParser.isWhitespace(raw[end - 1]) { end -= 1 }
        guard end > dataStart + 1, raw[end - 1] == UInt8(ascii: "}") else { return nil }
        return (id, dataStart..<(end - 1))
      }
      // Inside the line's object, so that the depth limit counts from the line's root as the
      // full parse's does.
      parser.depth = 1
      guard (try? parser.skipValue()) != nil else { return nil }
      let dataEnd = parser.position
      parser.skipWhitespace()
      guard parser.position < raw.count, raw[parser.position] == UInt8(ascii: "}") else { return nil }
      parser.position += 1
      parser.skipWhitespace()
      guard parser.position == raw.count else { return nil }
      return (id, dataStart..<dataEnd)
    }
  }
}
