// The agent of the multi-process feed property test (OpsLogMultiWriterTests,
// AgentFeedPropertyTests): one of several processes writing one store as multi-writer agents,
// one step at a time as the parent says, reporting after each step its state and whether its
// change feed accounts for it.
//
// feed-agent <location> <agentId>
//
// Steps on stdin, one a line:
//
//   set <key> <text>       sets <key> to {"text": <text>} (no spaces in either)
//   delete-own <n>         deletes the n-th (modulo their count) of its own keys, if it has any
//   undo | compact | refresh
//   quit                   closes the store and exits
//
// After each step, on stdout, flushed at once:
//
//   feed ok | feed mismatch <what differs>   the changes queued since the last step, applied
//                                            to the state after it, give the state now (a
//                                            `.reloaded` gives no state to check against)
//   entry <id> <text>                        one per record, in the store's order
//   end
//
// and `closed` after `quit`. Any error ends the process with code 4; standard input ending
// before `quit` with code 5.

import Foundation
import OpsLog
@_spi(Testing) import OpsLogEngine

func runFeedAgent(_ arguments: [String]) async {
  guard arguments.count == 4 else { fail("usage: feed-agent <location> <agentId>", code: 2) }
  let agentId = arguments[3]
  var options = StoreOptions()
  options.checkpointOnClose = false
  options.checkpointThreshold = 1_000_000
  do {
    let store = try await Store<JSONValue>.open(arguments[2], agentId: agentId, options: options)
    let feed = store.subscribeToChanges()
    func state() throws -> [String: String] {
      var texts: [String: String] = [:]
      for (id, record) in try store.entries() { texts[id] = record["text"]?.stringValue ?? "?" }
      return texts
    }
    var model: [String: String]? = try state()
    say("ready")
    while let line = readLine() {
      let words = line.split(separator: " ").map(String.init)
      guard let command = words.first else { continue }
      switch command {
      case "set" where words.count == 3:
        try await store.set(words[1], ["text": .string(words[2])])
      case "delete-own" where words.count == 2:
        let own = try store.entries().map(\.id).filter { $0.hasPrefix("own-\(agentId)-") }
        if !own.isEmpty, let index = Int(words[1]) { try await store.delete(own[index % own.count]) }
      case "undo":
        try await store.undo()
      case "compact":
        try await store.compact()
      case "refresh":
        try await store.refresh()
      case "quit":
        try await store.close()
        say("closed")
        return
      default:
        fail("unknown step \(line)", code: 2)
      }
      let now = try state()
      for change in feed.takeQueued() {
        switch change {
        case .applied(let operations):
          for operation in operations { model?[operation.id] = operation.data?["text"]?.stringValue }
        case .undone(let operations):
          for operation in operations {
            if case .record(let previous) = operation.previous {
              model?[operation.id] = previous["text"]?.stringValue
            } else {
              model?[operation.id] = nil
            }
          }
        case .reloaded:
          model = nil
        }
      }
      if let model, model != now {
        let keys = Set(model.keys).union(now.keys).filter { model[$0] != now[$0] }.sorted()
        say(
          "feed mismatch "
            + keys.map { "\($0): feed \(model[$0] ?? "-") state \(now[$0] ?? "-")" }.joined(separator: ", "))
      } else {
        say("feed ok")
      }
      for (id, record) in try store.entries() { say("entry \(id) \(record["text"]?.stringValue ?? "?")") }
      say("end")
      model = now
    }
    // The parent always ends with `quit`: a standard input that ends first is told apart
    // from a clean exit, with the errno of the failed read (0 at the end of the file). (The
    // "exited with status 0 before replying" once seen in a full run was the parent giving up
    // before the pipe delivered `closed`; the parent now reads the pipe to its end first.)
    fail("standard input ended before quit: errno \(errno)", code: 5)
  } catch {
    fail("error \(error)", code: 4)
  }
}
