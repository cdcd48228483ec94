import Foundation
import OpsLogCodec
import OpsLogEngine
import OpsLogTestSupport
import Synchronization
import Testing

/// Runs a step of another process (a writer's checkpoints) just before a backend's next
/// snapshot read: the moment a reader without a lock is most exposed to files being removed
/// under it. ``beforeCall(_:)`` is a `ForwardingBackend`'s `before` hook.
final class SnapshotReadInterruption: Sendable {
  private let beforeSnapshotRead = Mutex<(@Sendable () async throws -> Void)?>(nil)
  let interruptions = Atomic<Int>(0)

  /// `step` runs once, before the next read of a file under `snapshots/`.
  func interruptNextSnapshotRead(with step: @escaping @Sendable () async throws -> Void) {
    beforeSnapshotRead.withLock { $0 = step }
  }

  func beforeCall(_ call: ForwardingBackend.Call) async throws {
    switch call {
    case .read(let path), .readRange(let path, _, _):
      guard path.hasPrefix("snapshots/"), let step = beforeSnapshotRead.withLock({ $0.take() }) else { return }
      interruptions.add(1, ordering: .relaxed)
      try await step()
    default:
      return
    }
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

    let interruption = SnapshotReadInterruption()
    interruption.interruptNextSnapshotRead { try await Self.twoCheckpoints(writer, "during-open") }
    var readerOptions = StoreOptions()
    readerOptions.backend = ForwardingBackend(MemoryBackend(disk: disk), before: interruption.beforeCall)
    readerOptions.readOnly = true
    let reader = try await Store<JSONValue>.open("/store", options: readerOptions)
    #expect(interruption.interruptions.load(ordering: .relaxed) == 1)
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
    let interruption = SnapshotReadInterruption()
    var readerOptions = StoreOptions()
    readerOptions.backend = ForwardingBackend(MemoryBackend(disk: disk), before: interruption.beforeCall)
    readerOptions.readOnly = true
    let reader = try await Store<JSONValue>.open("/store", options: readerOptions)
    // The follower falls behind (its files go), then loses the next ones while it reloads.
    try await Self.twoCheckpoints(writer, "behind")
    interruption.interruptNextSnapshotRead { try await Self.twoCheckpoints(writer, "during-reload") }
    try await reader.refresh()
    #expect(interruption.interruptions.load(ordering: .relaxed) == 1)
    #expect(try reader.entries().map(\.id) == ["a", "behind", "during-reload"])
    try await writer.set("after", 2)
    #expect(try await reader.tail().map(\.id) == ["after"])
    try await reader.close()
    try await writer.close()
  }
}
