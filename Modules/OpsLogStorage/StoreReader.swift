import OpsLogCodec
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a store's files without the engine: which files make up the current state, the
/// manifest, the snapshot's records, and the WAL operations in the order they apply.
///
/// For tools (the `opslog` command, inspectors, exporters) that must read a store written by
/// this project or by opslog for Node without opening it: the reader takes no lock, writes
/// nothing and decodes no record type, so it also reads a store that a writer holds, a store of
/// a newer schema version, or one whose records no type of yours describes.
///
/// It applies the format's reading rules (see the article "The on-disk format"):
/// - snapshots plain or gzip (by their magic bytes), JSONL or the legacy JSON document;
/// - WAL lines that are not valid operations are skipped and reported, among them a last
///   line without its newline (a torn write);
/// - a batch (a first line carrying `"batch": N`) applies only when all N lines are present
///   and valid, otherwise it is skipped whole;
/// - multi-writer agent WALs are merged by (clock, agent id compared by UTF-8 bytes), and the
///   lines after a retired WAL's `.through` offset are part of the state.
///
/// ```swift
/// let reader = try await StoreReader.open("./data")
/// let files = try await reader.files()
/// let contents = try await reader.contents(of: files)
/// for record in contents.records { print(record.id, String(decoding: record.data, as: UTF8.self)) }
/// try await reader.close()
/// ```
///
/// A store being written while it is read may change between two calls; the reader never
/// sees a half-replaced file (manifest and snapshots are replaced atomically), but a WAL may
/// have grown. Files are read whole, except snapshots, which are streamed.
public struct StoreReader: Sendable {
  /// The backend the files are read through, serving the store's location.
  public let backend: any StorageBackend
  /// The location, as given to ``open(_:backend:)``; named in errors.
  public let location: String

  /// A reader on a backend that already serves the store (``StorageBackend/initialize(location:readOnly:)``).
  /// Closing the reader shuts the backend down.
  public init(backend: any StorageBackend, location: String) {
    self.backend = backend
    self.location = location
  }

  /// A reader of the store at `location`, on `backend` (a new ``FsBackend`` when `nil`)
  /// initialized read-only, so that nothing can be written through it.
  ///
  /// - Throws: `OpsLogError.storeNotFound(location:)` when the location holds no manifest
  ///   and no store files; `OpsLogError.invalidArgument(_:)` when it is not a directory.
  public static func open(_ location: String, backend: (any StorageBackend)? = nil) async throws -> StoreReader {
    let backend = backend ?? FsBackend()
    try await backend.initialize(location: location, readOnly: true)
    let reader = StoreReader(backend: backend, location: location)
    do {
      if try await backend.size(of: ManifestCodec.fileName) == nil, !(try await backend.containsStoreFiles()) {
        throw OpsLogError.storeNotFound(location: location)
      }
    } catch {
      try? await backend.shutdown()
      throw error
    }
    return reader
  }

  /// Shuts the backend down. Calling it twice is harmless.
  public func close() async throws {
    try await backend.shutdown()
  }

  // MARK: - Files

  /// The manifest.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when it is missing (the location
  ///   holds store files without one) or invalid, naming the field.
  public func manifest() async throws -> ManifestInfo {
    guard let manifest = try await backend.readManifest() else {
      throw OpsLogError.corrupted(
        path: ManifestCodec.fileName, reason: "it is missing but the location holds snapshots or WAL files")
    }
    return manifest
  }

