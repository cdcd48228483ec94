import Logging
import OpsLogCodec
import OpsLogTypes

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
  public func writeManifest(_ manifest: ManifestInfo) async throws {
    var bytes: [UInt8]? = ManifestCodec.encode(manifest)
    try await replace(ManifestCodec.fileName) {
      defer { bytes = nil }
      return bytes
    }
  }

  /// Changes whenever the manifest is replaced: a cheap way for a reader to notice a checkpoint.
  public func manifestChangeToken() async throws -> FileChangeToken? {
    try await changeToken(of: ManifestCodec.fileName)
  }

  /// Whether the location holds snapshots or WAL files (a store whose manifest is missing
  /// must not be mistaken for an empty location).
  public func containsStoreFiles() async throws -> Bool {
    let snapshots = try await list("snapshots").filter { $0.hasPrefix("snap-") }
    let wals = try await list("ops").filter { $0.hasSuffix(".jsonl") }
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
  ///   itself, so that its bytes are parsed once (see ``SnapshotReader/validatesRecordData``).
  public func loadSnapshot(
    _ path: String, chunkSize: Int = 1 << 22, validatingRecordData: Bool = true,
    _ onRecord: (SnapshotRecord) throws -> Void
  ) async throws -> SnapshotHeader {
    guard try await size(of: path) != nil else {
      throw OpsLogError.corrupted(path: path, reason: "the snapshot the manifest names does not exist")
    }
    var reader = SnapshotReader(path: path)
    reader.validatesRecordData = validatingRecordData
    var offset = 0
    while true {
      let chunk = try await read(path, offset: offset, length: chunkSize)
      if chunk.isEmpty { break }
      offset += chunk.count
      try reader.consume(chunk, onRecord)
      if chunk.count < chunkSize { break }
    }
    return try reader.finish(onRecord)
  }

  /// Writes a snapshot atomically from plain JSONL chunks (header line first), compressing
  /// them into one gzip member when asked. `nextPlainChunk` runs on the backend's I/O thread.
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
  public func readWAL(
    _ path: String, from offset: Int = 0, maximumBytes: Int? = nil, logger: Logger? = nil
  ) async throws -> WALReadResult {
    guard let total = try await size(of: path) else {
      throw OpsLogError.corrupted(path: path, reason: "the WAL the manifest names does not exist")
    }
    guard total > offset else { return WALReadResult(startOffset: offset, consumedThrough: offset) }
    let length = min(total - offset, maximumBytes ?? Int.max)
    let bytes = try await read(path, offset: offset, length: length)
    var result = WALReadResult(startOffset: offset, consumedThrough: offset)
    var lineStart = 0
    var lineNumber = 0
    while let newline = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
      lineNumber += 1
      let line = bytes[lineStart..<newline]
      let length = newline + 1 - lineStart
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
        // A blank line carries nothing; it is neither an operation nor damage.
      } else {
        do {
          let operation = try OperationLine.decode(line)
          result.lines.append(
            WALLine(operation: operation, offset: offset + lineStart, length: length, hash: line.hashValue))
        } catch {
          result.malformedLines += 1
          (logger ?? storageLogger).warning(
            "skipping a malformed WAL line",
            metadata: ["path": "\(path)", "offset": "\(offset + lineStart)", "error": "\(error)"])
        }
      }
      lineStart = newline + 1
    }
    result.consumedThrough = offset + lineStart
    result.partialTailLength = bytes.count - lineStart
    return result
  }

  /// WAL files under `ops/`, as paths relative to the location, sorted.
  public func listWALFiles() async throws -> [String] {
    try await list("ops").filter { $0.hasSuffix(".jsonl") }.map { "ops/" + $0 }
  }

  // MARK: Archive

  /// Paths of the archive segment files under `archive/`, sorted.
  public func listArchiveSegmentFiles() async throws -> [String] {
    try await list("archive").filter { $0.hasSuffix(".json") }.map { "archive/" + $0 }
  }

  /// The archive segment at `path`, or `nil` when it does not exist.
  public func readArchiveSegment(_ path: String) async throws -> ArchiveSegment? {
    guard let bytes = try await read(path) else { return nil }
    return try ArchiveCodec.decode(bytes, path: path)
  }

  /// Writes `segment` to `path` atomically, merged into the segment already there: records
  /// already archived stay, new ones are added, and one with the same ID is replaced.
  public func writeArchiveSegment(_ segment: ArchiveSegment, to path: String) async throws {
    var merged = segment
    if let existing = try await readArchiveSegment(path) {
      var records = existing.records
      for (id, record) in segment.records { records[id] = record }
      merged.records = records
    }
    var bytes: [UInt8]? = ArchiveCodec.encode(merged)
    try await replace(path) {
      defer { bytes = nil }
      return bytes
    }
  }
}

let storageLogger = Logger(label: "OpsLog.Storage")

/// One valid operation read from a WAL.
public struct WALLine: Sendable {
  public var operation: LogOperation<JSONValue>
  /// Byte offset of the line in the file.
  public var offset: Int
  /// Bytes of the line, newline included.
  public var length: Int
  /// A hash of the line's bytes, to recognise a line seen before.
  public var hash: Int
}

/// What ``StorageBackend/readWAL(_:from:logger:)`` found.
public struct WALReadResult: Sendable {
  public var lines: [WALLine] = []
  /// Lines skipped because they were not valid operations.
  public var malformedLines = 0
  public var startOffset: Int
  /// The offset just past the last complete line: where the next read starts.
  public var consumedThrough: Int
  /// Bytes after the last newline: a line still being written, or torn by a crash.
  public var partialTailLength = 0
}
