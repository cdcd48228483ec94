// Two agent processes sharing one store in an S3 bucket.
//
// Start an S3-compatible server first, for example the tests' local moto server:
//
//   python3 Tests/S3Support/s3-test-server.py --port 9000     (pip install 'moto[server]')
//
// then, in another terminal:
//
//   swift run S3Agents                       two agents, then a third that reads them back
//   swift run -c release S3Agents measure    acknowledged-write latency per write mode
//
// OPSLOG_S3_ENDPOINT and OPSLOG_S3_BUCKET choose another server (default
// http://127.0.0.1:9000 and the bucket opslog-tests); AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY the keys (a local moto server accepts any).
import Foundation
import OpsLog
import OpsLogS3

struct Todo: Codable, Sendable {
  var title: String
  var done = false
}

let environment = ProcessInfo.processInfo.environment
let endpoint = environment["OPSLOG_S3_ENDPOINT"] ?? "http://127.0.0.1:9000"
let bucket = environment["OPSLOG_S3_BUCKET"] ?? "opslog-tests"

func configuration() -> S3Configuration {
  let credentials: S3Credentials =
    environment["AWS_ACCESS_KEY_ID"] == nil
    ? .fixed(accessKeyID: "example", secretAccessKey: "example") : .environment
  var configuration = S3Configuration(endpoint: endpoint, region: "us-east-1", bucket: bucket, credentials: credentials)
  configuration.leaseDuration = .seconds(5)
  return configuration
}

func options(_ mode: WriteMode = .immediate) -> StoreOptions {
  var options = StoreOptions()
  options.backend = S3Backend(configuration())
  options.writeMode = mode
  return options
}

/// One agent: adds its todos, marks every other one done, and closes.
func runAgent(_ agentId: String, location: String) async throws {
  let store = try await Store<Todo>.open(location, agentId: agentId, options: options())
  for index in 1...5 {
    try await store.set("\(agentId)-\(index)", Todo(title: "\(agentId): todo \(index)"))
  }
  for index in stride(from: 1, through: 5, by: 2) {
    try await store.set("\(agentId)-\(index)", Todo(title: "\(agentId): todo \(index)", done: true))
  }
  try await store.close()
  print("\(agentId): wrote 5 todos")
}

func measure() async throws {
  // (name, mode, concurrent writers, writes each): one writer waiting for each write, many
  // writers sharing writes, and group commit.
  let runs: [(String, WriteMode, Int, Int)] = [
    ("immediate", .immediate, 1, 300), ("immediate", .immediate, 64, 40), ("group", .group, 64, 40),
  ]
  for (name, mode, writers, perWriter) in runs {
    let location = "measure/\(name)-\(UUID().uuidString.prefix(8))"
    var storeOptions = options(mode)
    storeOptions.checkpointThreshold = 1_000_000
    storeOptions.checkpointOnClose = false
    let store = try await Store<Todo>.open(location, options: storeOptions)
    let latencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
      for writer in 0..<writers {
        group.addTask {
          var latencies: [Duration] = []
          for index in 0..<perWriter {
            let start = ContinuousClock.now
            try await store.set("w\(writer)-\(index)", Todo(title: "measure"))
            latencies.append(ContinuousClock.now - start)
          }
          return latencies
        }
      }
      let started = ContinuousClock.now
      var all: [Duration] = []
      for try await part in group { all += part }
      return (all.sorted(), ContinuousClock.now - started)
    }
    let (sorted, elapsed) = latencies
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    func milliseconds(_ duration: Duration) -> String {
      String(
        format: "%.1f ms", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000)
    }
    print(
      "\(name): \(sorted.count) acknowledged writes from \(writers) concurrent writer(s), "
        + String(format: "%.0f ops/s", Double(sorted.count) / seconds)
        + ", p50 \(milliseconds(sorted[sorted.count / 2])), p99 \(milliseconds(sorted[sorted.count * 99 / 100]))")
    try await store.close()
  }
}

let arguments = CommandLine.arguments
do {
  if arguments.count >= 2 && arguments[1] == "measure" {
    try await measure()
  } else if arguments.count == 4 && arguments[1] == "agent" {
    try await runAgent(arguments[2], location: arguments[3])
  } else {
    // The parent: starts two agent processes of this same executable on one prefix, waits
    // for both, then opens a third agent that sees what both wrote.
    let location = "examples/s3-agents-\(UUID().uuidString.prefix(8))"
    // Written at once, not buffered: the agents' own lines follow it.
    FileHandle.standardOutput.write(Data("store: s3://\(bucket)/\(location) at \(endpoint)\n".utf8))
    var children: [Process] = []
    for agentId in ["laptop-1", "laptop-2"] {
      let child = Process()
      child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).absoluteURL
      child.arguments = ["agent", agentId, location]
      try child.run()
      children.append(child)
    }
    for child in children {
      child.waitUntilExit()
      guard child.terminationStatus == 0 else {
        print("an agent failed (exit \(child.terminationStatus)); is the S3 server running at \(endpoint)?")
        exit(1)
      }
    }
    let reader = try await Store<Todo>.open(location, agentId: "reader", options: options())
    let todos = try reader.entries().sorted { $0.id < $1.id }
    for (id, todo) in todos { print("  \(todo.done ? "[x]" : "[ ]") \(id): \(todo.title)") }
    print("reader: \(todos.count) todos from both agents, \(todos.filter(\.record.done).count) done")
    try await reader.close()
  }
} catch {
  print("error: \(error)")
  exit(1)
}