  /// The files the current state is made of, as the manifest names them, plus the retired
  /// agent WALs whose lines after their `.through` offset still belong to the state.
  ///
  /// Nothing is checked to exist here: `contents(of:)` and the other reads report a file
  /// that is missing.
  public func files(of given: ManifestInfo? = nil) async throws -> StoreFiles {
    let manifest: ManifestInfo
    if let given { manifest = given } else { manifest = try await self.manifest() }
    var wals: [StoreWAL] = []
    let agents = manifest.activeAgentOps ?? []
    if agents.isEmpty {
      wals.append(StoreWAL(path: manifest.activeOps, agent: nil, startOffset: 0, isRetired: false))
    } else {
      // A store written by a single writer before agents joined: its WAL is part of the state.
      if !agents.contains(where: { $0.path == manifest.activeOps }) {
        wals.append(StoreWAL(path: manifest.activeOps, agent: nil, startOffset: 0, isRetired: false))
      }
      for (agent, path) in agents { wals.append(StoreWAL(path: path, agent: agent, startOffset: 0, isRetired: false)) }
    }
    let registered = Set(wals.map(\.path))
    for path in try await backend.listWALFiles() where !registered.contains(path) {
      guard let marker = try await backend.read(path + ".through"), let through = Self.throughOffset(marker),
        let size = try await backend.size(of: path), size > through
      else { continue }
      wals.append(
        StoreWAL(path: path, agent: StoreFileName.agent(ofWAL: path), startOffset: through, isRetired: true))
    }
    return StoreFiles(manifest: manifest, snapshot: manifest.currentSnapshot, wals: wals)
  }

  /// The offset a `.through` marker holds: decimal digits, surrounding white space allowed.
  static func throughOffset(_ marker: [UInt8]) -> Int? {
    let text = String(decoding: marker, as: UTF8.self).trimmingWhitespace()
    guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return Int(text)
  }

  /// Every file under the location, each with its size and what it is to the store: current,
  /// the previous generation (kept for readers that loaded the previous manifest), or garbage.
  ///
  /// The previous generation is the newest snapshot older than the current one, and the WALs
  /// (with their `.through` markers) written between it and the current snapshot; files older
  /// than that, temporary files left by an interrupted replace, and markers whose WAL is gone
  /// are ``StoreFileRole/garbage``. An archive segment the manifest does not list is
  /// ``StoreFileRole/unlistedArchive``, never garbage: an archive interrupted before its
  /// checkpoint leaves one, and a later archive of the same period merges into it.
  public func inventory(of files: StoreFiles) async throws -> [StoredFile] {
    var paths: [String] = []
    for name in try await backend.list("") {
      switch name {
      case "snapshots", "ops", "archive":
        for child in try await backend.list(name) { paths.append(name + "/" + child) }
      default:
        paths.append(name)
      }
    }
    let activeWALs = Set(files.wals.filter { !$0.isRetired }.map(\.path))
    let retiredWALs = Set(files.wals.filter(\.isRetired).map(\.path))
    let listedArchives = Set(files.manifest.archiveSegments)
    let currentSnapshotTime = StoreFileName.milliseconds(of: files.snapshot)
    let snapshotTimes = paths.filter { $0.hasPrefix("snapshots/") && $0 != files.snapshot }
      .filter { !StoreFileName.isTemporary($0) }.compactMap(StoreFileName.milliseconds(of:))
    let previousSnapshotTime = currentSnapshotTime.flatMap { now in snapshotTimes.filter { $0 < now }.max() }

    func walRole(_ path: String) -> StoreFileRole {
      if activeWALs.contains(path) { return .wal }
      if retiredWALs.contains(path) { return .retiredWAL }
      guard let time = StoreFileName.milliseconds(of: path), let previous = previousSnapshotTime else {
        // With no older snapshot, every unnamed WAL older than the current snapshot is what a
        // reader of the previous manifest may use.
        if let time = StoreFileName.milliseconds(of: path), let now = currentSnapshotTime, time < now {
          return .previousGeneration
        }
        return .garbage
      }
      if time >= previous, let now = currentSnapshotTime, time < now { return .previousGeneration }
      return .garbage
    }

    var result: [StoredFile] = []
    var roles: [String: StoreFileRole] = [:]
    for path in paths where !path.hasSuffix(".through") {
      let role: StoreFileRole
      if StoreFileName.isTemporary(path) {
        role = .garbage
      } else if path == ManifestCodec.fileName {
        role = .manifest
      } else if path == ".lock" || path == ".compact-lock" {
        role = .lock
      } else if path == files.snapshot {
        role = .snapshot
      } else if path.hasPrefix("snapshots/") {
        let time = StoreFileName.milliseconds(of: path)
        role = time != nil && time == previousSnapshotTime ? .previousGeneration : .garbage
      } else if path.hasPrefix("ops/") {
        role = walRole(path)
      } else if path.hasPrefix("archive/") {
        role = listedArchives.contains(path) ? .archiveSegment : .unlistedArchive
      } else {
        role = .other
      }
      roles[path] = role
    }
    for path in paths where path.hasSuffix(".through") && !StoreFileName.isTemporary(path) {
      // A marker goes with its WAL: kept while the WAL is, garbage once it is gone.
      let wal = String(path.dropLast(".through".count))
      switch roles[wal] {
      case .wal?, .retiredWAL?, .previousGeneration?: roles[path] = .throughMarker
      default: roles[path] = .garbage
      }
    }
    for path in paths {
      let role = roles[path] ?? .other
      let size = try await backend.size(of: path) ?? 0
      result.append(StoredFile(path: path, size: size, role: role))
    }
    return result
  }

