// Two agents in two processes write one store at once, then each refreshes and the two
// views are printed side by side: they are the same deterministic merge.
//
//   swift run MultiWriter [location]
//
// The first process is agent A; it starts a second copy of itself as agent B. Without a
// location, the store goes in a temporary directory that A removes at the end.

import Foundation
import OpsLog

struct Todo: Codable, Sendable {
  var title: String
  var by: String
}

let arguments = CommandLine.arguments
let isAgentB = arguments.count >= 3 && arguments[1] == "--agent-b"
let location =
  isAgentB
  ? arguments[2]
  : (arguments.count >= 2
    ? arguments[1]
    : FileManager.default.temporaryDirectory.appendingPathComponent("opslog-multiwriter-\(UUID().uuidString)").path)
let agentId = isAgentB ? "agent-B" : "agent-A"

// When done, A removes what the run made: the marker file beside the store (see below) and,
// unless a location was given, the temporary store.
defer {
  if !isAgentB {
    try? FileManager.default.removeItem(atPath: location + "-a-done")
    if arguments.count < 2 { try? FileManager.default.removeItem(atPath: location) }
  }
}

var options = StoreOptions()
options.checkpointOnClose = false
let store = try await Store<Todo>.open(location, agentId: agentId, options: options)

/// One line per record, by id: each agent's all() keeps its own first-insertion order (a
/// reopen gives the merge's), while the records and values are the same deterministic merge.
func view(_ store: Store<Todo>) throws -> [String] {
  try store.entries().sorted { $0.id < $1.id }.map { "\($0.id): \($0.record.title) (\($0.record.by))" }
}

var bProcess: Process? = nil
var bOutput: Pipe? = nil
if !isAgentB {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
  process.arguments = ["--agent-b", location]
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  bProcess = process
  bOutput = pipe
}

// Both write their own tasks and the same shared one, interleaved in time.
for i in 1...3 {
  try await store.set("\(agentId)-\(i)", Todo(title: "task \(i)", by: agentId))
  try await store.set("shared", Todo(title: "edited \(i) times", by: agentId))
  try await Task.sleep(for: .milliseconds(20))
}

if isAgentB {
  // Wait until A says it is done writing (a marker file beside the store), then refresh and report.
  while !FileManager.default.fileExists(atPath: location + "-a-done") { try await Task.sleep(for: .milliseconds(10)) }
  try await store.refresh()
  print(try view(store).joined(separator: "\n"))
  try await store.close()
} else {
  _ = FileManager.default.createFile(atPath: location + "-a-done", contents: Data())
  bProcess?.waitUntilExit()
  let bView = String(decoding: bOutput?.fileHandleForReading.readDataToEndOfFile() ?? Data(), as: UTF8.self)
    .split(separator: "\n").map(String.init)
  try await store.refresh()
  let aView = try view(store)
  let width = max(32, (aView.map(\.count).max() ?? 0) + 2)
  func pad(_ text: String) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
  print("store: \(location)\n")
  print(pad("agent A (this process)") + "agent B (second process)")
  print(pad(String(repeating: "-", count: width - 2)) + String(repeating: "-", count: width - 2))
  for index in 0..<max(aView.count, bView.count) {
    print(pad(index < aView.count ? aView[index] : "") + (index < bView.count ? bView[index] : ""))
  }
  print("\nsame view: \(aView == bView)")
  try await store.close()
}
