import OpsLogCodec
import OpsLogStorage
import OpsLogTypes
import Synchronization

/// Pulls snapshot records chunk by chunk for ``Store/streamSnapshot()``.
final class SnapshotCursor<Record: Codable & Sendable>: Sendable {
  struct State {
    var path: String? = nil
    var reader: SnapshotReader? = nil
    var offset = 0
    var buffered: [(id: String, record: Record)] = []
    var position = 0
    var finished = false
  }
  let store: Store<Record>
  let state = Mutex(State())
  static var chunkSize: Int { 1 << 20 }

  init(store: Store<Record>) { self.store = store }

  func next() async throws -> (id: String, record: Record)? {
    while true {
      let (element, done, start) = try state.withLock {
        state -> ((id: String, record: Record)?, Bool, (String, Int)?) in
        if state.position < state.buffered.count {
          defer { state.position += 1 }
          return (state.buffered[state.position], false, nil)
        }
        if state.finished { return (nil, true, nil) }
        if state.path == nil {
          let path = try store.read { $0.manifest.currentSnapshot }
          state.path = path
          var reader = SnapshotReader(path: path)
          reader.validatesRecordData = false  // the strict decoder below validates each record
          state.reader = reader
        }
        return (nil, false, (state.path!, state.offset))
      }
      if let element { return element }
      if done { return nil }
      guard let (path, offset) = start else { return nil }
      let chunk = try await store.backend.read(path, offset: offset, length: Self.chunkSize)
      let decoder = store.decoder
      try state.withLock { state in
        var records: [(id: String, record: Record)] = []
        var reader = state.reader!
        // Damage and type mismatches are reported as on open: `corrupted`, naming the record.
        let onRecord: (SnapshotRecord) throws -> Void = { record in
          let decoded = try Store<Record>.decodeStored(Record.self, id: record.id, path: path) {
            try decoder.decode(Record.self, from: record.data)
          }
          records.append((record.id, decoded))
        }
        if chunk.isEmpty {
          _ = try reader.finish(onRecord)
          state.finished = true
        } else {
          try reader.consume(chunk, onRecord)
          state.offset += chunk.count
        }
        state.reader = reader
        state.buffered = records
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
