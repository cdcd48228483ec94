import Foundation
import OpsLogMultiWriter
import OpsLogTestSupport
import OpsLogTypes
import Testing

/// The `opslog` tool, run as a user runs it: a child process, its exit code and its output.
@Suite struct ReadingCommandTests {
  @Test(arguments: CommandFixture.cases)
  func verifyPassesEveryReferenceFixtureButTheTornOne(_ fixture: String) async throws {
    let result = try await opslog("verify", CommandFixture.store(fixture))
    if fixture == "torn-tail" {
      #expect(result.status == 1, "\(result)")
      #expect(result.stdoutLines.count == 3)
      #expect(result.stdoutLines.allSatisfy { $0.hasPrefix("ops/ops-1795353326788.jsonl:") })
      #expect(result.stdoutLines.last?.contains(":23: the last line has no newline") == true)
      #expect(result.stderr.contains("3 problems in 1 file"))
    } else {
      #expect(result.status == 0, "\(result)")
      #expect(result.stdout.isEmpty)
      #expect(result.stderr.contains("no problems"))
    }
  }

  @Test(arguments: CommandFixture.cases)
  func inspectReportsTheReferenceCounts(_ fixture: String) async throws {
    let result = try await opslog("inspect", "--json", CommandFixture.store(fixture))
    #expect(result.status == 0, "\(result)")
    let report = try result.json()
    let expected = try CommandFixture.expected(fixture)
    #expect(report["records"]?.intValue == expected["recordCount"]?.intValue)
    #expect(report["operations"]?.intValue == expected["walOps"]?.intValue)
    #expect(report["manifest"]?["currentSnapshot"]?.stringValue?.hasPrefix("snapshots/") == true)
    let agents = report["agents"]?.arrayValue?.compactMap(\.stringValue)
    #expect(agents == (fixture == "multi-writer" ? ["agent-A", "agent-B"] : []))
    let text = try await opslog("inspect", CommandFixture.store(fixture))
    #expect(text.status == 0)
    #expect(text.stdout.contains("records          \(expected["recordCount"]?.intValue ?? -1)\n"))
    #expect(text.stdout.contains("generations (oldest first)"))
  }

  @Test func inspectShowsGarbageAndThePreviousGeneration() async throws {
    let report = try await opslog("inspect", "--json", CommandFixture.store("archived")).json()
    #expect(report["garbage"]?["files"]?.intValue == 6)
    let roles = try #require(report["generations"]?.arrayValue).compactMap { $0["role"]?.stringValue }
    #expect(roles == ["garbage", "garbage", "garbage", "previous", "current"])
  }

  @Test(arguments: CommandFixture.cases)
  func dumpGivesTheReferenceRecordsInOrder(_ fixture: String) async throws {
    let result = try await opslog("dump", "--format", "jsonl", CommandFixture.store(fixture))
    #expect(result.status == 0, "\(result)")
    let expected = try #require(try CommandFixture.expected(fixture)["records"]?.objectValue)
    let lines = try result.stdoutLines.map { try #require(try JSONValue(parsing: $0).objectValue) }
    #expect(lines.compactMap { $0["id"]?.stringValue } == expected.keys)
    for line in lines {
      let id = try #require(line["id"]?.stringValue)
      #expect(line["data"]?.isIdentical(to: try #require(expected[id])) == true, "\(id)")
    }
    let pretty = try await opslog("dump", CommandFixture.store(fixture))
    #expect(try pretty.json() == .object(expected))
  }

  @Test func dumpOneRecordOrExitOneWhenItIsMissing() async throws {
    let found = try await opslog("dump", CommandFixture.store("tricky-json"), "--id", "numbers")
    #expect(found.status == 0)
    #expect(try found.json()["changed"] == .bool(true))
    let missing = try await opslog("dump", CommandFixture.store("tricky-json"), "--id", "no-such-record")
    #expect(missing.status == 1)
    #expect(missing.stderr.contains("no record \"no-such-record\""))
  }

  @Test func historyReadsEveryWALOnDiskOldestFirst() async throws {
    let result = try await opslog("history", CommandFixture.store("wal-replay"), "k1", "--json")
    #expect(result.status == 0, "\(result)")
    let entries = try #require(try result.json().arrayValue)
    #expect(
      entries.compactMap { $0["file"]?.stringValue } == ["ops/ops-1795353326712.jsonl", "ops/ops-1795353326719.jsonl"])
    #expect(entries.last?["data"]?["replaced"] == .bool(true))
    let missing = try await opslog("history", CommandFixture.store("wal-replay"), "never-written")
    #expect(missing.status == 1)
  }

