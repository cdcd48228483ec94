import Foundation
import Logging
import NIOHTTP1
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

/// A store in an S3-compatible bucket under a key prefix, so that writers and agents on many
/// machines share one store.
///
/// ```swift
/// var options = StoreOptions()
/// options.backend = S3Backend(S3Configuration(endpoint: "http://127.0.0.1:9000", region: "us-east-1",
///                                             bucket: "tasks"))
/// let agent = try await Store<Todo>.open("team/inbox", agentId: "laptop-1", options: options)
/// ```
///
/// The location is the key prefix; the bucket must exist. Every write is a conditional request
/// (`S3KeyLayout` tells how files map onto objects):
///
/// - An append creates a new object with `If-None-Match: *` at the next position, so two
///   writers never both write one position, and an append whose answer was lost is retried and
///   recognised by the write ID in its metadata, never duplicated.
/// - A replace (the manifest, a snapshot) and a truncate (undo) create the next generation of
///   the file with `If-None-Match: *`: two compactions or registrations can never both win.
///   The manifest is replaced only over the version this backend last read or wrote; when
///   another writer replaced it since, the call fails with `OpsLogError/locked(holder:)` and
///   changes nothing.
/// - `.lock` and `.compact-lock` are leases: created with `If-None-Match: *`, holding owner and
///   expiry, renewed by the holder every quarter of ``S3Configuration/leaseDuration``, taken over
///   after expiry only with `If-Match` on the expired lease's ETag, released with a
///   conditional delete. Whoever takes `.lock` over fences the previous holder first (a new
///   generation of the manifest and of its WAL, and the WAL's next position taken), so a
///   paused writer that wakes up after losing its lease can neither append, undo nor
///   checkpoint; and a writer whose lease has expired acknowledges no further write.
///
/// Durability does not depend on `Durability`: S3 answers a PUT once the object is stored.
///
/// - Requests per operation: an append (one write in `.immediate`, one group in `.group` and
///   `.async`) is one PUT; a follower's poll is one LIST per file it watches, plus one GET per
///   new object; an undo is one PUT of the WAL's remaining bytes; a checkpoint is a PUT for the
///   snapshot, one for the new WAL, one for the manifest, and deletes of what it retires.
public final class S3Backend: StorageBackend {
  let configuration: S3Configuration
  let logger: Logger
  let state = Mutex(State())
  /// Where lease renewals run: a thread of this backend's own (it ends when idle).
  let renewalExecutor = IOTaskExecutor(thread: IOThread())

  struct Object: Sendable, Equatable {
    var sequence: Int
    var size: Int
    var etag: String
    var key: String
  }

  /// What this backend last saw of a file: its newest generation's objects, in order.
  struct FileState: Sendable {
    var generation: Int
    var objects: [Object]
    var size: Int { objects.reduce(0) { $0 + $1.size } }
  }

  struct Lease: Sendable {
    var key: String
    var etag: String
    var token: String
    /// Past this instant of this machine's clock, the lease may have expired for others.
    var validUntil: ContinuousClock.Instant
    var lost = false
    var renewal: Task<Void, Never>?
  }

  struct Serving: Sendable {
    var layout: S3KeyLayout
    var client: S3Client
    var readOnly: Bool
  }

  struct State: Sendable {
    var serving: Serving?
    var files: [String: FileState] = [:]
    /// The generation of each file as last read whole or written by this backend: what a
    /// conditional replace of the manifest must still find.
    var basis: [String: Int] = [:]
    var leases: [String: Lease] = [:]
    /// Set once another writer's object took a position this backend wrote to in a WAL (a
    /// takeover's fence): from then on this backend writes nothing, since whatever it knew
    /// of the store is stale.
    var fencedBy: String?
  }

  /// A backend for the bucket `configuration` names; nothing is sent until
  /// ``initialize(location:readOnly:)``.
  public init(_ configuration: S3Configuration) {
    self.configuration = configuration
    self.logger = Logger(label: "OpsLog.S3")
  }

  /// A backend that logs through `logger` (requests retried, leases renewed or lost; never a
  /// credential).
  public init(_ configuration: S3Configuration, logger: Logger) {
    self.configuration = configuration
    self.logger = logger
  }

  // MARK: Lifecycle

