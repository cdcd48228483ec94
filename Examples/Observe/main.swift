// An @Observable model kept current by a store's change feed: what a SwiftUI view would bind
// to. Run it with `swift run Observe`.
import Foundation
import Observation
import OpsLog

struct Todo: Codable, Sendable, Equatable {
  var title: String
  var done: Bool
}

/// The view model: the todos in store order, updated only through `changes()`, never by
/// re-reading after each write.
@MainActor
@Observable
final class TodoList {
  private(set) var todos: [(id: String, todo: Todo)] = []
  private let store: Store<Todo>

  init(store: Store<Todo>) throws {
    self.store = store
    todos = try store.entries().map { ($0.id, $0.record) }
  }

  /// Applies each change as it arrives; a rebuilt state is read afresh.
  func follow(_ changes: AsyncThrowingStream<StoreChange<Todo>, any Error>) async throws {
    for try await change in changes {
      switch change {
      case .applied(let operations):
        for operation in operations { apply(operation.id, operation.data) }
      case .undone(let operations):
        for operation in operations {
          if case .record(let previous) = operation.previous {
            apply(operation.id, previous)
          } else {
            apply(operation.id, nil)
          }
        }
      case .reloaded:
        todos = try store.entries().map { ($0.id, $0.record) }
      }
      render()
    }
  }

  private func apply(_ id: String, _ todo: Todo?) {
    if let index = todos.firstIndex(where: { $0.id == id }) {
      if let todo { todos[index].todo = todo } else { todos.remove(at: index) }
    } else if let todo {
      todos.append((id, todo))
    }
  }

  /// What a view would show.
  func render() {
    let lines = todos.map { "  [\($0.todo.done ? "x" : " ")] \($0.todo.title)" }
    print("view:\n" + (lines.isEmpty ? "  (nothing to do)" : lines.joined(separator: "\n")))
  }
}

@main
struct ObserveExample {
  @MainActor
  static func main() async throws {
    let location = FileManager.default.temporaryDirectory.appendingPathComponent("opslog-observe-\(UUID().uuidString)")
      .path
    defer { try? FileManager.default.removeItem(atPath: location) }
    let store = try await Store<Todo>.open(location)
    let model = try TodoList(store: store)
    let changes = store.changes()
    let follower = Task { try await model.follow(changes) }

    // A writer elsewhere in the app: the model learns of each write from the feed.
    try await store.set("milk", Todo(title: "Buy milk", done: false))
    try await store.set("docs", Todo(title: "Write the docs", done: false))
    try await store.batch { batch in
      batch.set("milk", Todo(title: "Buy milk", done: true))
      batch.set("walk", Todo(title: "Walk the dog", done: false))
    }
    try await store.undo()  // takes the whole batch back
    try await store.delete("docs")
    try await Task.sleep(for: .milliseconds(100))
    try await store.close()  // finishes the feed
    try await follower.value
    print("the model holds \(model.todos.count) todo(s): \(model.todos.map(\.id))")
  }
}
