import Foundation
import Logging
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// `.lock` and `.compact-lock` as leases (see ``S3Backend``).
extension S3Backend {
  /// What a lease object holds: who holds it and until when (milliseconds since 1970, by the
  /// holder's clock: machines that share a store must keep their clocks within a small part of
  /// ``S3Configuration/leaseDuration`` of each other, as with any lease).
  struct LeaseBody {
    var owner: String
    var token: String
    var expiresMilliseconds: Int64

    func encoded() -> [UInt8] {
      var object = JSONObject()
      object["owner"] = .string(owner)
      object["lease"] = .string(token)
      object["expires"] = .int(expiresMilliseconds)
      return JSONValue.object(object).serialized()
    }

    /// `nil` for a body that is not a lease: such an object is treated as expired.
    static func decode(_ bytes: [UInt8]) -> LeaseBody? {
      guard case .object(let object)? = try? JSONValue(parsing: bytes),
        case .string(let owner)? = object["owner"], case .string(let token)? = object["lease"],
        case .int(let expires)? = object["expires"]
      else { return nil }
      return LeaseBody(owner: owner, token: token, expiresMilliseconds: expires)
    }
  }

  static func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

  static func ownerDescription() -> String {
    "\(ProcessInfo.processInfo.hostName) process \(ProcessInfo.processInfo.processIdentifier)"
  }

  var leaseMilliseconds: Int64 {
    let parts = configuration.leaseDuration.components
    return max(1, parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000)
  }

  /// Takes the lease `name`: created if absent, taken over with `If-Match` if expired, and
  /// `OpsLogError/locked(holder:)` naming the holder while it is valid. Taking `.lock` over
  /// fences the previous holder before this returns; taking `.compact-lock` over fences its
  /// manifest writes.
  public func acquireLock(_ name: String) async throws {
    try Self.validate(name)
    if name.contains("/") { throw OpsLogError.invalidArgument("lock name \"\(name)\" must be a file name, not a path") }
    let serving = try serving(writing: true)
    if state.withLock({ $0.leases[name] != nil }) { throw OpsLogError.locked(holder: "this process") }
    let key = serving.layout.leaseKey(name)
    let token = UUID().uuidString
    for _ in 0..<4 {
      let sentAt = ContinuousClock.now
      let body = LeaseBody(
        owner: Self.ownerDescription(), token: token, expiresMilliseconds: Self.nowMilliseconds() + leaseMilliseconds)
      if let etag = try await conditionalPut(serving, key: key, body: body.encoded()) {
        install(name, key: key, etag: etag, token: token, sentAt: sentAt)
        return
      }
      let current = try await serving.client.send(.GET, key: key, returning: [404])
      if current.status == 404 { continue }
      let held = LeaseBody.decode(current.body)
      if let held, held.expiresMilliseconds > Self.nowMilliseconds() {
        throw OpsLogError.locked(holder: held.owner)
      }
      guard let etag = current.header("ETag") else { continue }
      let takeoverSentAt = ContinuousClock.now
      let takeover = LeaseBody(
        owner: Self.ownerDescription(), token: token, expiresMilliseconds: Self.nowMilliseconds() + leaseMilliseconds)
      guard let newETag = try await conditionalPut(serving, key: key, body: takeover.encoded(), ifMatch: etag) else {
        // Another contender took it over first.
        throw OpsLogError.locked(holder: held?.owner ?? "another writer")
      }
      logger.info(
        "took over an expired S3 lease", metadata: ["lease": "\(name)", "previous": "\(held?.owner ?? "unknown")"])
      install(name, key: key, etag: newETag, token: token, sentAt: takeoverSentAt)
      do {
        try await fence(serving, afterTakingOver: name)
      } catch {
        try? await releaseLock(name)
        throw error
      }
      return
    }
    throw OpsLogError.locked(holder: "another writer (the lease \(name) kept changing)")
  }

  /// Releases the lease with a delete conditional on its ETag: a lease another writer took
  /// over is left to it. Releasing one this backend does not hold is no error.
  public func releaseLock(_ name: String) async throws {
    guard let renewal = state.withLock({ $0.leases[name]?.renewal }) ?? nil else {
      try await deleteLease(name)
      return
    }
    // A renewal in flight would change the ETag under the delete: let it finish first.
    renewal.cancel()
    await renewal.value
    try await deleteLease(name)
  }

  private func deleteLease(_ name: String) async throws {
    guard let lease = state.withLock({ $0.leases.removeValue(forKey: name) }) else { return }
    guard let serving = state.withLock({ $0.serving }), !lease.lost else { return }
    let response = try await serving.client.send(
      .DELETE, key: lease.key, headers: [("If-Match", lease.etag)], returning: [404, 412])
    guard response.status == 412 else { return }
    // A renewal whose answer was lost may have changed the ETag: still this lease (its
    // token) is deleted over the ETag it now has; another holder's is left alone.
    let current = try await serving.client.send(.GET, key: lease.key, returning: [404])
    guard current.status != 404, LeaseBody.decode(current.body)?.token == lease.token,
      let etag = current.header("ETag")
    else { return }
    _ = try await serving.client.send(.DELETE, key: lease.key, headers: [("If-Match", etag)], returning: [404, 412])
  }