  /// Starts serving the key prefix `location`. Resolves the credentials and checks that the
  /// bucket exists (one HEAD request): a missing bucket is `OpsLogError/io(path:errno:reason:)`
  /// with `ENOENT`, refused credentials `EACCES`.
  public func initialize(location: String, readOnly: Bool) async throws {
    let layout = try S3KeyLayout.location(location)
    let keys = try configuration.credentials.resolve()
    let client = try S3Client(configuration: configuration, keys: keys, logger: logger)
    if let serving = state.withLock({ $0.serving }) {
      throw OpsLogError.invalidArgument(
        "this backend already serves the store at \(serving.layout.prefix); shut it down before opening another")
    }
    let head = try await client.send(.HEAD, key: nil, returning: [404, 403])
    if head.status == 404 {
      throw OpsLogError.io(
        path: configuration.bucket, errno: ENOENT, reason: "the S3 bucket \(configuration.bucket) does not exist")
    }
    if head.status == 403 {
      throw OpsLogError.io(
        path: configuration.bucket, errno: EACCES, reason: "S3 refused access to the bucket \(configuration.bucket)")
    }
    try state.withLock { state in
      if let serving = state.serving {
        throw OpsLogError.invalidArgument(
          "this backend already serves the store at \(serving.layout.prefix); shut it down before opening another")
      }
      state = State(serving: Serving(layout: layout, client: client, readOnly: readOnly))
    }
  }

  /// Releases every lease this backend holds and stops serving. Calling it twice is harmless.
  public func shutdown() async throws {
    let names = state.withLock { Array($0.leases.keys) }
    var firstError: (any Error)?
    for name in names {
      do { try await releaseLock(name) } catch { firstError = firstError ?? error }
    }
    state.withLock { state in
      for lease in state.leases.values { lease.renewal?.cancel() }
      state = State()
    }
    if let firstError { throw firstError }
  }

  func serving(writing: Bool) throws -> Serving {
    try state.withLock { state in
      guard let serving = state.serving else { throw OpsLogError.closed }
      if writing {
        if serving.readOnly { throw OpsLogError.readOnly }
        if let fencedBy = state.fencedBy {
          throw OpsLogError.locked(
            holder: "another writer: \(fencedBy) was written by another writer, so this one writes nothing more; "
              + "close the store and open it again")
        }
        let now = ContinuousClock.now
        for (name, lease) in state.leases where lease.lost || now >= lease.validUntil {
          throw OpsLogError.locked(
            holder: "another writer, perhaps: this writer's lease \(name) "
              + (lease.lost ? "was taken over" : "expired before it could be renewed")
              + ", so it acknowledges no more writes; close the store and open it again")
        }
      }
      return serving
    }
  }

  /// `prefix/path`, the name errors give a file by.
  func displayPath(_ serving: Serving, _ path: String) -> String {
    path.isEmpty ? serving.layout.prefix : serving.layout.prefix + "/" + path
  }

  // MARK: Listing and fetching objects

