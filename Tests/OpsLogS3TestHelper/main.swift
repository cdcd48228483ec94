// The child process of the multi-process S3 tests: an agent or a single writer on a bucket
// prefix that writes numbered records and prints each one after its write is acknowledged,
// so that a test that kills it with SIGKILL knows exactly what must survive.
//
//   OpsLogS3TestHelper agent  ENDPOINT BUCKET LOCATION AGENT COUNT COMPACT_EVERY
//   OpsLogS3TestHelper writer ENDPOINT BUCKET LOCATION NAME  COUNT COMPACT_EVERY
import Foundation
import OpsLog
import OpsLogS3

struct Note: Codable, Sendable {
  var text: String
}

let arguments = CommandLine.arguments
guard arguments.count == 8, let count = Int(arguments[6]), let compactEvery = Int(arguments[7]) else {
  FileHandle.standardError.write(
    Data("usage: OpsLogS3TestHelper agent|writer ENDPOINT BUCKET LOCATION NAME COUNT COMPACT_EVERY\n".utf8))
  exit(2)
}
let mode = arguments[1]
let name = arguments[5]
var configuration = S3Configuration(
  endpoint: arguments[2], region: "us-east-1", bucket: arguments[3],
  credentials: .fixed(accessKeyID: "opslog-test-key", secretAccessKey: "opslog-test-secret-never-shown"))
configuration.leaseDuration = .seconds(5)

func say(_ line: String) {
  FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

do {
  var options = StoreOptions()
  options.backend = S3Backend(configuration)
  options.checkpointOnClose = false
  options.checkpointThreshold = 1_000_000
  let store: Store<Note>
  if mode == "agent" {
    store = try await Store<Note>.open(arguments[4], agentId: name, options: options)
  } else {
    // A writer waits out a lease a killed predecessor left behind.
    var opened: Store<Note>?
    let deadline = ContinuousClock.now + .seconds(30)
    while opened == nil {
      do {
        options.backend = S3Backend(configuration)
        opened = try await Store<Note>.open(arguments[4], options: options)
      } catch OpsLogError.locked where ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(200))
      }
    }
    store = opened!
  }
  say("open \(try store.count())")
  for index in 0..<count {
    let id = "\(name)-\(index)"
    try await store.set(id, Note(text: "written by \(name)"))
    say("ack \(id)")
    if compactEvery > 0 && (index + 1) % compactEvery == 0 {
      say("compacting")
      try await store.compact()
      say("compacted")
    }
  }
  try await store.close()
  say("done")
} catch {
  say("error \(error)")
  exit(1)
}
