import ArgumentParser
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// `opslog inspect DIR`: what a store holds, and what its files are.
struct Inspect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show a store's manifest, generations, counts, agents, files and garbage.",
    discussion: "Reads without a lock and writes nothing. Exit 2 when the store cannot be read.")

  @Argument(help: "The store's directory.") var directory: String
  @Flag(name: .long, help: "Print one JSON document for scripts.") var json = false

  func run() async throws {
    let reader = try await StoreAccess.reader(directory)
    let files = try await StoreAccess.files(reader)
    let inventory: [StoredFile]
    let contents: StoreContents
    let snapshotSize = try? await reader.backend.size(of: files.snapshot)
    let progress = Progress("reading \(files.snapshot)", total: snapshotSize ?? nil, unit: .bytes)
    do {
      inventory = try await reader.inventory(of: files)
      contents = try await reader.contents(of: files) { progress.set(done: $0) }
    } catch {
      progress.finish()
      try? await reader.close()
      throw fail("cannot read \(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
    }
    progress.finish()
    try? await reader.close()
    let report = Report(directory: directory, files: files, inventory: inventory, contents: contents)
    if json {
      Output.json(report.jsonValue)
    } else {
      report.printText()
    }
  }
}

/// What `inspect` found, printed as text or JSON.
struct Report {
  let directory: String
  let files: StoreFiles
  let inventory: [StoredFile]
  let contents: StoreContents

  var manifest: ManifestInfo { files.manifest }
  var entries: [WALEntry] { contents.operations.entries }

  struct WALSummary {
    var path: String
    var agent: String?
    var retired: Bool
    var operations = 0
    var sets = 0
    var deletes = 0
    var batches = Set<Int>()
    var largestClock: Int? = nil
    var size = 0
  }

  var walSummaries: [WALSummary] {
    var summaries: [String: WALSummary] = [:]
    for wal in files.wals {
      summaries[wal.path] = WALSummary(
        path: wal.path, agent: wal.agent, retired: wal.isRetired,
        size: inventory.first { $0.path == wal.path }?.size ?? 0)
    }
    for entry in entries {
      summaries[entry.path]?.operations += 1
      switch entry.operation.kind {
      case .set: summaries[entry.path]?.sets += 1
      case .delete: summaries[entry.path]?.deletes += 1
      }
      if let batch = entry.batch, batch.index == 0 { summaries[entry.path]?.batches.insert(entry.line) }
      if let clock = entry.operation.clock {
        let largest = summaries[entry.path]?.largestClock ?? clock
        summaries[entry.path]?.largestClock = max(largest, clock)
      }
    }
    return files.wals.compactMap { summaries[$0.path] }
  }

  /// Generations, oldest first: each snapshot with the WALs written until the next one.
  var generations: [(milliseconds: Int64, files: [StoredFile])] {
    let snapshots = inventory.filter { $0.path.hasPrefix("snapshots/") && !StoreFileName.isTemporary($0.path) }
      .compactMap { file in StoreFileName.milliseconds(of: file.path).map { ($0, file) } }
      .sorted { $0.0 < $1.0 }
    var result: [(Int64, [StoredFile])] = snapshots.map { ($0.0, [$0.1]) }
    for file in inventory where file.path.hasPrefix("ops/") && file.path.hasSuffix(".jsonl") {
      guard let time = StoreFileName.milliseconds(of: file.path) else { continue }
      // The newest snapshot at or before the WAL was started; one older than every snapshot
      // goes with the first.
      let index = result.lastIndex { $0.0 <= time } ?? 0
      if result.isEmpty { result.append((time, [])) }
      result[index].1.append(file)
    }
    return result
  }

  func role(of generation: [StoredFile]) -> String {
    if generation.contains(where: { $0.role == .snapshot }) { return "current" }
    if generation.contains(where: { $0.role == .previousGeneration }) { return "previous" }
    if generation.allSatisfy({ $0.role == .garbage }) { return "garbage" }
    return "kept"
  }

  var garbage: [StoredFile] { inventory.filter { $0.role == .garbage } }

  var lock: (name: String, pid: Int32, alive: Bool)? {
    for name in [".lock", ".compact-lock"] {
      if let holder = StoreAccess.lockHolder(directory, name) { return (name, holder.pid, holder.alive) }
    }
    return nil
  }

