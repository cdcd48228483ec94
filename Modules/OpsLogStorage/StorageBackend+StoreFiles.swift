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
/// follows the same format rules (FORMAT.md).
extension StorageBackend {
  // MARK: Manifest

  /// The manifest, or `nil` when the store has none. A manifest that exists but is not valid
  /// is ``OpsLogError/corrupted(path:reason:)``, never a fresh store.
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

  /// Whether the location holds snapshots or WAL files (a store whose manifest is missing
  /// must not be mistaken for an empty location).
  public func containsStoreFiles() async throws -> Bool {
    let snapshots = try await list("snapshots").filter { $0.hasPrefix("snap-") }
    let wals = try await listWALFiles()
    return !snapshots.isEmpty || !wals.isEmpty
  }

  // MARK: Snapshots

  /// Streams a snapshot file, plain or gzip (detected by its magic bytes), JSONL or legacy
  /// JSON, reading `chunkSize` bytes at a time; never the whole file at once.
  ///
  /// - Returns: the snapshot's header.
  /// - Throws: ``OpsLogError/corrupted(path:reason:)`` when the file is missing or damaged.
  ///
  /// - Parameter validatingRecordData: `false` when `onRecord` decodes each record strictly
  ///   itself, so that its bytes are parsed once (see `SnapshotReader.validatesRecordData` in
  ///   OpsLogCodec).
  public func loadSnapshot(
    _ path: String, chunkSize: Int = 1 << 22, validatingRecordData: Bool = true,
    _ onRecord: (SnapshotRecord) throws -> Void
  ) async throws -> SnapshotHeader {
    var reader = SnapshotReader(path: path)
    reader.validatesRecordData = validatingRecordData
    var offset = 0
    while true {
      let chunk =
        offset == 0
        ? try await readNamedFile(path, length: chunkSize, missing: "the snapshot the manifest names does not exist")
        : try await read(path, offset: offset, length: chunkSize)
      if chunk.isEmpty { break }
      offset += chunk.count
      try reader.consume(chunk, onRecord)
      if chunk.count < chunkSize { break }
    }
    return try reader.finish(onRecord)
  }