  private func install(_ name: String, key: String, etag: String, token: String, sentAt: ContinuousClock.Instant) {
    let validity = configuration.leaseDuration * 0.95
    state.withLock { state in
      state.leases[name] = Lease(key: key, etag: etag, token: token, validUntil: sentAt + validity)
    }
    let interval = configuration.leaseDuration / 4
    // On a thread of its own, not the cooperative pool: an application that keeps the pool's
    // threads busy (or blocked) must not make its own lease lapse.
    let renewal = Task(executorPreference: renewalExecutor) { [weak self] in
      while !Task.isCancelled {
        try? await Task.sleep(for: interval)
        guard let self, !Task.isCancelled else { return }
        if await !self.renew(name, token: token) { return }
      }
    }
    state.withLock { state in
      if state.leases[name]?.token == token { state.leases[name]?.renewal = renewal } else { renewal.cancel() }
    }
  }

  /// One renewal; `false` when the lease is gone (released, or taken over by another writer).
  func renew(_ name: String, token: String) async -> Bool {
    guard let lease = state.withLock({ $0.leases[name] }), lease.token == token, !lease.lost,
      let serving = state.withLock({ $0.serving })
    else { return false }
    if Task.isCancelled { return false }
    let sentAt = ContinuousClock.now
    let body = LeaseBody(
      owner: Self.ownerDescription(), token: token, expiresMilliseconds: Self.nowMilliseconds() + leaseMilliseconds)
    do {
      guard let etag = try await conditionalPut(serving, key: lease.key, body: body.encoded(), ifMatch: lease.etag)
      else {
        logger.warning("an S3 lease was taken over by another writer", metadata: ["lease": "\(name)"])
        state.withLock { state in
          if state.leases[name]?.token == token { state.leases[name]?.lost = true }
        }
        return false
      }
      let validity = configuration.leaseDuration * 0.95
      state.withLock { state in
        guard state.leases[name]?.token == token else { return }
        state.leases[name]?.etag = etag
        state.leases[name]?.validUntil = sentAt + validity
      }
      return true
    } catch is CancellationError {
      return false
    } catch {
      // Tried again at the next interval; past its validity the lease refuses writes anyway.
      logger.warning("could not renew an S3 lease", metadata: ["lease": "\(name)", "error": "\(error)"])
      return true
    }
  }

  /// Makes sure the previous holder of a lease can change nothing more.
  ///
  /// The manifest gets a new generation with the same content, so the previous holder's
  /// manifest write (over the generation it knew) fails. For `.lock`, the WAL the manifest
  /// names has its next position taken (the previous holder's next append fails) and then a
  /// new generation with the same content (its undo fails). Each step is retried until it
  /// holds on the newest generation, since the previous holder may write while this runs.
  func fence(_ serving: Serving, afterTakingOver name: String) async throws {
    let manifestPath = ManifestCodec.fileName
    var manifest: ManifestInfo?
    for _ in 0..<8 {
      guard let bytes = try await readContent(serving, manifestPath, range: nil, recordingBasis: true) else { return }
      let generation = state.withLock { $0.basis[manifestPath] } ?? 0
      do {
        try await writeGeneration(serving, manifestPath, bytes, basedOn: generation)
        manifest = try? ManifestCodec.decode(bytes)
        break
      } catch OpsLogError.locked {
        continue
      }
    }
    guard name == ".lock", let wal = manifest?.activeOps else { return }
    for _ in 0..<8 {
      guard let file = try await refresh(serving, wal) else { return }
      let next = (file.objects.last?.sequence ?? -1) + 1
      let key = serving.layout.objectKey(wal, generation: file.generation, sequence: next)
      guard try await conditionalPut(serving, key: key, body: []) != nil else {
        state.withLock { $0.files[wal] = nil }
        continue
      }
      guard let content = try await fetch(serving, file, range: 0..<file.size) else { continue }
      do {
        try await writeGeneration(serving, wal, content, basedOn: file.generation)
        logger.info("fenced the previous holder of the S3 lease", metadata: ["wal": "\(wal)"])
        return
      } catch OpsLogError.locked {
        state.withLock { $0.files[wal] = nil }
        continue
      }
    }
    throw OpsLogError.io(
      path: displayPath(serving, wal), errno: EIO, reason: "could not fence the previous writer: its WAL kept changing")
  }
}

// MARK: Test hooks

extension S3Backend {
  /// Stops renewing every lease, as a killed or paused process would.
  func suspendLeaseRenewalForTesting() {
    state.withLock { state in
      for name in state.leases.keys {
        state.leases[name]?.renewal?.cancel()
        state.leases[name]?.renewal = nil
      }
    }
  }

  /// Makes this backend believe its leases are valid, as a process paused right after its
  /// check would: only the fences can stop its writes then.
  func pretendLeasesValidForTesting() {
    state.withLock { state in
      for name in state.leases.keys { state.leases[name]?.validUntil = .now + .seconds(3600) }
    }
  }
}
