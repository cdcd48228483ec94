import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

/// Pulls snapshot records chunk by chunk for ``Store/streamSnapshot()``.
final class SnapshotCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var chunks: SnapshotChunks? = nil
    var buffered: [(id: String, record: Record)] = []
    var position = 0
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
          return (state.buffered[state.position], nil)
        }
        if state.chunks == nil {
          // The strict decoder below validates each record.
          state.chunks = SnapshotChunks(
            path: try store.read { $0.manifest.currentSnapshot }, chunkSize: Self.chunkSize, validatingRecordData: false
          )
        }
        guard let chunks = state.chunks, let offset = chunks.nextOffset else { return (nil, nil) }
        return (nil, (chunks.path, offset))
      }
      if let element { return element }
      guard let (path, offset) = read else { return nil }
      let chunk = try await store.backend.read(path, offset: offset, length: Self.chunkSize)
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
}

/// Pulls WAL operations for ``Store/walOperations(since:)``.
final class WALCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var path: String? = nil
    var offset = 0
    var buffered: [LogOperation<Record>] = []
    var position = 0
    var finished = false
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
      let (element, done, start) = try state.withLock { state -> (LogOperation<Record>?, Bool, (String, Int)?) in
        if state.position < state.buffered.count {
          defer { state.position += 1 }
          return (state.buffered[state.position], false, nil)
        }
        if state.finished { return (nil, true, nil) }
        if state.path == nil { state.path = try store.read { $0.walPath } }
        return (nil, false, (state.path!, state.offset))
      }
      if let element { return element }
      if done { return nil }
      guard let (path, offset) = start else { return nil }
      // A bounded window at a time: readWAL stops at the last complete line in it, and a
      // window that holds no complete line is widened until it does (or the file ends).
      var window = Self.windowSize
      var wal = try await store.backend.readWAL(path, from: offset, maximumBytes: window, logger: store.logger)
      while wal.consumedThrough == offset && wal.partialTailLength == window {
        window *= 2
        wal = try await store.backend.readWAL(path, from: offset, maximumBytes: window, logger: store.logger)
      }
      let operations = try wal.lines.compactMap { line -> LogOperation<Record>? in
        if let since, line.encoded.timestamp <= since { return nil }
        return try Store<Record>.decodeOperation(line.encoded, path: path, decoder: store.decoder)
      }
      let reachedEnd = wal.consumedThrough == offset
      state.withLock { state in
        state.buffered = operations
        state.position = 0
        state.offset = wal.consumedThrough
        state.finished = reachedEnd
      }
    }
  }
}
