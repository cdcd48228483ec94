import Logging
import OpsLogCodec
@_spi(LogStrategy) import OpsLogEngine
import OpsLogStorage
import OpsLogTypes
import Synchronization

/// The log of one multi-writer agent (Docs/FORMAT.md, Multi-writer): its own WAL, a Lamport clock,
/// and incremental reads of every other agent's WAL.
///
/// Losing nothing to a compaction: the compacting agent reads each other agent's WAL up to
/// some offset, and that agent may append more before the manifest switches. So before the
/// switch the compactor writes, next to each WAL it retires, `<wal>.through` holding the
/// byte offset its snapshot includes. An agent that finds its WAL retired copies the lines
/// after that offset, with their original clocks, into the new WAL it registers. Until then
/// (and forever, if that agent died) they belong to the store all the same: every load
/// applies them and follows their WAL, and the next compaction by any agent folds them in
/// and moves the marker past them once its manifest has switched.
final class AgentLog: LogStrategy {
  struct State: Sendable {
    var clock = 0
    /// This agent's WAL; `nil` for a read-only agent, which registers none.
    var ownPath: String? = nil
    /// The follower's cursor, the one a single writer's follower keeps too: the generation the
    /// state belongs to, and every other WAL of it followed, with the offset of the next line
    /// and the last line applied: those the manifest names, and retired ones that still
    /// belong to the state (``markers``). `nil` until the first load.
    var cursor: FollowCursor? = nil
    /// The retired WALs the cursor follows, with the offset of their `.through` marker: lines
    /// after it were acknowledged to their agent and no snapshot holds them (Docs/FORMAT.md).
    var markers: [String: Int] = [:]
    /// Per agent, the milliseconds of the WAL the manifest names for it: a retired WAL of an
    /// agent that registered a newer one will not grow any more.
    var registeredNewest: [String: Int64] = [:]
    var token: FileChangeToken? = nil
    /// The milliseconds in the name of the newest WAL this agent made.
    var newestOwnMilliseconds: Int64 = 0
  }

  let agentId: String
  let readOnly: Bool
  let state = Mutex(State())
  /// `.compact-lock`, entered again rather than waited for while this store holds it.
  let compactLock = CompactLock()

  init(agentId: String, readOnly: Bool) {
    self.agentId = agentId
    self.readOnly = readOnly
  }

  /// Agent ids become part of a file name: only characters safe there.
  static func validate(agentId: String) throws {
    // The rule is the codec's, shared with archive periods; the branches only pick the message.
    if PathRules.isSafeFileNameComponent(agentId) { return }
    if agentId.isEmpty { throw OpsLogError.invalidArgument("an agent id must not be empty") }
    if agentId == "." || agentId == ".." {
      throw OpsLogError.invalidArgument("an agent id must not be \"\(agentId)\"")
    }
    throw OpsLogError.invalidArgument("an agent id may hold only A-Z a-z 0-9 . _ -, not \"\(agentId)\"")
  }

  /// Operations of several agents compete for a record by their stamps.
  func makeMergePolicy() -> any MergePolicy { LastWriterWins() }

  /// Agents write at once, each to its own WAL, and take no `.lock`.
  var capabilities: LogCapabilities { .concurrentWriters }

  /// A WAL name later than every one this agent made: a compaction's WAL and one that a
  /// write registered inside the same millisecond must not collide.
  func newWALPath(milliseconds: Int64) -> String {
    let milliseconds = state.withLock { state in
      state.newestOwnMilliseconds = max(milliseconds, state.newestOwnMilliseconds + 1)
      return state.newestOwnMilliseconds
    }
    return walPath(milliseconds: milliseconds)
  }

  func walPath(milliseconds: Int64) -> String { "ops/agent-\(agentId)-\(milliseconds).jsonl" }

  func stamp() -> OperationStamp? {
    state.withLock { state in
      state.clock += 1
      return OperationStamp(clock: state.clock, agent: agentId)
    }
  }

  func owns(agent: String?) -> Bool { agent == agentId }

  // MARK: - Open

