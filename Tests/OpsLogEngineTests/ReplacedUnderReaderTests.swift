import Foundation
import OpsLogCodec
import OpsLogEngine
import Synchronization
import Testing

/// A `MemoryBackend` that runs a step of another process (a writer's checkpoints) just before
/// its next snapshot read: the moment a reader without a lock is most exposed to files being
/// removed under it.
final class InterruptingBackend: StorageBackend {
  let inner: MemoryBackend
  private let beforeSnapshotRead = Mutex<(@Sendable () async throws -> Void)?>(nil)
  let interruptions = Atomic<Int>(0)

  init(disk: MemoryDisk) { inner = MemoryBackend(disk: disk) }

  /// `step` runs once, before the next read of a file under `snapshots/`.
  func interruptNextSnapshotRead(with step: @escaping @Sendable () async throws -> Void) {
    beforeSnapshotRead.withLock { $0 = step }
  }

  func initialize(location: String, readOnly: Bool) async throws {
    try await inner.initialize(location: location, readOnly: readOnly)
  }
  func shutdown() async throws { try await inner.shutdown() }
  func read(_ path: String) async throws -> [UInt8]? {
    try await interruptIfSnapshot(path)
    return try await inner.read(path)
  }
  func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
    try await interruptIfSnapshot(path)
    return try await inner.read(path, offset: offset, length: length)
  }
  func size(of path: String) async throws -> Int? { try await inner.size(of: path) }
  func changeToken(of path: String) async throws -> FileChangeToken? { try await inner.changeToken(of: path) }
  func list(_ directory: String) async throws -> [String] { try await inner.list(directory) }
  func replace(_ path: String, chunks nextChunk: sending @escaping () throws -> [UInt8]?) async throws {
    try await inner.replace(path, chunks: nextChunk)
  }
  func create(_ path: String, durability: Durability) async throws {
    try await inner.create(path, durability: durability)
  }
  func append(_ path: String, _ bytes: [UInt8], durability: Durability) async throws {
    try await inner.append(path, bytes, durability: durability)
  }
  func truncate(_ path: String, toLength length: Int, durability: Durability) async throws {
    try await inner.truncate(path, toLength: length, durability: durability)
  }
  func remove(_ path: String) async throws { try await inner.remove(path) }
  func acquireLock(_ name: String) async throws { try await inner.acquireLock(name) }
  func releaseLock(_ name: String) async throws { try await inner.releaseLock(name) }
  func writeBlob(_ path: String, _ content: Data) async throws { try await inner.writeBlob(path, content) }
  func readBlob(_ path: String) async throws -> Data { try await inner.readBlob(path) }
  func deleteBlob(_ path: String) async throws { try await inner.deleteBlob(path) }
  func deleteBlobDir(_ prefix: String) async throws { try await inner.deleteBlobDir(prefix) }

  private func interruptIfSnapshot(_ path: String) async throws {
    guard path.hasPrefix("snapshots/"), let step = beforeSnapshotRead.withLock({ $0.take() }) else { return }
    interruptions.add(1, ordering: .relaxed)
    try await step()
  }
}

@Suite("Readers whose files a writer removes while they read them")
struct ReplacedUnderReaderTests {
  /// Two checkpoints of the writer: with the default retainedGenerations (1), the generation a
  /// reader read the manifest of is removed.
  @Sendable static func twoCheckpoints(_ writer: Store<JSONValue>, _ id: String) async throws {
    try await writer.set(id, true)
    try await writer.compact()
    try await writer.compact()
  }

  @Test func aReadOnlyOpenStartsAgainFromTheNewerManifest() async throws {
    let disk = MemoryDisk()
    var writerOptions = StoreOptions()
    writerOptions.backend = MemoryBackend(disk: disk)
    let writer = try await Store<JSONValue>.open("/store", options: writerOptions)
    try await writer.set("a", 1)
    try await writer.compact()
    let read = try writer.manifest()

    let backend = InterruptingBackend(disk: disk)
    backend.interruptNextSnapshotRead { try await Self.twoCheckpoints(writer, "during-open") }
    var readerOptions = StoreOptions()
    readerOptions.backend = backend
    readerOptions.readOnly = true
    let reader = try await Store<JSONValue>.open("/store", options: readerOptions)
    #expect(backend.interruptions.load(ordering: .relaxed) == 1)
    #expect(disk.bytes(at: "/store/" + read.currentSnapshot) == nil, "the generation it first read is gone")
    #expect(try reader.manifest().currentSnapshot == writer.manifest().currentSnapshot)
    #expect(try reader.entries().map(\.id) == ["a", "during-open"])
    try await reader.close()
    try await writer.close()
  }

  @Test func aFollowersReloadStartsAgainFromTheNewerManifest() async throws {
    let disk = MemoryDisk()
    var writerOptions = StoreOptions()
    writerOptions.backend = MemoryBackend(disk: disk)
    let writer = try await Store<JSONValue>.open("/store", options: writerOptions)
    try await writer.set("a", 1)
    let backend = InterruptingBackend(disk: disk)
    var readerOptions = StoreOptions()
    readerOptions.backend = backend
    readerOptions.readOnly = true
    let reader = try await Store<JSONValue>.open("/store", options: readerOptions)
    // The follower falls behind (its files go), then loses the next ones while it reloads.
    try await Self.twoCheckpoints(writer, "behind")
    backend.interruptNextSnapshotRead { try await Self.twoCheckpoints(writer, "during-reload") }
    try await reader.refresh()
    #expect(backend.interruptions.load(ordering: .relaxed) == 1)
    #expect(try reader.entries().map(\.id) == ["a", "behind", "during-reload"])
    try await writer.set("after", 2)
    #expect(try await reader.tail().map(\.id) == ["after"])
    try await reader.close()
    try await writer.close()
  }
}
