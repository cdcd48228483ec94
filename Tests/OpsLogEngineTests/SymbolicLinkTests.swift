import Foundation
import OpsLogEngine
import OpsLogTypes
import Testing

/// Nothing in a store's location may lead the store outside it: a symbolic link put there by
/// hand or by a hostile copy of a store (a WAL, a directory, the lock file) is refused with a
/// clear error, and what it points at is neither read nor written; so is a FIFO, which would
/// hang an open. The location itself may be a link.
@Suite("Symbolic links inside a store's location")
struct SymbolicLinkTests {
  let files = FileManager.default

  /// A store with two records and a WAL, closed; and a directory outside it.
  func storeAndOutside() async throws -> (location: String, outside: String, wal: String) {
    let base = files.temporaryDirectory.appendingPathComponent("opslog-links-\(UUID().uuidString)").path
    let location = base + "/store"
    let outside = base + "/outside"
    try files.createDirectory(atPath: outside, withIntermediateDirectories: true)
    var options = StoreOptions()
    options.checkpointOnClose = false
    let store = try await Store<JSONValue>.open(location, options: options)
    try await store.set("a", 1)
    try await store.set("b", 2)
    let wal = try store.manifest().activeOps
    try await store.close()
    return (location, outside, wal)
  }

  func expectRefused(
    _ location: String, entry: String, because reasonPart: String = "symbolic link", readOnly: Bool = false
  ) async {
    var options = StoreOptions()
    options.readOnly = readOnly
    do {
      let store = try await Store<JSONValue>.open(location, options: options)
      try? await store.close()
      Issue.record("the store opened with \(entry) in its location")
    } catch OpsLogError.corrupted(let path, let reason) {
      #expect(path == entry)
      #expect(reason.contains(reasonPart))
    } catch {
      Issue.record("expected corrupted(\(entry)), got \(error)")
    }
  }

  @Test(arguments: [false, true])
  func aWALThatIsALinkIsNeitherReadNorWritten(readOnly: Bool) async throws {
    let (location, outside, wal) = try await storeAndOutside()
    defer { try? files.removeItem(atPath: location + "/..") }
    let target = outside + "/victim"
    try files.moveItem(atPath: location + "/" + wal, toPath: target)
    try files.createSymbolicLink(atPath: location + "/" + wal, withDestinationPath: target)
    let before = try Data(contentsOf: URL(fileURLWithPath: target))
    await expectRefused(location, entry: wal, readOnly: readOnly)
    #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == before, "the file outside is untouched")
  }

  @Test func aDirectoryThatIsALinkIsRefusedAndNothingIsCreatedThrough() async throws {
    let (location, outside, _) = try await storeAndOutside()
    defer { try? files.removeItem(atPath: location + "/..") }
    let moved = outside + "/snapshots"
    try files.moveItem(atPath: location + "/snapshots", toPath: moved)
    try files.createSymbolicLink(atPath: location + "/snapshots", withDestinationPath: moved)
    let before = try files.contentsOfDirectory(atPath: moved).sorted()
    await expectRefused(location, entry: "snapshots")
    #expect(try files.contentsOfDirectory(atPath: moved).sorted() == before)
  }

  @Test func aLockFileThatIsALinkIsRefusedAndItsTargetUntouched() async throws {
    let (location, outside, _) = try await storeAndOutside()
    defer { try? files.removeItem(atPath: location + "/..") }
    let target = outside + "/victim"
    try Data("keep me".utf8).write(to: URL(fileURLWithPath: target))
    try files.createSymbolicLink(atPath: location + "/.lock", withDestinationPath: target)
    await expectRefused(location, entry: ".lock")
    #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me")
  }

  /// Opening a FIFO for reading waits for a writer: the open would hang for good.
  @Test(.timeLimit(.minutes(1)))
  func aWALThatIsAFIFOIsRefusedRatherThanWaitedOn() async throws {
    let (location, _, wal) = try await storeAndOutside()
    defer { try? files.removeItem(atPath: location + "/..") }
    try files.removeItem(atPath: location + "/" + wal)
    #expect(mkfifo(location + "/" + wal, 0o644) == 0)
    await expectRefused(location, entry: wal, because: "not a regular file", readOnly: true)
  }

  @Test func aLocationThatIsItselfALinkIsServed() async throws {
    let (location, outside, _) = try await storeAndOutside()
    defer { try? files.removeItem(atPath: location + "/..") }
    let link = outside + "/link-to-store"
    try files.createSymbolicLink(atPath: link, withDestinationPath: location)
    let store = try await Store<JSONValue>.open(link)
    try await store.set("c", 3)
    try await store.compact()
    #expect(try store.entries().map(\.id) == ["a", "b", "c"])
    try await store.close()
    let reopened = try await Store<JSONValue>.open(location)
    #expect(try reopened.get("c") == 3)
    try await reopened.close()
  }
}