  // MARK: - Snapshot

  /// Streams the records of the snapshot at `path` in file order; `onRecord` gets each
  /// record's ID and JSON bytes exactly as stored (legacy snapshots: re-serialized compactly).
  ///
  /// - Returns: the snapshot's header.
  /// - Throws: `OpsLogError.corrupted(path:reason:)` naming the line for the first problem:
  ///   a snapshot is replaced atomically, so any bad line is damage, and none is skipped.
  public func snapshotRecords(
    _ path: String, progress: ((_ bytesRead: Int) -> Void)? = nil, _ onRecord: (SnapshotRecord) throws -> Void
  ) async throws -> SnapshotHeader {
    var reader = SnapshotReader(path: path)
    var offset = 0
    let chunkSize = 1 << 20
    while true {
      let chunk: [UInt8]
      do {
        chunk = try await backend.read(path, offset: offset, length: chunkSize)
      } catch OpsLogError.io(_, ENOENT, _) {
        throw OpsLogError.corrupted(path: path, reason: "the snapshot does not exist")
      }
      if chunk.isEmpty { break }
      offset += chunk.count
      try reader.consume(chunk, onRecord)
      progress?(offset)
      if chunk.count < chunkSize { break }
    }
    return try reader.finish(onRecord)
  }

  // MARK: - WAL

  /// Reads one WAL file (plain or gzip) from `startOffset` on: its valid operations in file
  /// order, batches checked, and every line that was skipped, with the reason.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the file does not exist or is a
  ///   damaged gzip stream; `OpsLogError.io(path:errno:reason:)` when it cannot be read.
  public func walFile(_ path: String, from startOffset: Int = 0) async throws -> WALFileContents {
    guard var bytes = try await backend.read(path) else {
      throw OpsLogError.corrupted(path: path, reason: "the WAL does not exist")
    }
    if Gzip.hasMagic(bytes) { bytes = try Self.gunzip(bytes, path: path) }
    return WALFileParser.parse(bytes, path: path, from: startOffset)
  }

  /// Every operation of `files`' WALs in the order they apply over the snapshot: a single
  /// writer's in file order; agents' merged by (clock, agent id by UTF-8 bytes), unstamped
  /// lines (a single writer's, before agents joined) first. A missing WAL is reported in
  /// ``WALOperations/missingFiles`` and read as empty, as the agents read it.
  public func operations(of files: StoreFiles) async throws -> WALOperations {
    var result = WALOperations()
    var all: [WALEntry] = []
    for wal in files.wals {
      guard try await backend.size(of: wal.path) != nil else {
        result.missingFiles.append(wal.path)
        continue
      }
      let contents = try await walFile(wal.path, from: wal.startOffset)
      all += contents.entries
      result.problems += contents.problems
    }
    result.entries = files.isMultiWriter ? Self.merge(all) : all
    return result
  }

