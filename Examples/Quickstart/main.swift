// The README's first example: open a store, write, update, delete, undo, batch, reopen.
//
//     swift run Quickstart
//
// It works in a fresh temporary directory and prints what it sees at each step.
import Foundation
import OpsLog

struct Todo: Codable, Sendable {
  var title: String
  var status: String
}

func show(_ label: String, _ store: Store<Todo>) throws {
  let lines = try store.entries().map { "\($0.id): \($0.record.title) [\($0.record.status)]" }
  print("\(label):", lines.isEmpty ? "(empty)" : "")
  for line in lines { print("  " + line) }
}

let directory = FileManager.default.temporaryDirectory
  .appendingPathComponent("opslog-quickstart-\(ProcessInfo.processInfo.processIdentifier)").path
defer { try? FileManager.default.removeItem(atPath: directory) }
print("store: \(directory)")

let store = try await Store<Todo>.open(directory)
try await store.set("t1", Todo(title: "Write the README", status: "active"))
try await store.set("t2", Todo(title: "Ship 1.0", status: "blocked"))
try await store.set("t1", Todo(title: "Write the README", status: "done"))  // an update keeps its place
try show("after three writes", store)

try await store.delete("t2")
try show("after deleting t2", store)

try await store.undo()  // puts t2 back, in its place
try show("after undo", store)

try await store.batch { batch in  // one WAL write, all or nothing
  batch.set("t3", Todo(title: "Benchmark", status: "active"))
  batch.set("t4", Todo(title: "Tag the release", status: "active"))
}
print("history of t1:", try store.history(of: "t1").map { "\($0.kind.rawValue) \($0.data?.status ?? "-")" })
try await store.close()

let reopened = try await Store<Todo>.open(directory)
try show("after reopening", reopened)
let stats = try reopened.stats()
print("stats: \(stats.activeRecords) records, \(stats.opsCount) operations since the last checkpoint")
try await reopened.close()