  /// Every page of a `ListObjectsV2`.
  func listAll(
    _ serving: Serving, prefix: String, startAfter: String? = nil, delimiter: String? = nil, maximumKeys: Int? = nil
  ) async throws -> S3XML.Listing {
    var merged = S3XML.Listing()
    var token: String?
    repeat {
      var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix)]
      if let startAfter { query.append(("start-after", startAfter)) }
      if let delimiter { query.append(("delimiter", delimiter)) }
      if let maximumKeys { query.append(("max-keys", String(maximumKeys))) }
      if let token { query.append(("continuation-token", token)) }
      let response = try await serving.client.send(.GET, key: nil, query: query)
      let page = S3XML.listing(response.body)
      merged.objects += page.objects
      merged.commonPrefixes += page.commonPrefixes
      token = page.isTruncated ? page.continuationToken : nil
      if maximumKeys != nil { break }
    } while token != nil
    return merged
  }

  /// The file's newest generation, listed afresh (one LIST from the last object this backend
  /// knows, since objects are never changed in place; a full LIST when that object is gone).
  func refresh(_ serving: Serving, _ path: String) async throws -> FileState? {
    let filePrefix = serving.layout.filePrefix(path)
    if let cached = state.withLock({ $0.files[path] }), let last = cached.objects.last {
      let listing = try await listAll(serving, prefix: filePrefix, startAfter: String(last.key.dropLast()))
      let objects = listing.objects.filter { $0.key >= last.key }
      if let first = objects.first, first.key == last.key, first.etag == last.etag {
        var updated = cached
        var newer: [Int: [Object]] = [:]
        for object in objects.dropFirst() {
          guard let position = S3KeyLayout.position(of: object.key, filePrefix: filePrefix) else { continue }
          let entry = Object(sequence: position.sequence, size: object.size, etag: object.etag, key: object.key)
          if position.generation == cached.generation {
            if position.sequence > (updated.objects.last?.sequence ?? -1) { updated.objects.append(entry) }
          } else if position.generation > cached.generation {
            newer[position.generation, default: []].append(entry)
          }
        }
        if let generation = newer.keys.max() {
          updated = FileState(generation: generation, objects: newer[generation]!.sorted { $0.sequence < $1.sequence })
        }
        state.withLock { $0.files[path] = updated }
        return updated
      }
    }
    let listing = try await listAll(serving, prefix: filePrefix)
    var generations: [Int: [Object]] = [:]
    for object in listing.objects {
      guard let position = S3KeyLayout.position(of: object.key, filePrefix: filePrefix) else { continue }
      generations[position.generation, default: []].append(
        Object(sequence: position.sequence, size: object.size, etag: object.etag, key: object.key))
    }
    guard let newest = generations.keys.max() else {
      state.withLock { $0.files[path] = nil }
      return nil
    }
    let file = FileState(generation: newest, objects: generations[newest]!.sorted { $0.sequence < $1.sequence })
    state.withLock { $0.files[path] = file }
    return file
  }

  /// The bytes `range` of the file's content, from the objects that hold them, fetched
  /// concurrently (a replay of a WAL of many objects does not wait for them one by one).
  /// `nil` when an object is gone (a newer generation replaced it): the caller lists again.
  func fetch(_ serving: Serving, _ file: FileState, range: Range<Int>) async throws -> [UInt8]? {
    var pieces: [(index: Int, key: String, range: Range<Int>, whole: Bool)] = []
    var start = 0
    for object in file.objects {
      let end = start + object.size
      let lower = max(start, range.lowerBound)
      let upper = min(end, range.upperBound)
      if lower < upper {
        pieces.append((pieces.count, object.key, (lower - start)..<(upper - start), lower == start && upper == end))
      }
      start = end
    }
    if pieces.isEmpty { return [] }
    let client = serving.client
    let results = try await withThrowingTaskGroup(of: (Int, [UInt8]?).self) { group in
      var next = 0
      var collected = [[UInt8]?](repeating: nil, count: pieces.count)
      var missing = false
      func start(_ piece: (index: Int, key: String, range: Range<Int>, whole: Bool)) {
        group.addTask {
          var headers: [(String, String)] = []
          if !piece.whole {
            headers.append(("Range", "bytes=\(piece.range.lowerBound)-\(piece.range.upperBound - 1)"))
          }
          let response = try await client.send(.GET, key: piece.key, headers: headers, returning: [404])
          if response.status == 404 { return (piece.index, nil) }
          return (piece.index, response.body)
        }
      }
      while next < min(pieces.count, 16) {
        start(pieces[next])
        next += 1
      }
      while let (index, bytes) = try await group.next() {
        if let bytes { collected[index] = bytes } else { missing = true }
        if next < pieces.count && !missing {
          start(pieces[next])
          next += 1
        }
      }
      return missing ? nil : collected
    }
    guard let results else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(range.count)
    for (piece, result) in zip(pieces, results) {
      guard let result, result.count == piece.range.count else { return nil }
      bytes += result
    }
    return bytes
  }

  /// The file's bytes in `range` (clipped to its size), listing again when a replacement
  /// removed an object under the reader; `nil` when the file does not exist.
  func readContent(_ serving: Serving, _ path: String, range: Range<Int>?, recordingBasis: Bool) async throws
    -> [UInt8]?
  {
    for _ in 0..<8 {
      guard let file = try await refresh(serving, path) else { return nil }
      let size = file.size
      let wanted = range.map { $0.clamped(to: 0..<size) } ?? 0..<size
      if let bytes = try await fetch(serving, file, range: wanted) {
        if recordingBasis { state.withLock { $0.basis[path] = file.generation } }
        return bytes
      }
      state.withLock { $0.files[path] = nil }
    }
    throw OpsLogError.io(
      path: displayPath(serving, path), errno: EIO,
      reason: "the file's objects kept changing while it was read; try again")
  }

  // MARK: Conditional writes

  /// PUT `key` with `If-None-Match: *` (or `If-Match` on `etag`). Returns the new ETag, or
  /// `nil` when the condition failed because of another writer. A write whose first answer
  /// was lost and whose retry meets 412 is recognised as this write by its write ID.
  func conditionalPut(
    _ serving: Serving, key: String, body: [UInt8], ifMatch etag: String? = nil
  ) async throws -> String? {
    let writeID = UUID().uuidString
    let condition = etag.map { ("If-Match", $0) } ?? ("If-None-Match", "*")
    let response = try await serving.client.send(
      .PUT, key: key, headers: [condition, ("x-amz-meta-opslog-write", writeID)], body: body,
      returning: [412, 404])
    if response.status == 200 || response.status == 201 || response.status == 204 {
      return response.header("ETag") ?? ""
    }
    if response.status == 404 && etag == nil {
      throw OpsLogError.io(
        path: serving.client.displayName(key), errno: EIO,
        reason: "S3 PUT returned HTTP 404 \(response.errorCode ?? "")")
    }
    let head = try await serving.client.send(.HEAD, key: key, returning: [404])
    if head.status != 404, head.header("x-amz-meta-opslog-write") == writeID {
      return head.header("ETag") ?? ""
    }
    return nil
  }

  /// The error a writer gets when another writer's object holds the position it wrote to.
  func fenced(_ serving: Serving, _ path: String) -> OpsLogError {
    .locked(
      holder: "another writer: \(displayPath(serving, path)) was written by another writer since this one last "
        + "read it (a lease takeover or a concurrent compaction); nothing was written")
  }

  /// Removes the objects of generations older than the one before `generation`, oldest first;
  /// the previous generation stays for readers that are part way through it.
  func collectOldGenerations(_ serving: Serving, _ path: String, below generation: Int) async {
    guard generation >= 3 else { return }
    let filePrefix = serving.layout.filePrefix(path)
    guard let listing = try? await listAll(serving, prefix: filePrefix) else { return }
    for object in listing.objects {
      guard let position = S3KeyLayout.position(of: object.key, filePrefix: filePrefix),
        position.generation < generation - 1
      else { continue }
      _ = try? await serving.client.send(.DELETE, key: object.key, returning: [404])
    }
  }

  /// Creates the next generation of `path` holding `bytes`. With `basedOn`, only over that
  /// generation (a compare-and-swap); otherwise over whatever is newest (a blind replace).
  func writeGeneration(_ serving: Serving, _ path: String, _ bytes: [UInt8], basedOn basis: Int?) async throws {
    for _ in 0..<8 {
      let current: Int
      if let basis {
        current = basis
      } else {
        current = try await refresh(serving, path)?.generation ?? 0
      }
      let generation = current + 1
      let key = serving.layout.objectKey(path, generation: generation, sequence: 0)
      if let etag = try await conditionalPut(serving, key: key, body: bytes) {
        let file = FileState(
          generation: generation, objects: [Object(sequence: 0, size: bytes.count, etag: etag, key: key)])
        state.withLock { state in
          state.files[path] = file
          state.basis[path] = generation
        }
        await collectOldGenerations(serving, path, below: generation)
        return
      }
      if basis != nil { throw fenced(serving, path) }
    }
    throw OpsLogError.io(
      path: displayPath(serving, path), errno: EIO, reason: "other writers kept replacing the file; try again")
  }

  /// Whether `path` is replaced only over the version last read: the manifest, whose
  /// read-modify-write is how registrations and compactions publish.
  static func isCompareAndSwap(_ path: String) -> Bool { path == ManifestCodec.fileName }

  // MARK: Reading

  public func read(_ path: String) async throws -> [UInt8]? {
    try Self.validate(path)
    let serving = try serving(writing: false)
    guard let bytes = try await readContent(serving, path, range: nil, recordingBasis: true) else {
      try await refuseDirectory(serving, path, action: "read")
      return nil
    }
    return bytes
  }

  /// `EISDIR` when `path`, which is no file, holds files: as a filesystem says of a directory.
  func refuseDirectory(_ serving: Serving, _ path: String, action: String) async throws {
    let inside = try await listAll(serving, prefix: serving.layout.directoryPrefix(path), maximumKeys: 1)
    if !inside.objects.isEmpty {
      throw OpsLogError.io(path: displayPath(serving, path), errno: EISDIR, reason: "\(action) failed: is a directory")
    }
  }

  public func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
    try Self.validate(path)
    guard offset >= 0, length >= 0 else {
      throw OpsLogError.invalidArgument("offset \(offset) and length \(length) must not be negative")
    }
    let serving = try serving(writing: false)
    let upper = offset.addingReportingOverflow(length)
    let range = offset..<(upper.overflow ? Int.max : upper.partialValue)
    guard let bytes = try await readContent(serving, path, range: range, recordingBasis: false) else {
      try await refuseDirectory(serving, path, action: "open for reading")
      throw OpsLogError.io(
        path: displayPath(serving, path), errno: ENOENT, reason: "open for reading failed: no such file")
    }
    return bytes
  }

  public func size(of path: String) async throws -> Int? {
    try Self.validate(path)
    let serving = try serving(writing: false)
    return try await refresh(serving, path)?.size
  }

  public func changeToken(of path: String) async throws -> FileChangeToken? {
    try Self.validate(path)
    let serving = try serving(writing: false)
    guard let file = try await refresh(serving, path) else { return nil }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in (file.objects.last?.etag ?? "").utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    let last = Int64(file.objects.last?.sequence ?? 0)
    return FileChangeToken(
      identity: UInt64(file.generation), size: file.size, modification: last &* 1_000_003 ^ Int64(bitPattern: hash))
  }

  public func list(_ directory: String) async throws -> [String] {
    if !directory.isEmpty { try Self.validate(directory) }
    let serving = try serving(writing: false)
    let directoryPrefix = serving.layout.directoryPrefix(directory)
    let listing = try await listAll(serving, prefix: directoryPrefix, delimiter: "/")
    var names = Set<String>()
    for prefix in listing.commonPrefixes {
      if let name = S3KeyLayout.entryName(prefix, directoryPrefix: directoryPrefix) { names.insert(name) }
    }
    for object in listing.objects {
      if let name = S3KeyLayout.entryName(object.key, directoryPrefix: directoryPrefix) { names.insert(name) }
    }
    if names.isEmpty, !directory.isEmpty, try await refresh(serving, directory) != nil {
      throw OpsLogError.io(
        path: displayPath(serving, directory), errno: ENOTDIR, reason: "opendir failed: not a directory")
    }
    return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
  }

  // MARK: Writing

  /// Collects the chunks and writes them as the file's next generation in one PUT: readers see
  /// the old bytes or the new ones, never a mix. The manifest is replaced only over the
  /// version this backend last read or wrote (see the type's documentation).
  public func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws {
    try Self.validate(path)
    let serving = try serving(writing: true)
    var bytes: [UInt8] = []
    while let chunk = try nextChunk() { bytes += chunk }
    var basis: Int? = nil
    if Self.isCompareAndSwap(path) {
      basis = state.withLock { $0.basis[path] }
      if basis == nil { basis = try await refresh(serving, path)?.generation ?? 0 }
    }
    try await writeGeneration(serving, path, bytes, basedOn: basis)
  }

  public func create(_ path: String, durability: Durability) async throws {
    try Self.validate(path)
    let serving = try serving(writing: true)
    if try await refresh(serving, path) != nil {
      throw OpsLogError.io(path: displayPath(serving, path), errno: EEXIST, reason: "create failed: file exists")
    }
    let key = serving.layout.objectKey(path, generation: 1, sequence: 0)
    guard let etag = try await conditionalPut(serving, key: key, body: []) else {
      throw OpsLogError.io(path: displayPath(serving, path), errno: EEXIST, reason: "create failed: file exists")
    }
    state.withLock { state in
      state.files[path] = FileState(generation: 1, objects: [Object(sequence: 0, size: 0, etag: etag, key: key)])
      state.basis[path] = 1
    }
  }

  /// One PUT at the file's next position. Another writer's object there (a new holder's fence)
  /// is `OpsLogError/locked(holder:)` and nothing is written.
  public func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws {
    try Self.validate(path)
    let serving = try serving(writing: true)
    var file = state.withLock { $0.files[path] }
    if file == nil { file = try await refresh(serving, path) }
    guard let file else {
      try await writeGeneration(serving, path, bytes, basedOn: 0)
      return
    }
    if bytes.isEmpty { return }
    let sequence = (file.objects.last?.sequence ?? -1) + 1
    let key = serving.layout.objectKey(path, generation: file.generation, sequence: sequence)
    guard let etag = try await conditionalPut(serving, key: key, body: bytes) else {
      let name = displayPath(serving, path)
      state.withLock { $0.fencedBy = name }
      throw fenced(serving, path)
    }
    state.withLock { state in
      guard var current = state.files[path], current.generation == file.generation else { return }
      if current.objects.last?.sequence ?? -1 < sequence {
        current.objects.append(Object(sequence: sequence, size: bytes.count, etag: etag, key: key))
      }
      state.files[path] = current
    }
  }

  /// Writes the kept bytes as the file's next generation, over the generation this backend
  /// knows: a writer fenced by a takeover finds that generation taken and changes nothing.
  public func truncate(_ path: String, toLength length: Int, durability: Durability) async throws {
    try Self.validate(path)
    guard length >= 0 else { throw OpsLogError.invalidArgument("truncate length \(length) is negative") }
    let serving = try serving(writing: true)
    var file = state.withLock { $0.files[path] }
    if file == nil { file = try await refresh(serving, path) }
    guard let known = file else {
      throw OpsLogError.io(
        path: displayPath(serving, path), errno: ENOENT, reason: "open for truncating failed: no such file")
    }
    let size = known.size
    guard length <= size else {
      throw OpsLogError.invalidArgument("cannot truncate \(path) to \(length) bytes: it has only \(size)")
    }
    if length == size { return }
    let name = displayPath(serving, path)
    guard let kept = try await fetch(serving, known, range: 0..<length) else {
      state.withLock { $0.fencedBy = name }
      throw fenced(serving, path)
    }
    do {
      try await writeGeneration(serving, path, kept, basedOn: known.generation)
    } catch let error as OpsLogError {
      if case .locked = error { state.withLock { $0.fencedBy = name } }
      throw error
    }
  }

  /// Deletes the file's objects, newest first, so that a reader part way sees the file end
  /// early rather than a hole. A "directory" with files in it is `ENOTEMPTY`.
  public func remove(_ path: String) async throws {
    try Self.validate(path)
    let serving = try serving(writing: true)
    let filePrefix = serving.layout.filePrefix(path)
    let listing = try await listAll(serving, prefix: filePrefix)
    state.withLock { state in
      state.files[path] = nil
      state.basis[path] = nil
    }
    if listing.objects.isEmpty {
      let inside = try await listAll(serving, prefix: serving.layout.directoryPrefix(path), maximumKeys: 1)
      if !inside.objects.isEmpty {
        throw OpsLogError.io(
          path: displayPath(serving, path), errno: ENOTEMPTY, reason: "rmdir failed: directory not empty")
      }
      return
    }
    for object in listing.objects.reversed() {
      _ = try await serving.client.send(.DELETE, key: object.key, returning: [404])
    }
  }

  // MARK: Blobs

  public func writeBlob(_ path: String, _ content: Data) async throws {
    let bytes = [UInt8](content)
    try await replace(path, bytes: bytes)
  }

  public func readBlob(_ path: String) async throws -> Data {
    try Self.validate(path)
    let serving = try serving(writing: false)
    guard let bytes = try await readContent(serving, path, range: nil, recordingBasis: false) else {
      throw OpsLogError.io(path: displayPath(serving, path), errno: ENOENT, reason: "open blob failed: no such file")
    }
    return Data(bytes)
  }

  public func deleteBlob(_ path: String) async throws {
    try await remove(path)
  }

  public func deleteBlobDir(_ prefix: String) async throws {
    try Self.validate(prefix)
    let serving = try serving(writing: true)
    let file = try await listAll(serving, prefix: serving.layout.filePrefix(prefix))
    let inside = try await listAll(serving, prefix: serving.layout.directoryPrefix(prefix))
    state.withLock { state in
      state.files = state.files.filter { $0.key != prefix && !$0.key.hasPrefix(prefix + "/") }
      state.basis = state.basis.filter { $0.key != prefix && !$0.key.hasPrefix(prefix + "/") }
    }
    for object in (file.objects + inside.objects).reversed() {
      _ = try await serving.client.send(.DELETE, key: object.key, returning: [404])
    }
  }

  static func validate(_ path: String) throws {
    if let problem = PathRules.storePathProblem(path) { throw OpsLogError.invalidArgument(problem) }
  }
}