  func printText() {
    let setCount = entries.filter { $0.operation.kind == .set }.count
    let batchCount = walSummaries.reduce(0) { $0 + $1.batches.count }
    var rows: [(String, String)] = [
      ("store", directory),
      ("version", "\(manifest.version)"),
      ("created", manifest.stats.created),
      ("last checkpoint", manifest.stats.lastCheckpoint),
      (
        "snapshot",
        "\(files.snapshot) (\(contents.snapshotRecordCount) records, \(byteCount(size(files.snapshot))))"
      ),
      ("records", "\(contents.records.count)"),
      (
        "operations",
        "\(entries.count) since the last checkpoint (\(setCount) set, \(entries.count - setCount) delete, \(batchCount) batches)"
      ),
      ("skipped lines", "\(contents.operations.problems.count)"),
      (
        "archive",
        "\(manifest.archiveSegments.count) segments, \(manifest.stats.archivedRecords) records archived"
      ),
    ]
    if let lock {
      rows.append(
        ("lock", "\(lock.name) names process \(lock.pid)" + (lock.alive ? " (running)" : " (gone: a stale lock)")))
    } else {
      rows.append(("lock", "none"))
    }
    let width = rows.map(\.0.count).max() ?? 0
    for (key, value) in rows { Output.line(key.padding(width) + "  " + value) }

    Output.line("")
    Output.line("WALs")
    for wal in walSummaries {
      var line = "  \(wal.path)"
      if let agent = wal.agent { line += "  agent \(agent)" }
      if wal.retired { line += "  retired, lines after its .through marker" }
      line += "  \(wal.operations) operations, \(byteCount(wal.size))"
      if let clock = wal.largestClock { line += ", clock up to \(clock)" }
      Output.line(line)
    }
    for missing in contents.operations.missingFiles { Output.line("  \(missing)  missing") }

    Output.line("")
    Output.line("generations (oldest first)")
    for generation in generations {
      let bytes = generation.files.reduce(0) { $0 + $1.size }
      let names = generation.files.map(\.path).joined(separator: " ")
      Output.line(
        "  \(generation.milliseconds)  \(role(of: generation.files).padding(8))  \(byteCount(bytes).padding(9))  \(names)"
      )
    }

    Output.line("")
    Output.line("files")
    let sizeWidth = inventory.map { "\($0.size)".count }.max() ?? 1
    for file in inventory {
      Output.line(
        "  \(file.role.rawValue.padding(18))  \(String(repeating: " ", count: sizeWidth - "\(file.size)".count))\(file.size)  \(file.path)"
      )
    }
    let total = inventory.reduce(0) { $0 + $1.size }
    Output.line("  \(inventory.count) files, \(byteCount(total))")

    Output.line("")
    let garbageBytes = garbage.reduce(0) { $0 + $1.size }
    if garbage.isEmpty {
      Output.line("garbage: none")
    } else {
      Output.line("garbage: \(garbage.count) files, \(byteCount(garbageBytes)) (opslog gc removes them)")
    }
    if !contents.operations.problems.isEmpty {
      Output.line("")
      Output.line("skipped lines")
      for problem in contents.operations.problems { Output.line("  \(problem)") }
    }
  }

  func size(_ path: String) -> Int { inventory.first { $0.path == path }?.size ?? 0 }

  var jsonValue: JSONValue {
    var object = JSONObject()
    object["store"] = .string(directory)
    object["manifest"] = ManifestCodec.jsonValue(manifest)
    object["snapshot"] = [
      "path": .string(files.snapshot), "records": .number(contents.snapshotRecordCount),
      "bytes": .number(size(files.snapshot)), "version": .number(contents.snapshotHeader.version),
      "timestamp": .string(contents.snapshotHeader.timestamp),
    ]
    object["records"] = .number(contents.records.count)
    object["operations"] = .number(entries.count)
    object["wals"] = .array(
      walSummaries.map { wal in
        var value: JSONObject = [
          "path": .string(wal.path), "operations": .number(wal.operations), "sets": .number(wal.sets),
          "deletes": .number(wal.deletes), "batches": .number(wal.batches.count), "bytes": .number(wal.size),
          "retired": .bool(wal.retired),
        ]
        value["agent"] = wal.agent.map(JSONValue.string) ?? .null
        value["largestClock"] = wal.largestClock.map(JSONValue.number) ?? .null
        return .object(value)
      })
    object["missingWALs"] = .array(contents.operations.missingFiles.map(JSONValue.string))
    object["agents"] = .array((manifest.activeAgentOps ?? []).map { .string($0.agent) })
    object["skippedLines"] = .array(
      contents.operations.problems.map {
        ["path": .string($0.path), "line": .number($0.line), "reason": .string($0.reason)]
      })
    object["generations"] = .array(
      generations.map { generation in
        [
          "milliseconds": .int(generation.milliseconds), "role": .string(role(of: generation.files)),
          "files": .array(generation.files.map { .string($0.path) }),
        ]
      })
    object["files"] = .array(
      inventory.map { ["path": .string($0.path), "bytes": .number($0.size), "role": .string($0.role.rawValue)] })
    object["garbage"] = [
      "files": .number(garbage.count), "bytes": .number(garbage.reduce(0) { $0 + $1.size }),
    ]
    if let lock {
      object["lock"] = ["file": .string(lock.name), "pid": .number(Int(lock.pid)), "running": .bool(lock.alive)]
    } else {
      object["lock"] = .null
    }
    return .object(object)
  }
}

extension String {
  /// The string padded with spaces on the right to `width` characters.
  func padding(_ width: Int) -> String {
    count >= width ? self : self + String(repeating: " ", count: width - count)
  }
}
