/// The benchmark record of Docs/BENCHMARKS.md ("The record"), shared by every workload.
struct Task: Codable, Sendable, Equatable {
  var title: String
  var status: String
  var priority: Int
  var tags: [String]
  var estimate: Double
  var assignee: Assignee

  struct Assignee: Codable, Sendable, Equatable {
    var name: String
    var id: Int
  }

  static let statuses = ["active", "done", "blocked"]

  /// Record `index`, exactly as the reference builds it.
  init(index: Int) {
    title = "Task number \(index) with some text"
    status = Self.statuses[index % 3]
    priority = index % 5 + 1
    tags = ["a", "b", "t\(index % 17)"]
    estimate = Double(index % 1000) / 100
    assignee = Assignee(name: "user\(index % 100)", id: index % 100)
  }

  static func id(_ index: Int) -> String { "task-\(index)" }

  /// Records `indices` with their IDs, built before a timed loop: what the write workloads
  /// time is the `set` calls, not the string formatting that makes their arguments (about
  /// 0.4 µs a record, a sixth of a buffered write).
  static func prepared(_ indices: Range<Int>) -> [(id: String, record: Task)] {
    indices.map { (id($0), Task(index: $0)) }
  }
}

/// One snapshot line: `{"id":…,"data":<record>}`.
struct SnapshotLine<Record: Codable & Sendable>: Codable, Sendable {
  var id: String
  var data: Record
}
