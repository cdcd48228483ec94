import Foundation
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogS3
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

/// The store's scenarios on S3: what memory shows is what a reopen shows, in every write mode,
/// through undo, batches and checkpoints; a follower's feed; writers and agents sharing one
/// prefix.
@Suite("Store on S3")
struct S3StoreTests {
  static let modes: [WriteMode] = [.immediate, .group, .async]

  func snapshot(_ store: Store<Note>) throws -> [String: String] {
    Dictionary(uniqueKeysWithValues: try store.entries().map { ($0.id, $0.record.text) })
  }

  @Test(arguments: modes)
  func memoryEqualsAReopenInEveryWriteMode(mode: WriteMode) async throws {
    let location = freshLocation()
    let options = try s3Options { options in
      options.writeMode = mode
      options.checkpointThreshold = 1000
      options.groupCommitInterval = .milliseconds(5)
    }
    let store = try await Store<Note>.open(location, options: options)
    for index in 0..<20 { try await store.set("n\(index)", Note(text: "v\(index)")) }
    // A checkpoint between the writes: undo works within the generation after it.
    try await store.compact()
    try await store.batch { batch in
      batch.set("b1", Note(text: "batch"))
      try batch.delete("n0")
    }
    try await store.delete("n1")
    try await store.set("n2", Note(text: "changed"))
    #expect(try await store.undo())
    try await store.flush()
    let before = try snapshot(store)
    #expect(before["n2"] == "v2")
    #expect(before["n0"] == nil && before["b1"] == "batch" && before["n1"] == nil)
    try await store.close()

    let reopened = try await Store<Note>.open(location, options: try s3Options())
    #expect(try snapshot(reopened) == before)
    try await reopened.compact()
    try await reopened.close()
    let again = try await Store<Note>.open(location, options: try s3Options())
    #expect(try snapshot(again) == before)
    try await again.close()
  }

  @Test func aSecondWriterIsLockedOut() async throws {
    let location = freshLocation()
    let store = try await Store<Note>.open(location, options: try s3Options())
    try await store.set("a", Note(text: "a"))
    let error = await thrownError { _ = try await Store<Note>.open(location, options: try s3Options()) }
    #expect(isLocked(error))
    try await store.close()
    let next = try await Store<Note>.open(location, options: try s3Options())
    #expect(try next.get("a") == Note(text: "a"))
    try await next.close()
  }

  @Test func aFollowerSeesChangesAndUndo() async throws {
    let location = freshLocation()
    let writer = try await Store<Note>.open(location, options: try s3Options { $0.checkpointThreshold = 1000 })
    try await writer.set("a", Note(text: "a"))
    let follower = try await Store<Note>.open(location, options: try s3Options { $0.readOnly = true })
    var feed = follower.changes(pollInterval: .milliseconds(50)).makeAsyncIterator()
    try await writer.set("b", Note(text: "b"))
    var appliedIDs: [String] = []
    while appliedIDs != ["b"] {
      guard case .applied(let operations)? = try await feed.next() else { continue }
      appliedIDs += operations.map(\.id)
    }
    #expect(try await writer.undo())
    var sawUndo = false
    while !sawUndo {
      switch try await feed.next() {
      case .undone(let operations)?: sawUndo = operations.map(\.id) == ["b"]
      case .reloaded?: sawUndo = true
      default: continue
      }
    }
    #expect(try follower.get("b") == nil)
    try await writer.set("c", Note(text: "c"))
    try await writer.compact()
    try await writer.set("d", Note(text: "d"))
    _ = try await follower.tail()
    #expect(try snapshot(follower) == (try snapshot(writer)))
    try await follower.close()
    try await writer.close()
  }

  @Test func agentsShareOnePrefix() async throws {
    let location = freshLocation()
    let first = try await Store<Note>.open(
      location, agentId: "one", options: try s3Options { $0.checkpointOnClose = false })
    let second = try await Store<Note>.open(
      location, agentId: "two", options: try s3Options { $0.checkpointOnClose = false })
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { for index in 0..<15 { try await first.set("one-\(index)", Note(text: "1")) } }
      group.addTask { for index in 0..<15 { try await second.set("two-\(index)", Note(text: "2")) } }
      try await group.waitForAll()
    }
    try await first.compact()
    try await second.set("shared", Note(text: "from two"))
    // Having seen the other agent's write, this one's comes after it by the merge rule.
    try await first.refresh()
    try await first.set("shared", Note(text: "from one, later"))
    try await first.close()
    try await second.close()
    let reader = try await Store<Note>.open(location, agentId: "three", options: try s3Options())
    let seen = try snapshot(reader)
    #expect(seen.count == 31)
    #expect(seen["shared"] == "from one, later")
    try await reader.close()
  }
}