  /// A fresh store is created under `.compact-lock`, so that two agents opening an empty
  /// location at once do not overwrite each other's manifest.
  func prepare(backend: any StorageBackend, options: StoreOptions) async throws {
    try await compactLock.withLock(backend) {
      if try await backend.readManifest() != nil { return }
      // The engine reports a manifest missing over existing store files as corruption.
      if try await backend.containsStoreFiles() { return }
      let milliseconds = ISOTime.nowMilliseconds()
      _ = try await backend.createEmptyStore(
        options: options, milliseconds: milliseconds, walPath: newWALPath(milliseconds: milliseconds), agent: agentId)
    }
  }

  func load(manifest: ManifestInfo, backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws
    -> LogLoad
  {
    if !readOnly {
      try await rescueStrandedLines(manifest: manifest, backend: backend, options: options, logger: logger)
    }
    return try await loadAll(backend: backend, options: options, logger: logger, fallback: manifest)
  }

  /// A previous run of this agent that crashed may have left lines in a WAL that a
  /// compaction retired after its last check; they go into a new WAL before the load, so that
  /// they are in the WAL this agent appends to and undo cuts.
  ///
  /// `manifest` is the one the open just read: reading it again here, without the lock, would
  /// be no fresher in any way that counts, since a compaction may retire a WAL right after
  /// either read. The markers are read again under the lock, which registering takes: another
  /// agent's compaction may have folded the lines in meanwhile, and carrying them then would
  /// apply them a second time, in a later generation.
  func rescueStrandedLines(manifest: ManifestInfo, backend: any StorageBackend, options: StoreOptions, logger: Logger)
    async throws
  {
    let registered = Set((manifest.activeAgentOps ?? []).map(\.path) + [manifest.activeOps])
    var candidates: [String] = []
    for path in try await backend.listWALFiles() where !registered.contains(path) {
      guard AgentWALName(path: path)?.agent == agentId,
        let marker = try await backend.read(path + ".through").flatMap(Self.throughOffset),
        let size = try await backend.size(of: path), size > marker
      else { continue }
      candidates.append(path)
    }
    guard !candidates.isEmpty else { return }
    try await compactLock.withLock(backend) {
      var carried: [UInt8] = []
      var accounted: [(path: String, size: Int)] = []
      for path in candidates {
        let stranded = try await strandedLines(of: path, backend: backend, logger: logger)
        guard !stranded.lines.isEmpty else { continue }
        carried += stranded.lines
        accounted.append((path, stranded.size))
      }
      guard !carried.isEmpty else { return }
      _ = try await registerHoldingLock(backend: backend, carrying: carried, options: options)
      for (path, size) in accounted { try await writeThroughMarker(path, through: size, backend: backend) }
    }
  }

  /// How many times ``loadAll(backend:options:logger:fallback:)`` reads everything again when
  /// the manifest changed while it read; then it keeps the last read, and the next poll, which
  /// finds the newer manifest, catches up.
  static let maximumLoadAttempts = 10

  /// Reads the current manifest and every WAL it names to the end, registering this agent's
  /// WAL first when it has none, and the lines after the markers of retired WALs.
  ///
  /// The files read must be those of one manifest. The markers are read after it, and another
  /// agent may move one meanwhile, past lines the manifest read does not account for: a carry
  /// moves its old WAL's marker once the manifest names the new WAL that holds the lines, a
  /// compaction moves the markers of the lines it folded in once the manifest names its
  /// snapshot. A load that kept the older manifest and the newer marker would hold neither
  /// copy of those lines, and nothing would bring them back before the next change of the
  /// manifest. Every marker moves only after such a manifest, so a manifest whose change token
  /// is the same after everything was read is one the markers read agree with; a changed one
  /// means reading everything again.
  func loadAll(backend: any StorageBackend, options: StoreOptions, logger: Logger, fallback: ManifestInfo? = nil)
    async throws -> LogLoad
  {
    var attempt = 1
    while true {
      let read = try await readEverything(backend: backend, options: options, logger: logger, fallback: fallback)
      let unchanged = try await backend.manifestChangeToken() == read.token
      if unchanged || attempt == Self.maximumLoadAttempts {
        if !unchanged {
          logger.debug("the manifest kept changing while this agent loaded; the next poll catches up")
        }
        return commit(read)
      }
      logger.debug("the manifest changed while this agent loaded; reading everything again")
      attempt += 1
    }
  }

  /// What one pass of ``loadAll(backend:options:logger:fallback:)`` read.
  struct FullRead {
    /// The manifest's change token, read before the manifest.
    var token: FileChangeToken?
    var manifest: ManifestInfo
    var own: String?
    var ownLength: Int
    /// Every line read, in merge order.
    var lines: [WALLine]
    var malformedLines: Int
    var cursor: FollowCursor
    var markers: [String: Int]
  }

  /// One pass of ``loadAll(backend:options:logger:fallback:)``: reads, and changes nothing of
  /// the follower's state but this agent's own WAL (registered, its torn tail cut).
  func readEverything(backend: any StorageBackend, options: StoreOptions, logger: Logger, fallback: ManifestInfo?)
    async throws -> FullRead
  {
    var token: FileChangeToken?
    var manifest: ManifestInfo
    while true {
      // The token first: a manifest replaced after it is noticed by the next poll. The one
      // the open read came before any token, so it is read again here.
      token = try await backend.manifestChangeToken()
      guard let current = try await backend.readManifest() ?? fallback else {
        throw OpsLogError.corrupted(path: ManifestCodec.fileName, reason: "the manifest disappeared")
      }
      manifest = current
      if readOnly { break }
      if let own = manifest.agentWAL(agentId), try await backend.size(of: own) != nil { break }
      try await registerCarryingStrandedLines(backend: backend, options: options, logger: logger)
    }
    let own = readOnly ? nil : manifest.agentWAL(agentId)
    let paths = Self.logWALs(of: manifest)
    var lines: [WALLine] = []
    var cursor = FollowCursor(generation: LogGeneration(manifest))
    var ownLength = 0
    var malformed = 0
    for path in paths {
      guard try await backend.size(of: path) != nil else {
        logger.warning("a WAL the manifest names is missing", metadata: ["path": "\(path)"])
        continue
      }
      let wal = try await backend.readWAL(path, logger: logger)
      malformed += wal.malformedLines
      lines.append(contentsOf: wal.lines)
      if path == own {
        // Only this agent appends here: a torn tail is its own crashed write.
        ownLength = try await WALRepair.cutTornTail(
          path, read: wal, backend: backend, durability: options.durability, logger: logger)
      } else {
        cursor.follow(path, at: WALPosition(after: wal))
      }
    }
    // Lines a compaction missed and no agent carried into a registered WAL belong to the
    // state too, whoever wrote them (a writable agent has carried its own already).
    var markers: [String: Int] = [:]
    let retired = try await retiredWALs(
      registered: Set(paths), includingOwn: readOnly, backend: backend, logger: logger)
    for wal in retired {
      malformed += wal.read.malformedLines
      lines.append(contentsOf: wal.read.lines)
      guard wal.follow else { continue }
      cursor.follow(wal.path, at: WALPosition(after: wal.read))
      markers[wal.path] = wal.through
    }
    return FullRead(
      token: token, manifest: manifest, own: own, ownLength: ownLength, lines: Self.merge(lines),
      malformedLines: malformed, cursor: cursor, markers: markers)
  }

  /// Makes `read` the follower's state and the load the engine replays.
  func commit(_ read: FullRead) -> LogLoad {
    let registeredNewest = Self.registeredNewest(read.manifest)
    state.withLock { state in
      state.clock = max(state.clock, Self.largestClock(read.lines))
      state.ownPath = read.own
      state.cursor = read.cursor
      state.markers = read.markers
      state.registeredNewest = registeredNewest
      state.token = read.token
    }
    return LogLoad(
      manifest: read.manifest, lines: read.lines, appendPath: read.own ?? read.manifest.activeOps,
      appendLength: read.ownLength, malformedLines: read.malformedLines)
  }

  /// Starts a new WAL for this agent, registered in `activeAgentOps`, and carries into it the
  /// lines of the WAL it appended to so far that a compaction retired without including them
  /// (after that WAL's `.through` marker), with their clocks. Every path that finds this
  /// agent's WAL gone from the manifest comes here: registering without carrying would leave
  /// its own acknowledged lines out of its state, and out of the WAL its undo cuts.
  ///
  /// Under `.compact-lock`, like every manifest rewrite, so that none is lost to another; the
  /// marker is read under it too, since a compaction may fold the lines in until it is taken.
  func registerCarryingStrandedLines(backend: any StorageBackend, options: StoreOptions, logger: Logger)
    async throws
  {
    let previous = state.withLock { $0.ownPath }
    let path = try await compactLock.withLock(backend) {
      guard let manifest = try await backend.readManifest() else {
        throw OpsLogError.corrupted(path: ManifestCodec.fileName, reason: "the manifest disappeared")
      }
      var stranded: (lines: [UInt8], size: Int)? = nil
      if let previous, manifest.agentWAL(agentId) != previous, try await backend.size(of: previous) != nil {
        stranded = try await strandedLines(of: previous, backend: backend, logger: logger)
      }
      let path = try await registerHoldingLock(
        backend: backend, carrying: stranded?.lines ?? [], options: options, current: manifest)
      if let previous, let stranded { try await writeThroughMarker(previous, through: stranded.size, backend: backend) }
      return path
    }
    state.withLock { $0.ownPath = path }
  }

  /// ``register(backend:carrying:options:)`` for a caller that holds `.compact-lock`;
  /// `current` is the manifest if the caller read it during this same hold of the lock, when no
  /// other agent can have rewritten it.
  func registerHoldingLock(
    backend: any StorageBackend, carrying: [UInt8], options: StoreOptions, current: ManifestInfo? = nil
  ) async throws -> String {
    var manifest: ManifestInfo
    if let current {
      manifest = current
    } else {
      // Read under the lock, not taken from before it: another agent may have registered or
      // compacted meanwhile, and its change would be lost.
      guard let read = try await backend.readManifest() else {
        throw OpsLogError.corrupted(path: ManifestCodec.fileName, reason: "the manifest disappeared")
      }
      manifest = read
    }
    var milliseconds = max(ISOTime.nowMilliseconds(), state.withLock { $0.newestOwnMilliseconds + 1 })
    while try await backend.size(of: walPath(milliseconds: milliseconds)) != nil { milliseconds += 1 }
    state.withLock { $0.newestOwnMilliseconds = max($0.newestOwnMilliseconds, milliseconds) }
    let path = walPath(milliseconds: milliseconds)
    try await backend.create(path, durability: options.durability)
    if !carrying.isEmpty { try await backend.append(path, carrying, durability: options.durability) }
    var agents = (manifest.activeAgentOps ?? []).filter { $0.agent != agentId }
    agents.append((agent: agentId, path: path))
    manifest.activeAgentOps = agents
    try await backend.writeManifest(manifest)
    return path
  }

  /// The complete lines of this agent's retired WAL `path` that the compaction which retired
  /// it did not include (after its `.through` marker), and the file's length.
  func strandedLines(of path: String, backend: any StorageBackend, logger: Logger) async throws
    -> (lines: [UInt8], size: Int)
  {
    let marker = try await backend.read(path + ".through")
    return try await strandedLines(of: path, marker: marker, backend: backend, logger: logger)
  }

  /// ``strandedLines(of:backend:logger:)`` with the `.through` marker's bytes already read
  /// (`nil`: there is none).
  func strandedLines(of path: String, marker: [UInt8]?, backend: any StorageBackend, logger: Logger) async throws
    -> (lines: [UInt8], size: Int)
  {
    let size = try await backend.size(of: path) ?? 0
    var through = size
    if let marker, let value = Self.throughOffset(marker) {
      through = min(value, size)
    } else {
      // A compactor that leaves no marker (opslog for Node) read the file to its end, as far
      // as can be known.
      logger.warning("this agent's WAL was retired without a .through marker", metadata: ["path": "\(path)"])
    }
    guard size > through else { return ([], size) }
    var carried = try await backend.read(path, offset: through, length: size - through)
    // A torn last line died with a crashed write of this agent: it was never acknowledged.
    if let newline = carried.lastIndex(of: UInt8(ascii: "\n")) {
      carried.removeSubrange((newline + 1)...)
    } else {
      carried = []
    }
    if !carried.isEmpty {
      logger.info(
        "carrying writes a compaction missed into a new WAL",
        metadata: ["from": "\(path)", "bytes": "\(carried.count)"])
    }
    return (carried, size)
  }

  /// Records that the lines of the retired WAL `path` up to byte `through` are in a
  /// snapshot or another WAL: a compaction writes it for the WALs it retires, and an agent
  /// that carried its stranded lines into a new WAL writes it up to the old one's end, so that
  /// a later check does not carry them twice.
  func writeThroughMarker(_ path: String, through: Int, backend: any StorageBackend) async throws {
    try await backend.replace(path + ".through", bytes: Array("\(through)\n".utf8))
  }

  /// Every WAL the manifest on disk names, in merge order, for ``Store/walOperations(since:)``:
  /// the agents' lines interleave, so they are read whole, as opslog's `getWalOps` reads them.
  /// A WAL that a compaction retired while this read it means a newer manifest: the read
  /// starts again, as a load does (``loadAll(backend:options:logger:fallback:)``).
  func linesToStream(backend: any StorageBackend, logger: Logger) async throws -> [(path: String, line: WALLine)]? {
    var attempt = 1
    while true {
      let token = try await backend.manifestChangeToken()
      guard let manifest = try await backend.readManifest() else {
        throw OpsLogError.corrupted(path: ManifestCodec.fileName, reason: "the manifest disappeared")
      }
      var lines: [(path: String, line: WALLine)] = []
      for path in Self.logWALs(of: manifest) {
        guard try await backend.size(of: path) != nil else {
          logger.warning("a WAL the manifest names is missing", metadata: ["path": "\(path)"])
          continue
        }
        lines += try await backend.readWAL(path, logger: logger).lines.map { (path, $0) }
      }
      if try await backend.manifestChangeToken() == token || attempt == Self.maximumLoadAttempts {
        return Self.inMergeOrder(lines) { $0.line }
      }
      attempt += 1
    }
  }

  /// An agent that stops writing must not leave lines stranded in a WAL a compaction retired
  /// after its last check: under `.compact-lock` no compaction can switch the manifest, so
  /// this last check is final.
  func willClose(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws {
    if readOnly { return }
    guard let own = state.withLock({ $0.ownPath }) else { return }
    try await compactLock.withLock(backend) {
      guard let manifest = try await backend.readManifest(), manifest.agentWAL(agentId) != own else { return }
      let stranded = try await strandedLines(of: own, backend: backend, logger: logger)
      guard !stranded.lines.isEmpty else { return }
      let path = try await registerHoldingLock(
        backend: backend, carrying: stranded.lines, options: options, current: manifest)
      try await writeThroughMarker(own, through: stranded.size, backend: backend)
      state.withLock { $0.ownPath = path }
    }
  }

  /// Undo holds `.compact-lock`: the check before it is then final, so the lines it cuts are
  /// in no snapshot and no marker points past them. Without it, another agent's compaction
  /// could read the lines, the undo cut them, this agent append others in their place, and
  /// the marker would land in the middle of one of those.
  func guardingUndo<T: Sendable>(backend: any StorageBackend, _ body: () async throws -> T) async throws -> T {
    if readOnly { return try await body() }
    return try await compactLock.withLock(backend) {
      // The check reads the manifest itself, not only its change token.
      state.withLock { $0.token = nil }
      return try await body()
    }
  }

  // MARK: - Following the other agents

  func checkBeforeMutation(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws -> LogLoad?
  {
    if readOnly { return nil }
    let (known, own, cursor) = state.withLock { ($0.token, $0.ownPath, $0.cursor) }
    let token = try await backend.manifestChangeToken()
    if token == known { return nil }
    guard let manifest = try await backend.readManifest() else { return nil }
    if let own, manifest.agentWAL(agentId) == own, cursor?.change(to: manifest) == .same {
      notice(manifest, token: token)
      return nil
    }
    return try await recover(backend: backend, options: options, logger: logger, manifest: manifest)
  }

  /// One poll, through the follower's cursor (``FollowCursor``) as a single writer's follower
  /// polls: a manifest of another generation (a compaction, an archive, a version change) or
  /// one that retired this agent's WAL reloads; then every WAL followed is checked before it
  /// is read, and one that shrank below its offset, whose last applied line changed (another
  /// agent undid operations merged here) or that is gone reloads too: the operations merged
  /// here were placed by last-writer-wins among every agent's, so a full load is the way to
  /// take them back.
  func poll(backend: any StorageBackend, options: StoreOptions, logger: Logger) async throws -> LogPoll? {
    let (known, own, generation) = state.withLock { ($0.token, $0.ownPath, $0.cursor?.generation) }
    let token = try await backend.manifestChangeToken()
    if token != known, let manifest = try await backend.readManifest() {
      let retired = own != nil && manifest.agentWAL(agentId) != own
      let change = generation?.change(to: manifest) ?? .rebased(reason: "nothing was loaded yet")
      if retired || change != .same {
        return .reload(try await recover(backend: backend, options: options, logger: logger, manifest: manifest))
      }
      notice(manifest, token: token)
    }
    if try await followCarries(backend: backend) {
      logger.info("another agent carried lines merged here from a retired WAL; reloading")
      return .reload(try await loadAll(backend: backend, options: options, logger: logger))
    }
    guard var cursor = state.withLock({ $0.cursor }) else { return .lines([]) }
    var lines: [WALLine] = []
    for (path, position) in cursor.positions.sorted(by: { $0.key < $1.key }) {
      switch try await cursor.check(path, backend: backend) {
      case .intact:
        break
      case .undone:
        logger.info("another agent took back operations already merged; reloading", metadata: ["path": "\(path)"])
        return .reload(try await loadAll(backend: backend, options: options, logger: logger))
      case .missing:
        logger.info("a WAL this agent follows is gone; reloading", metadata: ["path": "\(path)"])
        return .reload(try await loadAll(backend: backend, options: options, logger: logger))
      }
      let wal = try await backend.readWAL(path, from: position.offset, logger: logger)
      lines.append(contentsOf: wal.lines)
      cursor.advance(path, over: wal)
    }
    let merged = Self.merge(lines)
    let advanced = cursor
    state.withLock { state in
      // Only the files still followed move: a load or a carry may have changed the cursor
      // meanwhile.
      for (path, position) in advanced.positions where state.cursor?.positions[path] != nil {
        state.cursor?.follow(path, at: position)
      }
      state.clock = max(state.clock, Self.largestClock(merged))
      // A retired WAL whose agent has registered a newer one was read to its end just now,
      // after that registration was noticed: its agent appends there no more. It is dropped
      // once no line past its marker waits for a compaction to fold it in.
      for (path, marker) in state.markers {
        guard let name = AgentWALName(path: path), let newest = state.registeredNewest[name.agent],
          newest > name.milliseconds, state.cursor?.positions[path]?.offset ?? 0 <= marker
        else { continue }
        state.markers[path] = nil
        state.cursor?.stopFollowing(path)
      }
    }
    return .lines(merged)
  }

  /// Brings what this store follows of retired WALs up to their agents' carries. An agent
  /// that registers a new WAL carries its stranded lines into it and then moves its old WAL's
  /// marker past them, so from then on the copies in its new WAL are the lines, the ones its
  /// undo cuts:
  /// - lines not read here yet are skipped in the old WAL (they come with the new one);
  /// - lines already applied from the old WAL make the state wrong as soon as that agent
  ///   undoes one of them, so `true` asks for a full load, which leaves the old copies out.
  ///
  /// Only retired WALs whose agent has registered a newer one are looked at, one marker read
  /// each; they are dropped from following once read up to their marker.
  func followCarries(backend: any StorageBackend) async throws -> Bool {
    let candidates = state.withLock { state -> [(path: String, offset: Int, marker: Int)] in
      state.markers.compactMap { path, marker in
        guard let offset = state.cursor?.positions[path]?.offset, let name = AgentWALName(path: path),
          let newest = state.registeredNewest[name.agent], newest > name.milliseconds
        else { return nil }
        return (path, offset, marker)
      }
    }
    for (path, offset, known) in candidates {
      guard let marker = try await backend.read(path + ".through").flatMap(Self.throughOffset), marker > known else {
        continue
      }
      if offset > known && marker > known { return true }
      state.withLock { state in
        guard state.cursor?.positions[path]?.offset == offset else { return }
        // The lines up to the marker are read from the new WAL: none of this one's is applied.
        state.cursor?.follow(path, at: WALPosition(offset: max(offset, marker)))
        state.markers[path] = marker
      }
    }
    return false
  }

  /// Another agent registered: its WAL is read from the start by the next poll.
  func notice(_ manifest: ManifestInfo, token: FileChangeToken?) {
    let own = state.withLock { $0.ownPath }
    let registeredNewest = Self.registeredNewest(manifest)
    state.withLock { state in
      state.registeredNewest = registeredNewest
      for path in Self.logWALs(of: manifest) where path != own && state.cursor?.positions[path] == nil {
        state.cursor?.follow(path, at: WALPosition(offset: 0))
      }
      state.token = token
    }
  }

  /// The base changed under this agent (another agent compacted). When this agent's WAL was
  /// retired, its lines past what the compaction included go into a new WAL before anything
  /// else is read, then everything is loaded afresh.
  func recover(backend: any StorageBackend, options: StoreOptions, logger: Logger, manifest: ManifestInfo)
    async throws -> LogLoad
  {
    let own = state.withLock { $0.ownPath }
    if let own, manifest.agentWAL(agentId) != own, !readOnly {
      try await registerCarryingStrandedLines(backend: backend, options: options, logger: logger)
    }
    return try await loadAll(backend: backend, options: options, logger: logger)
  }

  // MARK: - Compaction

  func beginCheckpoint(backend: any StorageBackend, logger: Logger) async throws -> (any CheckpointSession)? {
    if readOnly { return nil }
    // Tried once: compact() returns at once, without compacting, while another agent holds
    // the lock. Entered again when this store holds it (a write registering its WAL).
    if case .failure(.locked(let holder)) = try await compactLock.acquire(backend, waitingUpTo: nil) {
      logger.info("another agent is compacting; skipping", metadata: ["holder": "\(holder)"])
      return nil
    }
    // Under the lock the manifest can change no more, and the cut must see it as it is:
    // the cut's poll reads it rather than trust a change token (a replaced file's inode may
    // be reused).
    state.withLock { $0.token = nil }
    return AgentCheckpoint(log: self, logger: logger)
  }

  // MARK: - Helpers

  /// The WALs whose lines make up the log `manifest` names: every agent's, and first the
  /// single writer's `activeOps` when it is none of them (a store written by a single writer
  /// before agents joined: its WAL is part of the state).
  static func logWALs(of manifest: ManifestInfo) -> [String] {
    var paths = manifest.activeAgentOps?.map(\.path) ?? []
    if !paths.contains(manifest.activeOps) { paths.insert(manifest.activeOps, at: 0) }
    return paths
  }

  /// Lines in merge order: by clock, then agent id by UTF-8 bytes; lines without a stamp (a
  /// single writer's) first, in file order.
  static func merge(_ lines: [WALLine]) -> [WALLine] { inMergeOrder(lines) { $0 } }

  /// ``merge(_:)`` of items that each carry a line.
  static func inMergeOrder<Item>(_ items: [Item], line: (Item) -> WALLine) -> [Item] {
    let keyed = items.enumerated().map { index, item in
      (index: index, stamp: OperationStamp(of: line(item).encoded), item: item)
    }
    return keyed.sorted { left, right in
      switch (left.stamp, right.stamp) {
      case (let a?, let b?) where a != b: return OperationStamp.precedes(a, b)
      case (nil, _?): return true
      case (_?, nil): return false
      default: return left.index < right.index
      }
    }.map(\.item)
  }

  /// Per agent, the milliseconds in the name of the WAL `manifest` registers for it.
  static func registeredNewest(_ manifest: ManifestInfo) -> [String: Int64] {
    var newest: [String: Int64] = [:]
    for (agent, path) in manifest.activeAgentOps ?? [] {
      if let name = AgentWALName(path: path) { newest[agent] = name.milliseconds }
    }
    return newest
  }

  static func largestClock(_ lines: [WALLine]) -> Int {
    lines.reduce(0) { max($0, $1.encoded.clock ?? 0) }
  }
}