  @Test func historyOutlivesACheckpointAndShowsCarriedLinesOnce() async throws {
    try await withScratch { root in
      let location = try copyFixture("wal-replay", to: root)
      // Every WAL stays on disk (the default keeps one superseded generation).
      var options = StoreOptions()
      options.retainedGenerations = nil
      let store = try await Store<JSONValue>.open(location, options: options)
      try await store.set("k1", ["after": true])
      try await store.compact()
      #expect(try store.history(of: "k1").isEmpty)
      try await store.close()
      let result = try await opslog("history", location, "k1", "--json")
      let entries = try #require(try result.json().arrayValue)
      #expect(entries.count == 3)
      #expect(entries.last?["data"]?["after"] == .bool(true))
    }
  }

  @Test func tailPrintsTheLastOperationsInApplyOrder() async throws {
    let result = try await opslog("tail", CommandFixture.store("multi-writer"), "-n", "2", "--json")
    #expect(result.status == 0, "\(result)")
    let clocks = try result.stdoutLines.map { try JSONValue(parsing: $0)["clock"]?.intValue }
    #expect(clocks == [14, 15])
  }

  @Test func exportImportRoundTripsEveryFixture() async throws {
    try await withScratch { root in
      for fixture in CommandFixture.cases {
        let exported = try await opslog("export", CommandFixture.store(fixture))
        #expect(exported.status == 0)
        try writeText(root + "/\(fixture).jsonl", exported.stdout)
        let imported = try await opslog("import", root + "/\(fixture)", root + "/\(fixture).jsonl")
        #expect(imported.status == 0, "\(imported)")
        let again = try await opslog("export", root + "/\(fixture)")
        #expect(again.stdout == exported.stdout, "\(fixture)")
        let store = try await Store<JSONValue>.open(root + "/\(fixture)", options: readOnly())
        #expect(try store.count() == exported.stdoutLines.count)
        try await store.close()
      }
    }
  }

