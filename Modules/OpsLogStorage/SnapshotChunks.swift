import OpsLogCodec
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The one way a snapshot file is read: a chunk at a time, plain or gzip (detected by its
/// magic bytes), JSONL or legacy JSON, never the whole file at once. Open, every reload,
/// ``StorageBackend/loadSnapshot(_:chunkSize:validatingRecordData:_:)`` and the store's
/// `streamSnapshot()` all read through it, so they accept and reject the same files.
///
/// The steps are split so that a caller holding a lock between them can do the read itself:
/// `nextRead` says what to read, ``consume(_:)`` takes the bytes; ``next(from:)`` does both.
public struct SnapshotChunks {
  /// The snapshot's path, relative to the location.
  public let path: String
  /// Bytes read at a time.
  public let chunkSize: Int
  var reader: SnapshotReader
  var offset = 0
  /// Whether the whole file was read and its records handed out.
  public private(set) var isFinished = false

  /// Reads nothing yet.
  ///
  /// - Parameters:
  ///   - path: the snapshot's path, relative to the location.
  ///   - chunkSize: how many bytes each read asks for.
  ///   - validatingRecordData: `false` when the caller decodes each record strictly itself, so
  ///     that its bytes are parsed once (`SnapshotReader.validatesRecordData`).
  public init(path: String, chunkSize: Int = 1 << 20, validatingRecordData: Bool = true) {
    self.path = path
    self.chunkSize = chunkSize
    reader = SnapshotReader(path: path)
    reader.validatesRecordData = validatingRecordData
  }

  /// The snapshot's header, once the chunk holding it was consumed.
  public var header: SnapshotHeader? { reader.header }

  /// Where the next chunk starts; `nil` once finished.
  public var nextOffset: Int? { isFinished ? nil : offset }

  /// Takes the chunk read at ``nextOffset`` and returns the records it completes, in file
  /// order. A chunk shorter than ``chunkSize`` is the file's last.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` for damage.
  public mutating func consume(_ chunk: [UInt8]) throws -> [SnapshotRecord] {
    var records: [SnapshotRecord] = []
    if !chunk.isEmpty {
      try reader.consume(chunk) { records.append($0) }
      offset += chunk.count
    }
    if chunk.count < chunkSize {
      _ = try reader.finish { records.append($0) }
      isFinished = true
    }
    return records
  }

  /// Reads and consumes the next chunk; `nil` once finished.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the file is missing or damaged,
  ///   the read's `OpsLogError.io(path:errno:reason:)`.
  public mutating func next(from backend: any StorageBackend) async throws -> [SnapshotRecord]? {
    guard let offset = nextOffset else { return nil }
    let chunk: [UInt8]
    do {
      chunk = try await backend.read(path, offset: offset, length: chunkSize)
    } catch OpsLogError.io(_, ENOENT, _) where offset == 0 {
      throw OpsLogError.corrupted(path: path, reason: "the snapshot the manifest names does not exist")
    }
    return try consume(chunk)
  }
}
