// Compiled with default main-actor isolation (`-default-isolation MainActor`, as new app
// targets are), so this file checks that the store's closures can be written inline from
// main-actor code, from an actor and from nonisolated code, with no annotation by the caller.
import Foundation
import Observation
import OpsLog
import Testing

/// Records under default main-actor isolation are `nonisolated`, so that the store may encode
/// and decode them off the main actor.
nonisolated struct Todo: Codable, Sendable, Equatable {
  var title: String
  var done: Bool
}

/// A view model, isolated to the main actor like every type in this target.
@Observable
final class TodoModel {
  var titles: [String] = []
  var archived = 0
  let store: Store<Todo>

  init(store: Store<Todo>) { self.store = store }

  func addTwo(prefix: String) async throws {
    // `prefix` and `self` are main-actor state, captured by the closure.
    try await store.batch { batch in
      batch.set("\(prefix)-1", Todo(title: "\(prefix) one", done: false))
      batch.set("\(prefix)-2", Todo(title: "\(prefix) two", done: true))
      self.titles.append(prefix)
    }
  }

  func archiveDone() async throws {
    archived = try await store.archive(segment: "done") { todo, _ in todo.done && !self.titles.isEmpty }
  }

  func openCount() throws -> Int {
    try store.count { todo, _ in !todo.done && !self.titles.isEmpty }
  }
}

actor Importer {
  var imported = 0
  let store: Store<Todo>
  init(store: Store<Todo>) { self.store = store }

  func importAll(_ titles: [String]) async throws {
    try await store.batch { batch in
      for title in titles {
        batch.set(title, Todo(title: title, done: false))
        imported += 1
      }
    }
    _ = try await store.archive(segment: "imported") { _, id in self.imported > 100 && id.isEmpty }
  }
}

nonisolated func nonisolatedBatch(_ store: Store<Todo>) async throws {
  var count = 0
  try await store.batch { batch in
    batch.set("n", Todo(title: "n", done: false))
    count += 1
  }
  #expect(count == 1)
}

@Suite("Closures from any isolation")
struct IsolationTests {
  @Test func batchArchiveAndFilterFromTheMainActorAnActorAndNonisolatedCode() async throws {
    let location = FileManager.default.temporaryDirectory.appendingPathComponent(
      "opslog-isolation-\(UUID().uuidString)"
    )
    .path
    defer { try? FileManager.default.removeItem(atPath: location) }
    var options = StoreOptions()
    options.backend = MemoryBackend()
    let store = try await Store<Todo>.open(location, options: options)
    let model = TodoModel(store: store)
    try await model.addTwo(prefix: "a")
    #expect(model.titles == ["a"])
    #expect(try model.openCount() == 1)
    try await model.archiveDone()
    #expect(model.archived == 1)
    let importer = Importer(store: store)
    try await importer.importAll(["x", "y"])
    #expect(await importer.imported == 2)
    try await nonisolatedBatch(store)
    #expect(try store.all().count == 4)
    try await store.close()
  }
}
