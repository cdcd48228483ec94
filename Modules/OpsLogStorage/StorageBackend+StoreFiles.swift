import Logging
import OpsLogCodec
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The store-level operations, built once on the byte-level primitives so every backend
/// follows the same format rules (Docs/FORMAT.md).
extension StorageBackend {
  // MARK: Manifest

  /// The manifest, or `nil` when the store has none. A manifest that exists but is not valid
  /// is `OpsLogError.corrupted(path:reason:)`, never a fresh store.
  public func readManifest() async throws -> ManifestInfo? {
    guard let bytes = try await read(ManifestCodec.fileName) else { return nil }
    return try ManifestCodec.decode(bytes)
  }

  /// Replaces the manifest atomically: readers see the old one or the new one, never a mix.
  /// As durable as ``StorageBackend/replace(_:chunks:)``: once this returns, a crash or a
  /// power loss leaves the new manifest.
  public func writeManifest(_ manifest: ManifestInfo) async throws {
    try await replace(ManifestCodec.fileName, bytes: ManifestCodec.encode(manifest))
  }

  /// Changes whenever the manifest is replaced: a cheap way for a reader to notice a checkpoint.
  public func manifestChangeToken() async throws -> FileChangeToken? {
    try await changeToken(of: ManifestCodec.fileName)
  }

  /// Whether the location holds store data without a manifest to name it: a snapshot with
  /// at least one record, or a WAL with at least one byte (a store whose manifest is missing
  /// must not be mistaken for an empty location).
  ///
  /// What a first open killed part way leaves (a snapshot's temporary file, a snapshot that
  /// holds only its header, an empty WAL) holds no data: such a location opens as a fresh store.
  public func containsStoreFiles() async throws -> Bool {
    for name in try await list("snapshots") where name.hasPrefix("snap-") && !name.hasSuffix(".tmp") {
      var chunks = SnapshotChunks(path: "snapshots/" + name, chunkSize: 1 << 16)
      do {
        while let records = try await chunks.next(from: self) {
          if !records.isEmpty { return true }
        }
      } catch {
        // A damaged snapshot may hold data: it is never treated as nothing.
        return true
      }
    }
    for path in try await listWALFiles() {
      if let size = try await size(of: path), size > 0 { return true }
    }
    return false
  }

  // MARK: Snapshots

  /// Streams a snapshot file, plain or gzip (detected by its magic bytes), JSONL or legacy
  /// JSON, reading `chunkSize` bytes at a time; never the whole file at once.
  ///
  /// - Returns: the snapshot's header.
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the file is missing or damaged.
  ///
  /// - Parameters:
  ///   - path: the snapshot's path, relative to the location.
  ///   - chunkSize: how many bytes each read asks for.
  ///   - validatingRecordData: `false` when `onRecord` decodes each record strictly itself, so
  ///     that its bytes are parsed once (see `SnapshotReader.validatesRecordData` in
  ///     OpsLogCodec).
  ///   - onRecord: called with each record, in file order.
  public func loadSnapshot(
    _ path: String, chunkSize: Int = 1 << 22, validatingRecordData: Bool = true,
    _ onRecord: (SnapshotRecord) throws -> Void
  ) async throws -> SnapshotHeader {
    var chunks = SnapshotChunks(path: path, chunkSize: chunkSize, validatingRecordData: validatingRecordData)
    while let records = try await chunks.next(from: self) {
      for record in records { try onRecord(record) }
    }
    guard let header = chunks.header else {
      throw OpsLogError.corrupted(path: path, reason: "the snapshot has no header")
    }
    return header
  }