  @Test func importFromStdinAddsToAnExistingStore() async throws {
    try await withScratch { root in
      let location = try copyFixture("group-mode", to: root)
      let before = try await opslog("export", location).stdoutLines.count
      let result = try await opslog(
        "import", location, "-", "--json",
        stdin: #"{"id":"new-1","data":{"n":1}}"# + "\n" + #"{"id":"new-2","data":[2]}"#)
      #expect(result.status == 0, "\(result)")
      #expect(try result.json()["imported"] == 2)
      let after = try await opslog("dump", location, "--id", "new-2", "--format", "jsonl")
      #expect(after.stdout == #"{"id":"new-2","data":[2]}"# + "\n")
      #expect(try await opslog("export", location).stdoutLines.count == before + 2)
    }
  }

  @Test func importRefusesAFileWithBadLinesAndWritesNothing() async throws {
    try await withScratch { root in
      let location = try copyFixture("group-mode", to: root)
      let files = try snapshotOfFiles(location)
      try writeText(root + "/in.jsonl", #"{"id":"a","data":1}"# + "\n{broken\n" + #"{"id":"","data":1}"# + "\n")
      let result = try await opslog("import", location, root + "/in.jsonl")
      #expect(result.status == 1)
      #expect(
        result.stdoutLines == [
          root + "/in.jsonl:2: not valid JSON: expected a string key in an object at byte 2",
          root + "/in.jsonl:3: id is not a non-empty string",
        ])
      #expect(try snapshotOfFiles(location) == files)
    }
  }

  @Test func readingCommandsWriteNothing() async throws {
    try await withScratch { root in
      let location = try copyFixture("torn-tail", to: root)
      let files = try snapshotOfFiles(location)
      for command in ["inspect", "verify", "dump", "export"] { _ = try await opslog(command, location) }
      _ = try await opslog("history", location, "r1")
      _ = try await opslog("tail", location)
      _ = try await opslog("gc", "--dry-run", location)
      #expect(try snapshotOfFiles(location) == files)
    }
  }

  @Test func badArgumentsExitWithTheUsageCode() async throws {
    let result = try await opslog("tail", CommandFixture.store("group-mode"), "-n", "-1")
    #expect(result.status == 64)
    let unknown = try await opslog("frobnicate")
    #expect(unknown.status == 64)
  }
}

@Suite struct DamagedStoreTests {
  @Test func aTruncatedWALIsReportedWithItsLine() async throws {
    try await withScratch { root in
      let location = try copyFixture("wal-replay", to: root)
      let wal = try file(in: location + "/ops", prefix: "ops-1795353326719")
      let text = try readText(wal)
      try writeText(wal, String(text.dropLast(30)))
      let lineCount = text.split(separator: "\n").count
      let result = try await opslog("verify", location)
      #expect(result.status == 1, "\(result)")
      #expect(
        result.stdoutLines == [
          "ops/ops-1795353326719.jsonl:\(lineCount): the last line has no newline (\(text.split(separator: "\n").last!.utf8.count - 29) bytes): a torn write, or one still in progress"
        ])
      // The rest still reads.
      #expect(try await opslog("inspect", location).status == 0)
      #expect(try await opslog("export", location).stdoutLines.count >= 1)
    }
  }

  @Test func aGarbageLineIsReportedWithItsLine() async throws {
    try await withScratch { root in
      let location = try copyFixture("wal-replay", to: root)
      let wal = try file(in: location + "/ops", prefix: "ops-1795353326719")
      var lines = try readText(wal).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      lines.insert("this is not an operation", at: 4)
      lines.insert(#"{"ts":"2026-01-01T00:00:00.000Z","op":"set","id":"x","prev":null}"#, at: 7)
      try writeText(wal, lines.joined(separator: "\n"))
      let result = try await opslog("verify", location, "--json")
      #expect(result.status == 1)
      let problems = try #require(try result.json()["problems"]?.arrayValue)
      #expect(problems.compactMap { $0["line"]?.intValue } == [5, 8])
      #expect(problems.last?["reason"]?.stringValue == "data is missing in a set")
      #expect(problems.allSatisfy { $0["path"]?.stringValue == "ops/ops-1795353326719.jsonl" })
    }
  }

  @Test func aMissingSnapshotIsAProblemForVerifyAndUnreadableForTheRest() async throws {
    try await withScratch { root in
      let location = try copyFixture("checkpointed", to: root)
      try FileManager.default.removeItem(atPath: location + "/snapshots/snap-1795353326696.jsonl")
      let result = try await opslog("verify", location)
      #expect(result.status == 1, "\(result)")
      #expect(
        result.stdoutLines == [
          "manifest.json:3: currentSnapshot names snapshots/snap-1795353326696.jsonl, which does not exist"
        ])
      for command in ["inspect", "dump", "export"] {
        let read = try await opslog(command, location)
        #expect(read.status == 2, "\(command): \(read)")
        #expect(read.stderr.contains("snap-1795353326696.jsonl"))
      }
    }
  }

