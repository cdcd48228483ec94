import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// How often a stream moves on to a newer file before it has delivered anything; past that
/// it reports the missing file (each move means a checkpoint finished meanwhile).
private let maximumReplacements = 10

extension Store {
  /// The file the store names now in place of `path`, which is gone; `nil` when it still names
  /// `path` (the file is then missing, not replaced). `own` reads the store's view, which its
  /// own checkpoint moves on; `named` the manifest on disk, which, for a follower, its writer's
  /// checkpoint moves on.
  fileprivate func replacement(
    of path: String, own: (borrowing StoreState<Record>) -> String, named: (ManifestInfo) -> String
  ) async throws -> String? {
    let current = try read(own)
    if current != path { return current }
    guard let manifest = try await backend.readManifest(), named(manifest) != path else { return nil }
    return named(manifest)
  }
}

/// Pulls snapshot records chunk by chunk for ``Store/streamSnapshot()``.
final class SnapshotCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var chunks: SnapshotChunks? = nil
    var buffered: [(id: String, record: Record)] = []
    var position = 0
    var delivered = false
    var replacements = 0
  }
  let store: Store<Record>
  let state = Mutex(State())

  static var chunkSize: Int { 1 << 20 }

  init(store: Store<Record>) { self.store = store }

  func next() async throws -> (id: String, record: Record)? {
    while true {
      let (element, read) = try state.withLock { state -> ((id: String, record: Record)?, (String, Int)?) in
        if state.position < state.buffered.count {
          defer { state.position += 1 }
          state.delivered = true
          return (state.buffered[state.position], nil)
        }
        if state.chunks == nil { state.chunks = Self.chunks(of: try store.read { $0.manifest.currentSnapshot }) }
        guard let chunks = state.chunks, let offset = chunks.nextOffset else { return (nil, nil) }
        return (nil, (chunks.path, offset))
      }
      if let element { return element }
      guard let (path, offset) = read else { return nil }
      let chunk: [UInt8]
      do {
        chunk = try await store.backend.read(path, offset: offset, length: Self.chunkSize)
      } catch let error as OpsLogError where error.isMissingFile {
        try await moveOn(from: path, missing: error)
        continue
      }
      let decoder = store.decoder
      try state.withLock { state in
        // Damage is reported as on open (`corrupted`), a type mismatch as `recordTypeMismatch`.
        let records = try state.chunks!.consume(chunk)
        state.buffered = try records.map { record in
          (
            record.id,
            try Store<Record>.decodeStored(Record.self, id: record.id, path: path) {
              try decoder.decode(Record.self, from: record.data)
            }
          )
        }
        state.position = 0
      }
    }
  }

  // The strict decoder of `next()` validates each record.
  private static func chunks(of path: String) -> SnapshotChunks {
    SnapshotChunks(path: path, chunkSize: chunkSize, validatingRecordData: false)
  }

  /// The snapshot being streamed is gone: as ``WALCursor``'s `moveOn(from:missing:)`, a
  /// stream that delivered nothing yet streams the snapshot that replaced it.
  private func moveOn(from path: String, missing: OpsLogError) async throws {
    guard
      let successor = try await store.replacement(
        of: path, own: { $0.manifest.currentSnapshot }, named: \.currentSnapshot)
    else { throw missing }
    let moved = state.withLock { state -> Bool in
      guard !state.delivered, state.replacements < maximumReplacements else { return false }
      state.replacements += 1
      state.chunks = Self.chunks(of: successor)
      return true
    }
    guard moved else {
      throw OpsLogError.io(
        path: path, errno: ENOENT,
        reason:
          "a checkpoint replaced this snapshot while it was streamed, and it was removed (retainedGenerations): stream the snapshot \(successor) instead"
      )
    }
  }
}