  /// The lines in merge order: unstamped ones first in the order given, then by clock, then
  /// by agent id's UTF-8 bytes; equal stamps keep the order given.
  public static func merge(_ entries: [WALEntry]) -> [WALEntry] {
    func stamp(_ entry: WALEntry) -> (clock: Int, agent: String)? {
      guard let clock = entry.operation.clock, let agent = entry.operation.agent else { return nil }
      return (clock, agent)
    }
    let keyed = entries.enumerated().map { index, entry in (index, entry) }
    return keyed.sorted { left, right in
      switch (stamp(left.1), stamp(right.1)) {
      case (let a?, let b?):
        if a.clock != b.clock { return a.clock < b.clock }
        if a.agent != b.agent { return a.agent.utf8.lexicographicallyPrecedes(b.agent.utf8) }
        return left.0 < right.0
      case (nil, _?): return true
      case (_?, nil): return false
      case (nil, nil): return left.0 < right.0
      }
    }.map(\.1)
  }

  // MARK: - Archive

  /// The archive segment at `path` (as the manifest's `archiveSegments` lists it), plain
  /// `archive-<period>.json` or gzip-compressed `archive-<period>.json.gz`, recognized by its
  /// magic bytes.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when it does not exist, is damaged, or is
  ///   a truncated gzip stream, the reason naming what is wrong.
  public func archiveSegment(_ path: String) async throws -> ArchiveSegment {
    guard let segment = try await backend.readArchiveSegment(path) else {
      throw OpsLogError.corrupted(path: path, reason: "the archive segment does not exist")
    }
    return segment
  }

  // MARK: - State

  /// The state the files hold: the snapshot's records with the WAL operations applied in
  /// order, in first-insertion order (an update keeps a record's place; a delete then a set
  /// moves it to the end), as a store opened on them would list them.
  ///
  /// - Throws: as ``snapshotRecords(_:progress:_:)`` for the snapshot, and as
  ///   ``operations(of:)`` for the WALs.
  public func contents(of files: StoreFiles, progress: ((_ bytesRead: Int) -> Void)? = nil) async throws
    -> StoreContents
  {
    var state = OrderedRecords()
    var snapshotCount = 0
    let header = try await snapshotRecords(files.snapshot, progress: progress) { record in
      state.set(record.id, Array(record.data))
      snapshotCount += 1
    }
    let operations = try await self.operations(of: files)
    for entry in operations.entries {
      switch entry.operation.kind {
      case .set: state.set(entry.operation.id, Array(entry.operation.data?.bytes ?? []))
      case .delete: state.remove(entry.operation.id)
      }
    }
    return StoreContents(
      snapshotHeader: header, snapshotRecordCount: snapshotCount, operations: operations,
      records: state.ordered())
  }

  // MARK: - Helpers

  static func gunzip(_ bytes: [UInt8], path: String) throws -> [UInt8] {
    try Gzip.decompress(bytes, path: path)
  }
}

/// The files a store's current state is made of (see ``StoreReader/files(of:)``).
public struct StoreFiles: Sendable {
  /// The manifest they were read from.
  public var manifest: ManifestInfo
  /// The current snapshot's path.
  public var snapshot: String
  /// The WALs whose operations apply over the snapshot: the manifest's, then retired agent
  /// WALs with lines after their `.through` offset.
  public var wals: [StoreWAL]

  /// Whether agents write the store (the manifest lists `activeAgentOps`).
  public var isMultiWriter: Bool { !(manifest.activeAgentOps ?? []).isEmpty }

  /// The files with these parts, taken as they are.
  public init(manifest: ManifestInfo, snapshot: String, wals: [StoreWAL]) {
    self.manifest = manifest
    self.snapshot = snapshot
    self.wals = wals
  }
}