  @Test(arguments: [
    ("{\n  \"version\": 1,\n  \"currentSnapshot\": ", "manifest.json:3: not valid JSON"),
    (
      "{\n  \"version\": 0,\n  \"currentSnapshot\": \"snapshots/snap-1.jsonl\"\n}",
      "manifest.json:2: version is less than 1"
    ),
    ("[1, 2]", "manifest.json:1: the manifest is not a JSON object"),
  ])
  func aBadManifestIsAProblemForVerifyAndUnreadableForTheRest(manifest: String, expected: String) async throws {
    try await withScratch { root in
      let location = try copyFixture("group-mode", to: root)
      try writeText(location + "/manifest.json", manifest)
      let result = try await opslog("verify", location)
      #expect(result.status == 1, "\(result)")
      #expect(result.stdoutLines.first?.hasPrefix(expected) == true, "\(result)")
      for command in ["inspect", "dump", "export", "tail"] {
        #expect(try await opslog(command, location).status == 2, "\(command)")
      }
      #expect(try await opslog("compact", location).status == 2)
      #expect(try await opslog("gc", location).status == 2)
    }
  }

  @Test func aCorruptedSnapshotLineIsReportedWithItsLine() async throws {
    try await withScratch { root in
      let location = try copyFixture("checkpointed", to: root)
      let snapshot = location + "/snapshots/snap-1795353326696.jsonl"
      var lines = try readText(snapshot).split(separator: "\n").map(String.init)
      lines[3] = #"{"id":"","data":{}}"#
      try writeText(snapshot, lines.joined(separator: "\n") + "\n")
      let result = try await opslog("verify", location)
      #expect(result.status == 1)
      #expect(result.stdoutLines == ["snapshots/snap-1795353326696.jsonl:4: id is not a non-empty string"])
    }
  }

  @Test func somethingThatIsNoStoreCannotBeRead() async throws {
    try await withScratch { root in
      try writeText(root + "/file", "hello")
      try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
      for location in [root + "/missing", root + "/file", root + "/empty"] {
        for command in ["inspect", "verify", "dump", "export", "gc", "compact"] {
          let result = try await opslog(command, location)
          #expect(result.status == 2, "\(command) \(location): \(result)")
          #expect(result.stderr.hasPrefix("opslog: cannot read \(location)"))
        }
      }
      #expect(try await opslog("inspect", root + "/file").stderr.contains("not a store directory"))
    }
  }
}