  /// Writes a snapshot atomically from plain JSONL chunks (header line first), compressing
  /// them into one gzip member when asked. `nextPlainChunk` runs on the backend's I/O thread.
  ///
  /// As durable as ``StorageBackend/replace(_:chunks:)``: the bytes go to a temporary file,
  /// which is fsynced and renamed over `path`, and the directory is fsynced; a crash leaves
  /// the old file or the new one, and an error leaves the old one.
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` for a gzip level outside 0...9, before
  ///   anything is written.
  public func writeSnapshot(
    _ path: String, compression: SnapshotCompression,
    chunks nextPlainChunk: sending @escaping () throws -> [UInt8]?
  ) async throws {
    switch compression {
    case .none:
      try await replace(path, chunks: nextPlainChunk)
    case .gzip(let level):
      let compressor = try GzipCompressor(level: level)
      var finished = false
      try await replace(path) {
        while !finished {
          if let plain = try nextPlainChunk() {
            let compressed = try compressor.compress(plain)
            if !compressed.isEmpty { return compressed }
          } else {
            finished = true
            return try compressor.finish()
          }
        }
        return nil
      }
    }
  }

  // MARK: WAL

  /// Reads the complete lines of a WAL from `offset` on.
  ///
  /// Lines that are not valid operations are skipped, counted and logged: that is how a line
  /// torn by a crash is survived. A last line without its newline is not consumed, so a reader
  /// following a writer reads it again once it is complete.
  ///
  /// - Parameters:
  ///   - path: the WAL's path, relative to the location.
  ///   - offset: where to start reading: 0, or the end of a line read before.
  ///   - maximumBytes: read at most this many bytes (`nil`: to the end), for callers that
  ///     stream a large WAL window by window; a line longer than the window is not consumed,
  ///     so such a caller widens the window when nothing was.
  ///   - logger: where skipped lines are reported (`nil`: the label `OpsLog.Storage`).
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the WAL does not exist: it is the
  ///   one the manifest names, so a missing one is damage, not an empty log. Reading at or
  ///   past the end gives no lines.
  public func readWAL(
    _ path: String, from offset: Int = 0, maximumBytes: Int? = nil, logger: Logger? = nil
  ) async throws -> WALReadResult {
    let bytes = try await readNamedFile(
      path, offset: offset, length: maximumBytes ?? Int.max, missing: "the WAL the manifest names does not exist")
    let lines = WALScanner.completeLines(bytes)
    // A large WAL (the one replayed on open) is decoded on every core; each line is decoded on
    // its own, and the parts come back in file order.
    var scanned = await ParallelWork.map(lines.count, minimumPartSize: 256) { range in
      WALScanner.decode(lines[range], in: bytes, fileOffset: offset)
    }
    if scanned.isEmpty { scanned = [WALScanner.decode(lines[...], in: bytes, fileOffset: offset)] }
    let endOfCompleteLines = offset + (lines.last.map { $0.upperBound + 1 } ?? 0)
    var result = WALScanner.assemble(
      scanned, startOffset: offset, endOfCompleteLines: endOfCompleteLines, path: path,
      logger: logger ?? storageLogger)
    if let last = result.lines.last {
      let start = last.offset - offset
      result.lastLineBytes = Array(bytes[start..<(start + last.length)])
    }
    result.partialTailLength = offset + bytes.count - result.consumedThrough
    return result
  }

  /// WAL files under `ops/`, as paths relative to the location, sorted.
  public func listWALFiles() async throws -> [String] {
    try await list("ops").filter { $0.hasSuffix(".jsonl") }.map { "ops/" + $0 }
  }

  /// Reads a file the manifest names, which must exist: a missing one is
  /// ``OpsLogError/corrupted(path:reason:)`` with `reason`. Reading straight away, rather than
  /// asking for the size first, saves a call to the backend (and a `stat`) per read; the
  /// backend's ranged read already stops at the end of the file.
  private func readNamedFile(
    _ path: String, offset: Int = 0, length: Int, missing reason: String
  ) async throws -> [UInt8] {
    do {
      return try await read(path, offset: offset, length: length)
    } catch OpsLogError.io(_, ENOENT, _) {
      throw OpsLogError.corrupted(path: path, reason: reason)
    }
  }

  // MARK: Archive

  /// The archive segment at `path`, plain or gzip-compressed (by its magic bytes), or `nil`
  /// when it does not exist.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when it is damaged or truncated.
  public func readArchiveSegment(_ path: String) async throws -> ArchiveSegment? {
    guard let bytes = try await read(path) else { return nil }
    return try ArchiveCodec.decode(bytes, path: path)
  }

  /// Writes `segment` to `path` atomically, merged into the segment already there (of either
  /// kind): records already archived stay, new ones are added, and one with the same ID is
  /// replaced. With `compression` `SnapshotCompression.gzip(level:)` the file is one gzip
  /// member (name it `archive-<period>.json.gz`). As durable as
  /// ``StorageBackend/replace(_:chunks:)``.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the segment already at `path` is
  ///   damaged; it is left as it is, since merging into it would lose what it archived.
  ///   `OpsLogError.invalidArgument(_:)` for a gzip level outside 0...9.
  public func writeArchiveSegment(
    _ segment: ArchiveSegment, to path: String, compression: SnapshotCompression = .none
  ) async throws {
    var merged = segment
    if let existing = try await readArchiveSegment(path) {
      var records = existing.records
      for (id, record) in segment.records { records[id] = record }
      merged.records = records
    }
    switch compression {
    case .none: try await replace(path, bytes: ArchiveCodec.encode(merged))
    case .gzip(let level): try await replace(path, bytes: ArchiveCodec.encodeCompressed(merged, level: level))
    }
  }
}

let storageLogger = Logger(label: "OpsLog.Storage")

/// One valid operation read from a WAL.
public struct WALLine: Sendable {
  /// The operation with `data` and a full `prev` still as the line's JSON bytes, to be
  /// decoded straight into a record type.
  public var encoded: LogOperation<JSONBytes>
  /// Byte offset of the line in the file.
  public var offset: Int
  /// Bytes of the line, newline included.
  public var length: Int
  /// A hash of the line's bytes, to recognise a line seen before in the same process.
  public var hash: Int
  /// How many operations the unit this line starts holds: 1 for a plain line, N for the
  /// first line of a batch of N, 0 for the later lines of a batch. A unit is written, read,
  /// and undone whole (Docs/FORMAT.md, "Batches").
  public var unitSize: Int = 1

  /// The operation with its records parsed into `JSONValue` trees; parsed again on every
  /// access, so a caller that needs only some fields reads ``encoded``.
  public var operation: LogOperation<JSONValue> { encoded.mapRecords(\.value) }
}

/// Splits a WAL read into lines, decodes them, and groups them into units: the one place
/// where WAL lines are decoded and Docs/FORMAT.md's batch rule is applied.
enum WALScanner {
  /// What one share of the lines decoded to.
  struct Part: Sendable {
    /// The valid operations, in file order; a batch's first line holds its size in
    /// `unitSize` until ``assemble(_:startOffset:endOfCompleteLines:path:logger:)`` checks it.
    var lines: [WALLine] = []
    /// File offset and error of each line that is not a valid operation, in file order.
    var malformed: [(offset: Int, error: any Error)] = []
    /// File offsets of lines of white space only: they carry nothing and are not damage.
    var blanks: [Int] = []
    /// Whether any line carries a `batch` count.
    var hasBatch = false
  }

  /// The byte ranges of the complete lines in `bytes`, newline excluded, in order. A last line
  /// without its newline is not complete: a writer may still be appending it.
  static func completeLines(_ bytes: [UInt8]) -> [Range<Int>] {
    bytes.withUnsafeBytes { raw -> [Range<Int>] in
      guard let base = raw.baseAddress else { return [] }
      var lines: [Range<Int>] = []
      var start = 0
      while start < raw.count, let found = memchr(base + start, 0x0A, raw.count - start) {
        let newline = base.distance(to: UnsafeRawPointer(found))
        lines.append(start..<newline)
        start = newline + 1
      }
      return lines
    }
  }

  /// Decodes `lines` of `bytes`, which was read from `fileOffset` on.
  static func decode(_ lines: ArraySlice<Range<Int>>, in bytes: [UInt8], fileOffset: Int) -> Part {
    var part = Part()
    part.lines.reserveCapacity(lines.count)
    for range in lines {
      let line = bytes[range]
      let lineOffset = fileOffset + range.lowerBound
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
        part.blanks.append(lineOffset)
        continue
      }
      do {
        let decoded = try OperationLine.decodeEncodedLine(line)
        var hasher = Hasher()
        line.withUnsafeBytes { hasher.combine(bytes: $0) }
        var walLine = WALLine(
          encoded: decoded.operation, offset: lineOffset, length: range.count + 1, hash: hasher.finalize())
        if let batch = decoded.batch {
          walLine.unitSize = batch
          part.hasBatch = true
        }
        part.lines.append(walLine)
      } catch {
        part.malformed.append((lineOffset, error))
      }
    }
    return part
  }

  /// Applies Docs/FORMAT.md's batch rule to the decoded lines, in file order:
  /// - a plain valid line is an operation of its own;
  /// - a line carrying `"batch": N` starts a unit of itself and the next N - 1 complete
  ///   lines, applied only when all of them are valid operations that start no unit of their
  ///   own; a damaged unit is skipped whole, with a warning;
  /// - a unit that the read ends inside (a batch torn by a crash, or still being written) is
  ///   not consumed: the read stops before its first line, so that a follower reads it again
  ///   once it is complete and a writable open cuts it off as it cuts a torn line.
  /// A WAL without batches costs nothing beyond joining the parts.
  static func assemble(
    _ parts: [Part], startOffset: Int, endOfCompleteLines: Int, path: String, logger: Logger
  ) -> WALReadResult {
    var result = WALReadResult(startOffset: startOffset, consumedThrough: endOfCompleteLines)
    if parts.count == 1 {
      result.lines = parts[0].lines
    } else {
      result.lines.reserveCapacity(parts.reduce(0) { $0 + $1.lines.count })
      for part in parts { result.lines.append(contentsOf: part.lines) }
    }
    for part in parts {
      for (offset, error) in part.malformed {
        result.malformedLines += 1
        logger.warning(
          "skipping a malformed WAL line", metadata: ["path": "\(path)", "offset": "\(offset)", "error": "\(error)"])
      }
    }
    guard parts.contains(where: \.hasBatch) else { return result }
    // Every complete line that is not a valid operation, by offset: each one counts as a
    // line of a batch it falls in, and damages it.
    let irregular = parts.flatMap { $0.malformed.map(\.offset) + $0.blanks }.sorted()
    var lines = result.lines
    result.lines = []
    // Built only once a line has to go; until then `lines` is the result, marked in place.
    var kept: [WALLine]? = nil
    var next = 0
    var irregularIndex = 0
    while next < lines.count {
      let first = lines[next]
      guard first.unitSize >= 2 else {
        kept?.append(first)
        next += 1
        continue
      }
      let size = first.unitSize
      while irregularIndex < irregular.count && irregular[irregularIndex] < first.offset { irregularIndex += 1 }
      var count = 1
      var end = next + 1
      var intact = true
      while count < size {
        if irregularIndex < irregular.count && (end >= lines.count || irregular[irregularIndex] < lines[end].offset) {
          intact = false
          irregularIndex += 1
        } else if end < lines.count {
          if lines[end].unitSize >= 2 { intact = false }
          end += 1
        } else {
          break
        }
        count += 1
      }
      if count < size {
        // The read ends inside this batch: nothing of it counts yet.
        result.lines = kept ?? Array(lines[..<next])
        result.consumedThrough = first.offset
        result.incompleteBatch = true
        return result
      }
      if intact {
        for member in (next + 1)..<end { lines[member].unitSize = 0 }
        kept?.append(contentsOf: lines[next..<end])
      } else {
        if kept == nil { kept = Array(lines[..<next]) }
        result.malformedLines += size
        logger.warning(
          "skipping a damaged batch: one of its lines is not a valid operation",
          metadata: ["path": "\(path)", "offset": "\(first.offset)", "operations": "\(size)"])
      }
      next = end
    }
    result.lines = kept ?? lines
    return result
  }
}

/// What ``StorageBackend/readWAL(_:from:maximumBytes:logger:)`` found.
public struct WALReadResult: Sendable {
  /// The valid operations of the complete lines read, in file order; blank lines and the
  /// skipped malformed ones are not among them.
  public var lines: [WALLine] = []
  /// Lines skipped because they were not valid operations.
  public var malformedLines = 0
  /// The offset the read started from, as the caller gave it.
  public var startOffset: Int
  /// The offset just past the last complete unit (a line, or a batch with all its lines):
  /// where the next read starts.
  public var consumedThrough: Int
  /// Bytes after ``consumedThrough``: a line still being written or torn by a crash, and a
  /// batch whose lines are not all there yet (``incompleteBatch``).
  public var partialTailLength = 0
  /// Whether the read ended inside a batch: its lines, from ``consumedThrough`` on, are not
  /// among ``lines`` (Docs/FORMAT.md, "Batches").
  public var incompleteBatch = false
  /// The bytes of the last of `lines`, newline included, as they were read; empty when
  /// `lines` is. A follower compares them with the file later to notice that the writer cut
  /// lines it had read, without reading the line a second time now.
  public var lastLineBytes: [UInt8] = []
}