/// One WAL of the current state.
public struct StoreWAL: Sendable, Hashable {
  /// Its path, relative to the location.
  public var path: String
  /// The agent the manifest registers on it (or, for a retired WAL, whose name it carries).
  public var agent: String?
  /// Where its operations start: 0, or a retired WAL's `.through` offset.
  public var startOffset: Int
  /// Whether a compaction retired it (the manifest no longer names it).
  public var isRetired: Bool

  /// A WAL with these parts.
  public init(path: String, agent: String?, startOffset: Int, isRetired: Bool) {
    self.path = path
    self.agent = agent
    self.startOffset = startOffset
    self.isRetired = isRetired
  }
}

/// What a file is to its store (see ``StoreReader/inventory(of:)``).
public enum StoreFileRole: String, Sendable, Hashable, CaseIterable {
  case manifest
  /// The current snapshot.
  case snapshot
  /// A WAL the manifest names.
  case wal
  /// A WAL a compaction retired that still holds lines after its `.through` offset.
  case retiredWAL
  /// A `.through` marker of a WAL that is kept.
  case throughMarker
  /// An archive segment the manifest lists.
  case archiveSegment
  /// An archive segment the manifest does not list; kept.
  case unlistedArchive
  /// `.lock` or `.compact-lock`.
  case lock
  /// The snapshot and WALs the previous manifest named: a reader that loaded it may still use them.
  case previousGeneration
  /// Named by no manifest a reader may still hold: safe to remove when no writer runs.
  case garbage
  /// A file the format does not define.
  case other
}

/// A file under a store's location.
public struct StoredFile: Sendable, Hashable {
  /// Its path, relative to the location.
  public var path: String
  /// Its size in bytes.
  public var size: Int
  /// What it is to the store.
  public var role: StoreFileRole

  /// A file with these parts.
  public init(path: String, size: Int, role: StoreFileRole) {
    self.path = path
    self.size = size
    self.role = role
  }
}

/// One operation read from a WAL, with where it was read.
public struct WALEntry: Sendable {
  /// The operation; `data` and a full `prev` are the line's JSON bytes.
  public var operation: LogOperation<JSONBytes>
  /// The file it was read from.
  public var path: String
  /// Its line number in the file, from 1.
  public var line: Int
  /// The byte offset of the line in the file (of the uncompressed text for a gzip file).
  public var offset: Int
  /// The line's bytes, without its newline.
  public var bytes: ArraySlice<UInt8>
  /// For an operation of a batch: its position in the batch, from 0, and the batch's size.
  public var batch: (index: Int, count: Int)?
}

/// A line of a WAL or another file that breaks a rule of the format, and what was done.
public struct FileProblem: Sendable, Hashable, CustomStringConvertible {
  /// The file, relative to the location.
  public var path: String
  /// The line number, from 1; 0 for a problem of the whole file.
  public var line: Int
  /// What is wrong, as a sentence fragment.
  public var reason: String

  /// A problem with these parts.
  public init(path: String, line: Int, reason: String) {
    self.path = path
    self.line = line
    self.reason = reason
  }

  /// `path:line: reason`, as compilers report, so editors can jump to it.
  public var description: String { "\(path):\(line): \(reason)" }
}

/// What ``StoreReader/walFile(_:from:)`` read from one WAL.
public struct WALFileContents: Sendable {
  /// The operations that apply, in file order.
  public var entries: [WALEntry] = []
  /// The lines skipped, with why: not valid operations, batches incomplete or damaged, a
  /// torn last line.
  public var problems: [FileProblem] = []
  /// Complete lines read (blank ones included).
  public var lineCount = 0
  /// Batches read whole and applied.
  public var batchCount = 0
  /// Bytes after the last newline: a torn write, or a line still being written.
  public var partialTailLength = 0
}

/// What ``StoreReader/operations(of:)`` read.
public struct WALOperations: Sendable {
  /// The operations in apply order.
  public var entries: [WALEntry] = []
  /// Lines skipped, in file order within each file.
  public var problems: [FileProblem] = []
  /// WALs the manifest names that do not exist.
  public var missingFiles: [String] = []
}