@Suite struct ModifyingCommandTests {
  @Test(arguments: [false, true])
  func compactWritesASnapshotTheStoreOpens(gzip: Bool) async throws {
    try await withScratch { root in
      let location = try copyFixture("wal-replay", to: root)
      let before = try await opslog("export", location).stdout
      let result = try await opslog("compact", location, "--json", gzip ? "--gzip" : "--json")
      #expect(result.status == 0, "\(result)")
      let summary = try result.json()
      let snapshot = try #require(summary["snapshot"]?.stringValue)
      #expect(snapshot.hasSuffix(gzip ? ".jsonl.gz" : ".jsonl"))
      let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: location + "/" + snapshot)))
      #expect((bytes.prefix(2) == [0x1F, 0x8B]) == gzip)
      #expect(try await opslog("export", location).stdout == before)
      #expect(try await opslog("verify", location).status == 0)
      let inspect = try await opslog("inspect", "--json", location).json()
      #expect(inspect["operations"] == 0)
    }
  }

  @Test func compactOfAMultiWriterStoreMergesEveryAgent() async throws {
    try await withScratch { root in
      let location = try copyFixture("multi-writer", to: root)
      let before = try await opslog("export", location).stdout
      let result = try await opslog("compact", location, "--agent", "maintenance")
      #expect(result.status == 0, "\(result)")
      #expect(try await opslog("export", location).stdout == before)
      let report = try await opslog("inspect", "--json", location).json()
      #expect(report["agents"] == ["maintenance"])
      #expect(report["operations"] == 0)
      // The agents' old WALs are the previous generation: gc keeps them.
      let gc = try await opslog("gc", location, "--json")
      #expect(gc.status == 0, "\(gc)")
      #expect(try gc.json()["removed"] == [])
    }
  }

  @Test func compressedArchiveSegmentsAreReadAndCheckedLikePlainOnes() async throws {
    try await withScratch { root in
      let location = root + "/store"
      var options = StoreOptions()
      options.snapshotCompression = .gzip(level: 6)
      let store = try await Store<JSONValue>.open(location, options: options)
      try await store.set("kept", ["n": 1])
      try await store.set("old", ["n": 2])
      #expect(try await store.archive(segment: "2024") { _, id in id == "old" } == 1)
      try await store.close()
      let segment = "archive/archive-2024.json.gz"

      let verify = try await opslog("verify", location)
      #expect(verify.status == 0, "\(verify)")
      let history = try await opslog("history", location, "old")
      #expect(history.status == 0, "\(history)")
      #expect(history.stderr.contains("\"old\" is archived in \(segment)"), "\(history)")
      let inspect = try await opslog("inspect", "--json", location)
      #expect(inspect.status == 0, "\(inspect)")
      #expect(inspect.stdout.contains(segment))

      let file = URL(fileURLWithPath: location + "/" + segment)
      let bytes = try Data(contentsOf: file)
      try bytes.prefix(bytes.count - 6).write(to: file)
      let damaged = try await opslog("verify", location)
      #expect(damaged.status == 1, "\(damaged)")
      #expect(damaged.stdoutLines == ["\(segment):0: the gzip stream is truncated"], "\(damaged)")
    }
  }

  @Test func gcRemovesOldGenerationsAndKeepsThePreviousOne() async throws {
    try await withScratch { root in
      let location = try copyFixture("archived", to: root)
      let before = try await opslog("export", location).stdout
      let dryRun = try await opslog("gc", location, "--dry-run", "--json")
      #expect(dryRun.status == 0)
      let listed = try #require(try dryRun.json()["removed"]?.arrayValue).compactMap { $0["path"]?.stringValue }
      #expect(listed.count == 6)
      #expect(listed.allSatisfy { FileManager.default.fileExists(atPath: location + "/" + $0) })
      let result = try await opslog("gc", location)
      #expect(result.status == 0, "\(result)")
      #expect(result.stdoutLines == listed.map { "removed " + $0 })
      #expect(listed.allSatisfy { !FileManager.default.fileExists(atPath: location + "/" + $0) })
      for kept in [
        "snapshots/snap-1795353326744.jsonl", "ops/ops-1795353326744.jsonl", "archive/archive-2024.json",
        "snapshots/snap-1795353326745.jsonl",
      ] {
        #expect(FileManager.default.fileExists(atPath: location + "/" + kept), "\(kept)")
      }
      #expect(try await opslog("export", location).stdout == before)
      #expect(try await opslog("verify", location).status == 0)
      let store = try await Store<JSONValue>.open(location, options: readOnly())
      #expect(try store.count() == 11)
      try await store.close()
      #expect(try await opslog("gc", location, "--json").json()["removed"] == [])
    }
  }

  @Test func modifyingCommandsRefuseAStoreAnotherProcessHolds() async throws {
    try await withScratch { root in
      let location = try copyFixture("archived", to: root)
      try writeText(root + "/in.jsonl", #"{"id":"a","data":1}"# + "\n")
      let holder = try LockHolder(location, ".lock")
      defer { holder.stop() }
      try await holder.waitUntilLocked()
      let files = try snapshotOfFiles(location)
      for arguments in [["compact", location], ["gc", location], ["import", location, root + "/in.jsonl"]] {
        let result = try await run(try opslogPath(), arguments)
        #expect(result.status == 3, "\(arguments): \(result)")
        #expect(result.stderr.contains("process \(holder.process.processIdentifier)"), "\(result)")
      }
      #expect(try snapshotOfFiles(location) == files)
      // Reading still works.
      #expect(try await opslog("verify", location).status == 0)
      let inspect = try await opslog("inspect", "--json", location).json()
      #expect(inspect["lock"]?["running"] == true)
    }
  }

  @Test func modifyingCommandsRefuseAMultiWriterStoreBeingCompacted() async throws {
    try await withScratch { root in
      let location = try copyFixture("multi-writer", to: root)
      let holder = try LockHolder(location, ".compact-lock")
      defer { holder.stop() }
      try await holder.waitUntilLocked()
      let files = try snapshotOfFiles(location)
      for command in ["compact", "gc"] {
        let result = try await opslog(command, location)
        #expect(result.status == 3, "\(command): \(result)")
      }
      #expect(try snapshotOfFiles(location) == files)
    }
  }

  @Test func tailFollowPrintsWritesAsTheyHappen() async throws {
    try await withScratch { root in
      let location = try copyFixture("group-mode", to: root)
      let lastStored = try #require(try readText(location + "/ops/ops-1795353326820.jsonl").split(separator: "\n").last)
      let process = Process()
      process.executableURL = URL(fileURLWithPath: try opslogPath())
      process.arguments = ["tail", location, "--follow", "--json", "-n", "1", "--interval", "20"]
      let collector = try LineCollector(process)
      try process.run()
      defer {
        process.terminate()
        process.waitUntilExit()
      }
      // The last stored operation comes first: from then on the follower is following.
      let first = try await collector.lines(atLeast: 1)
      #expect(try JSONValue(parsing: first[0]) == JSONValue(parsing: String(lastStored)))
      let store = try await Store<JSONValue>.open(location)
      try await store.set("followed-1", ["n": 1])
      try await store.set("followed-2", ["n": 2])
      try await store.delete("followed-1")
      // An undo before the follower saw the delete would leave nothing to report.
      _ = try await collector.lines(atLeast: 4)
      try await store.undo()
      try await store.close()
      let lines = try await collector.lines(atLeast: 5)
      #expect(lines.count == 5, "\(lines)")
      let values = try lines.dropFirst().map { try JSONValue(parsing: $0) }
      #expect(values.prefix(3).map { $0["id"]?.stringValue } == ["followed-1", "followed-2", "followed-1"])
      #expect(values.prefix(3).map { $0["op"]?.stringValue } == ["set", "set", "delete"])
      #expect(values.last?["undone"]?["op"] == "delete")
      #expect(values.last?["undone"]?["id"] == "followed-1")
    }
  }

  @Test func aProgressBarAppearsForLongWorkOnlyWhenAsked() async throws {
    try await withScratch { root in
      let lines = (0..<20_000).map { #"{"id":"r\#($0)","data":{"n":\#($0),"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}"# }
      try writeText(root + "/in.jsonl", lines.joined(separator: "\n"))
      let shown = try await opslog(
        "import", root + "/a", root + "/in.jsonl", "--batch-size", "100",
        environment: ["OPSLOG_PROGRESS": "always", "OPSLOG_PROGRESS_DELAY": "0"])
      #expect(shown.status == 0, "\(shown)")
      #expect(shown.stderr.contains("importing ["), "\(shown)")
      #expect(shown.stderr.contains("imported 20000 records"))
      let hidden = try await opslog("import", root + "/b", root + "/in.jsonl", "--batch-size", "100")
      #expect(hidden.status == 0)
      #expect(!hidden.stderr.contains("["), "\(hidden)")
    }
  }
}

/// The example that reads stores with OpsLogStorage and OpsLogCodec only.
@Suite struct InspectStoreExampleTests {
  @Test func itReadsTheMergedStateOfAMultiWriterStore() async throws {
    let result = try await run(
      try HelperExecutable.path(named: "InspectStore"), [CommandFixture.store("multi-writer")])
    #expect(result.status == 0)
    #expect(result.stdoutLines.contains("10 records:"), "\(result)")
    #expect(result.stdoutLines.contains("  shared-0: {\"from\":\"B\",\"i\":0}"))
  }

  @Test func itReportsTheSkippedLinesOfATornStore() async throws {
    let result = try await run(try HelperExecutable.path(named: "InspectStore"), [CommandFixture.store("torn-tail")])
    #expect(result.stdoutLines.filter { $0.hasPrefix("ops/ops-1795353326788.jsonl:") }.count == 3, "\(result)")
  }
}

func opslogPath() throws -> String { try HelperExecutable.path(named: "opslog") }

func readOnly() -> StoreOptions {
  var options = StoreOptions()
  options.readOnly = true
  return options
}