/// Pulls WAL operations for ``Store/walOperations(since:)``.
final class WALCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var path: String? = nil
    var offset = 0
    var buffered: [LogOperation<Record>] = []
    var position = 0
    var finished = false
    var started = false
    var delivered = false
    /// Whether the last read reached the end of the file as it was then.
    var readToEnd = false
    var replacements = 0
  }
  enum Step {
    case element(LogOperation<Record>)
    case end
    case start
    case read(path: String, offset: Int)
  }
  let store: Store<Record>
  let since: String?
  let state = Mutex(State())
  static var windowSize: Int { 1 << 20 }

  init(store: Store<Record>, since: String?) {
    self.store = store
    self.since = since
  }

  func next() async throws -> LogOperation<Record>? {
    while true {
      let step = state.withLock { state -> Step in
        if state.position < state.buffered.count {
          defer { state.position += 1 }
          state.delivered = true
          return .element(state.buffered[state.position])
        }
        if state.finished { return .end }
        guard state.started, let path = state.path else { return .start }
        return .read(path: path, offset: state.offset)
      }
      switch step {
      case .element(let operation): return operation
      case .end: return nil
      case .start: try await start()
      case .read(let path, let offset): try await read(path, from: offset)
      }
    }
  }

  /// The first step: a log of several writers' WALs is read whole, in replay order (their
  /// lines interleave); a store's own WAL is read a window at a time.
  private func start() async throws {
    if let lines = try await store.strategy.linesToStream(backend: store.backend, logger: store.logger) {
      let operations = try lines.compactMap { path, line -> LogOperation<Record>? in
        if let since, line.encoded.timestamp <= since { return nil }
        return try Store<Record>.decodeOperation(line.encoded, path: path, decoder: store.decoder)
      }
      state.withLock { state in
        state.started = true
        state.buffered = operations
        state.position = 0
        state.finished = true
      }
      return
    }
    let path = try store.read { $0.walPath }
    state.withLock { state in
      state.started = true
      state.path = path
    }
  }

  private func read(_ path: String, from offset: Int) async throws {
    // A bounded window at a time: readWAL stops at the last complete line in it, and a window
    // that holds no complete line is widened until it does (or the file ends).
    var window = Self.windowSize
    var wal: WALReadResult
    do {
      wal = try await store.backend.readWAL(path, from: offset, maximumBytes: window, logger: store.logger)
      while wal.consumedThrough == offset && wal.partialTailLength == window {
        window *= 2
        wal = try await store.backend.readWAL(path, from: offset, maximumBytes: window, logger: store.logger)
      }
    } catch let error as OpsLogError where error.isMissingFile {
      try await moveOn(from: path, missing: error)
      return
    }
    let operations = try wal.lines.compactMap { line -> LogOperation<Record>? in
      if let since, line.encoded.timestamp <= since { return nil }
      return try Store<Record>.decodeOperation(line.encoded, path: path, decoder: store.decoder)
    }
    let reachedEnd = wal.consumedThrough == offset
    let bytesRead = wal.consumedThrough - offset + wal.partialTailLength
    state.withLock { state in
      state.buffered = operations
      state.position = 0
      state.offset = wal.consumedThrough
      state.finished = reachedEnd
      state.readToEnd = bytesRead < window
    }
  }

  /// The WAL being streamed is gone. When a checkpoint replaced it (this store's, or for a
  /// follower its writer's) and kept no copy (``StoreOptions/retainedGenerations``), its
  /// operations are in the newer snapshot: a stream that delivered none yet streams the WAL
  /// that replaced it; one that had read the file to its end ends, since what was appended
  /// after that read is what a stream may miss; one in the middle of the file cannot go on
  /// without a gap, and says so. A WAL missing that nothing replaced is damage, reported as on
  /// open.
  private func moveOn(from path: String, missing: OpsLogError) async throws {
    guard let successor = try await store.replacement(of: path, own: { $0.walPath }, named: \.activeOps) else {
      throw missing
    }
    let moved = state.withLock { state -> Bool in
      if !state.delivered && state.replacements < maximumReplacements {
        state.replacements += 1
        state.path = successor
        state.offset = 0
        state.readToEnd = false
        return true
      }
      guard state.readToEnd else { return false }
      state.finished = true
      return true
    }
    guard moved else {
      throw OpsLogError.io(
        path: path, errno: ENOENT,
        reason:
          "a checkpoint replaced this WAL while it was streamed, and it was removed (retainedGenerations); the operations not streamed yet are in the newer snapshot: stream the snapshot and the WAL again"
      )
    }
  }
}