/// A record of a store's state: its ID and its JSON bytes as stored.
public struct StoreRecord: Sendable, Hashable {
  /// The record's ID.
  public var id: String
  /// The record's JSON, exactly as the snapshot or WAL line holds it.
  public var data: [UInt8]

  /// A record with these parts.
  public init(id: String, data: [UInt8]) {
    self.id = id
    self.data = data
  }
}

/// What ``StoreReader/contents(of:progress:)`` read.
public struct StoreContents: Sendable {
  /// The snapshot's header.
  public var snapshotHeader: SnapshotHeader
  /// How many records the snapshot holds.
  public var snapshotRecordCount: Int
  /// The WAL operations applied over it.
  public var operations: WALOperations
  /// The state, in first-insertion order.
  public var records: [StoreRecord]
}

/// Names of the files in a store's layout.
public enum StoreFileName {
  /// The Unix milliseconds in a file name (`snap-<ms>.jsonl`, `ops-<ms>.jsonl`,
  /// `agent-<id>-<ms>.jsonl`, with any suffix), or `nil` when the name carries none.
  public static func milliseconds(of path: String) -> Int64? {
    let name = path.split(separator: "/").last.map(String.init) ?? path
    guard let dot = name.firstIndex(of: ".") else { return nil }
    let stem = name[..<dot]
    let digits = stem.reversed().prefix { $0.isASCII && $0.isNumber }
    guard !digits.isEmpty, stem.dropLast(digits.count).hasSuffix("-") else { return nil }
    return Int64(String(digits.reversed()))
  }

  /// The agent id in an agent WAL's name, `ops/agent-<id>-<ms>.jsonl`.
  public static func agent(ofWAL path: String) -> String? {
    let name = path.split(separator: "/").last.map(String.init) ?? path
    guard name.hasPrefix("agent-"), name.hasSuffix(".jsonl") else { return nil }
    let stem = name.dropFirst("agent-".count).dropLast(".jsonl".count)
    guard let dash = stem.lastIndex(of: "-"), stem[stem.index(after: dash)...].allSatisfy(\.isNumber) else {
      return nil
    }
    let agent = stem[..<dash]
    return agent.isEmpty ? nil : String(agent)
  }

  /// Whether `path` is a temporary file of an atomic replace (`<name>.tmp`).
  public static func isTemporary(_ path: String) -> Bool { path.hasSuffix(".tmp") }
}

/// Splits a WAL's text into lines and applies the reading rules.
enum WALFileParser {
  /// One complete line: an operation, or why it is not one.
  struct Line {
    var number: Int
    var offset: Int
    var range: Range<Int>
    var parsed: Result<Decoded, OpsLogError>
    /// White space only: nothing on its own, but it damages a batch it falls in, as any line
    /// that is not a valid operation does.
    var isBlank = false
  }

  static func parse(_ bytes: [UInt8], path: String, from startOffset: Int) -> WALFileContents {
    var contents = WALFileContents()
    var lines: [Line] = []
    var start = 0
    var number = 0
    while start < bytes.count {
      guard let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else { break }
      number += 1
      let range = start..<newline
      start = newline + 1
      guard range.lowerBound >= startOffset else { continue }
      let line = bytes[range]
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
        lines.append(
          Line(
            number: number, offset: range.lowerBound, range: range,
            parsed: .failure(.invalidOperation(reason: "a blank line inside the batch")), isBlank: true))
        continue
      }
      lines.append(Line(number: number, offset: range.lowerBound, range: range, parsed: decode(line)))
    }
    contents.lineCount = number
    contents.partialTailLength = bytes.count - start
    let tornLine = contents.partialTailLength > 0 && start >= startOffset ? number + 1 : nil