  /// Writes a snapshot atomically from plain JSONL chunks (header line first), compressing
  /// them into one gzip member when asked. `nextPlainChunk` runs on the backend's I/O thread.
  ///
  /// As durable as ``StorageBackend/replace(_:chunks:)``: the bytes go to a temporary file,
  /// which is fsynced and renamed over `path`, and the directory is fsynced; a crash leaves
  /// the old file or the new one, and an error leaves the old one.
  ///
  /// - Throws: ``OpsLogError/invalidArgument(_:)`` for a gzip level outside 0...9, before
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
  /// - Parameter maximumBytes: read at most this many bytes (`nil`: to the end), for callers
  ///   that stream a large WAL window by window; a line longer than the window is not
  ///   consumed, so such a caller widens the window when nothing was.
  /// - Throws: ``OpsLogError/corrupted(path:reason:)`` when the WAL does not exist: it is the
  ///   one the manifest names, so a missing one is damage, not an empty log. Reading at or
  ///   past the end gives no lines.
  public func readWAL(
    _ path: String, from offset: Int = 0, maximumBytes: Int? = nil, logger: Logger? = nil
  ) async throws -> WALReadResult {
    let bytes = try await readNamedFile(
      path, offset: offset, length: maximumBytes ?? Int.max, missing: "the WAL the manifest names does not exist")
    var result = WALReadResult(startOffset: offset, consumedThrough: offset)
    let lines = WALScanner.completeLines(bytes)
    // A large WAL (the one replayed on open) is decoded on both cores; each line is decoded on
    // its own, and the halves are put back in file order.
    let parts = lines.count >= 512 ? 2 : 1
    let scanned: [WALScanner.Part]
    if parts == 1 {
      scanned = [WALScanner.decode(lines[...], in: bytes, fileOffset: offset)]
    } else {
      scanned = await withTaskGroup(of: (Int, WALScanner.Part).self) { group in
        for part in 0..<parts {
          let range = (lines.count * part / parts)..<(lines.count * (part + 1) / parts)
          group.addTask(executorPreference: globalConcurrentExecutor) {
            (part, WALScanner.decode(lines[range], in: bytes, fileOffset: offset))
          }
        }
        var halves = [WALScanner.Part](repeating: WALScanner.Part(), count: parts)
        for await (part, decoded) in group { halves[part] = decoded }
        return halves
      }
    }
    result.lines.reserveCapacity(scanned.reduce(0) { $0 + $1.lines.count })
    for part in scanned {
      result.lines.append(contentsOf: part.lines)
      for (lineOffset, error) in part.malformed {
        result.malformedLines += 1
        (logger ?? storageLogger).warning(
          "skipping a malformed WAL line",
          metadata: ["path": "\(path)", "offset": "\(lineOffset)", "error": "\(error)"])
      }
    }
    if let last = result.lines.last {
      let start = last.offset - offset
      result.lastLineBytes = Array(bytes[start..<(start + last.length)])
    }
    let consumed = lines.last.map { $0.upperBound + 1 } ?? 0
    result.consumedThrough = offset + consumed
    result.partialTailLength = bytes.count - consumed
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

  /// The archive segment at `path`, or `nil` when it does not exist.
  public func readArchiveSegment(_ path: String) async throws -> ArchiveSegment? {
    guard let bytes = try await read(path) else { return nil }
    return try ArchiveCodec.decode(bytes, path: path)
  }

  /// Writes `segment` to `path` atomically, merged into the segment already there: records
  /// already archived stay, new ones are added, and one with the same ID is replaced. As
  /// durable as ``StorageBackend/replace(_:chunks:)``.
  ///
  /// - Throws: ``OpsLogError/corrupted(path:reason:)`` when the segment already at `path` is
  ///   damaged; it is left as it is, since merging into it would lose what it archived.
  public func writeArchiveSegment(_ segment: ArchiveSegment, to path: String) async throws {
    var merged = segment
    if let existing = try await readArchiveSegment(path) {
      var records = existing.records
      for (id, record) in segment.records { records[id] = record }
      merged.records = records
    }
    try await replace(path, bytes: ArchiveCodec.encode(merged))
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

  /// The operation with its records parsed into ``JSONValue`` trees; parsed again on every
  /// access, so a caller that needs only some fields reads ``encoded``.
  public var operation: LogOperation<JSONValue> { encoded.mapRecords(\.value) }
}

/// Splits a WAL read into lines and decodes them.
enum WALScanner {
  /// What one share of the lines decoded to.
  struct Part: Sendable {
    var lines: [WALLine] = []
    /// File offset and error of each line that is not a valid operation, in file order.
    var malformed: [(offset: Int, error: any Error)] = []
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

  /// Decodes `lines` of `bytes`, which was read from `fileOffset` on. Blank lines carry
  /// nothing and are neither operations nor damage.
  static func decode(_ lines: ArraySlice<Range<Int>>, in bytes: [UInt8], fileOffset: Int) -> Part {
    var part = Part()
    part.lines.reserveCapacity(lines.count)
    for range in lines {
      let line = bytes[range]
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
      do {
        let operation = try OperationLine.decodeEncoded(line)
        var hasher = Hasher()
        line.withUnsafeBytes { hasher.combine(bytes: $0) }
        part.lines.append(
          WALLine(
            encoded: operation, offset: fileOffset + range.lowerBound, length: range.count + 1,
            hash: hasher.finalize()))
      } catch {
        part.malformed.append((fileOffset + range.lowerBound, error))
      }
    }
    return part
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
  /// The offset just past the last complete line: where the next read starts.
  public var consumedThrough: Int
  /// Bytes after the last newline: a line still being written, or torn by a crash.
  public var partialTailLength = 0
  /// The bytes of the last of `lines`, newline included, as they were read; empty when
  /// `lines` is. A follower compares them with the file later to notice that the writer cut
  /// lines it had read, without reading the line a second time now.
  public var lastLineBytes: [UInt8] = []
}