    var index = 0
    while index < lines.count {
      let line = lines[index]
      if line.isBlank {
        index += 1
        continue
      }
      let operation: LogOperation<JSONBytes>
      let batch: Int?
      switch line.parsed {
      case .failure(let error):
        contents.problems.append(FileProblem(path: path, line: line.number, reason: "skipped: \(reason(error))"))
        index += 1
        continue
      case .success(let parsed):
        (operation, batch) = parsed
      }
      guard let count = batch else {
        contents.entries.append(entry(operation, line, bytes, path: path, batch: nil))
        index += 1
        continue
      }
      // A batch: its N lines must all be there and valid, or none of it applies.
      let members = lines[index..<min(lines.count, index + count)]
      if members.count < count {
        let present = members.count + (tornLine != nil ? 1 : 0)
        contents.problems.append(
          FileProblem(
            path: path, line: line.number,
            reason:
              "skipped: a batch of \(count) operations cut short at the end of the WAL (\(min(present, count)) of \(count) lines); a crash interrupted its write, and it was never acknowledged"
          ))
        break
      }
      if let damaged = members.dropFirst().first(where: { member in
        switch member.parsed {
        case .failure: return true
        case .success(let parsed): return parsed.batch != nil
        }
      }) {
        let why: String
        switch damaged.parsed {
        case .failure(let error): why = reason(error)
        case .success: why = "it starts another batch"
        }
        contents.problems.append(
          FileProblem(
            path: path, line: line.number,
            reason: "skipped: a batch of \(count) operations whose line \(damaged.number) is damaged (\(why))"))
        if case .failure(let error) = damaged.parsed, !damaged.isBlank {
          contents.problems.append(FileProblem(path: path, line: damaged.number, reason: "skipped: \(reason(error))"))
        }
        index += count
        continue
      }
      for (position, member) in members.enumerated() {
        guard case .success(let parsed) = member.parsed else { continue }
        contents.entries.append(entry(parsed.operation, member, bytes, path: path, batch: (position, count)))
      }
      contents.batchCount += 1
      index += count
    }
    if let tornLine {
      contents.problems.append(
        FileProblem(
          path: path, line: tornLine,
          reason:
            "skipped: the last line has no newline (\(contents.partialTailLength) bytes): a torn write, or one still in progress"
        ))
    }
    return contents
  }

  static func entry(
    _ operation: LogOperation<JSONBytes>, _ line: Line, _ bytes: [UInt8], path: String, batch: (Int, Int)?
  ) -> WALEntry {
    WALEntry(
      operation: operation, path: path, line: line.number, offset: line.offset, bytes: bytes[line.range],
      batch: batch)
  }

  typealias Decoded = (operation: LogOperation<JSONBytes>, batch: Int?)

  static func decode(_ line: ArraySlice<UInt8>) -> Result<Decoded, OpsLogError> {
    do {
      let decoded = try OperationLine.decodeEncodedLine(line)
      return .success((decoded.operation, decoded.batch))
    } catch let error as OpsLogError {
      return .failure(error)
    } catch {
      return .failure(.invalidOperation(reason: "\(error)"))
    }
  }

  /// The error's reason without its case name, for a one-line report.
  static func reason(_ error: OpsLogError) -> String {
    switch error {
    case .invalidJSON(let reason, let offset): return "not valid JSON: \(reason) at byte \(offset + 1)"
    case .invalidOperation(let reason): return reason
    default: return "\(error)"
    }
  }
}

/// Records in first-insertion order with O(1) updates and deletes: slots with holes,
/// squeezed out when the order is read.
struct OrderedRecords {
  var slots: [StoreRecord?] = []
  var index: [String: Int] = [:]

  mutating func set(_ id: String, _ data: [UInt8]) {
    if let slot = index[id] {
      slots[slot]?.data = data
    } else {
      index[id] = slots.count
      slots.append(StoreRecord(id: id, data: data))
    }
  }

  mutating func remove(_ id: String) {
    guard let slot = index.removeValue(forKey: id) else { return }
    slots[slot] = nil
  }

  func ordered() -> [StoreRecord] { slots.compactMap { $0 } }
}

extension String {
  fileprivate func trimmingWhitespace() -> String {
    let bytes = Array(utf8)
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(decoding: bytes[first...last], as: UTF8.self)
  }
}
