import ArgumentParser
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// `opslog history DIR ID`: every operation on one record that the WALs on disk still hold.
struct History: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show every operation on a record in every WAL still on disk, oldest first.",
    discussion: """
      Reads the WALs of every generation still on disk, not only since the last checkpoint \
      (Store.history(of:) sees only those). Lines a checkpoint carried over into the next WAL \
      appear once. Generations are ordered by their files' times; within one, agents' \
      operations by (clock, agent id). Exit 1 when the record appears nowhere: in no WAL, not \
      in the current state, in no archive segment.
      """)

  @Argument(help: "The store's directory.") var directory: String
  @Argument(help: "The record's ID.") var id: String
  @Flag(name: .long, help: "Print a JSON array for scripts.") var json = false

  func run() async throws {
    let reader = try await StoreAccess.reader(directory)
    let files = try await StoreAccess.files(reader)
    var entries: [WALEntry] = []
    var inState = false
    var archivedIn: [String] = []
    do {
      let walPaths = try await reader.backend.listWALFiles()
      let snapshotTimes = try await reader.backend.list("snapshots").compactMap {
        StoreFileName.milliseconds(of: $0)
      }.sorted()
      // Group the WALs by the snapshot generation they were written in.
      var generations: [Int: [String]] = [:]
      for path in walPaths {
        let time = StoreFileName.milliseconds(of: path) ?? 0
        let generation = snapshotTimes.lastIndex { $0 <= time } ?? -1
        generations[generation, default: []].append(path)
      }
      let progress = Progress("reading WALs", total: walPaths.count)
      var seen = Set<[UInt8]>()
      for generation in generations.keys.sorted() {
        var found: [WALEntry] = []
        let paths = generations[generation]!.sorted {
          (StoreFileName.milliseconds(of: $0) ?? 0, $0) < (StoreFileName.milliseconds(of: $1) ?? 0, $1)
        }
        for path in paths {
          let contents = try await reader.walFile(path)
          progress.advance()
          for entry in contents.entries where entry.operation.id == id {
            // A checkpoint copies the lines written during it into the next WAL: the same bytes.
            if seen.insert(Array(entry.bytes)).inserted { found.append(entry) }
          }
        }
        entries += StoreReader.merge(found)
      }
      progress.finish()
      let contents = try await reader.contents(of: files)
      inState = contents.records.contains { $0.id == id }
      for segment in files.manifest.archiveSegments {
        // Plain or compressed (archive-<period>.json.gz): the reader tells them by their bytes.
        if let stored = try? await reader.archiveSegment(segment),
          stored.records[id] != nil
        {
          archivedIn.append(segment)
        }
      }
    } catch {
      try? await reader.close()
      throw fail("cannot read \(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
    }
    try? await reader.close()

    if json {
      Output.json(
        .array(
          entries.map { entry in
            var object = (try? JSONValue(parsing: entry.bytes).objectValue) ?? JSONObject()
            object["file"] = .string(entry.path)
            object["line"] = .number(entry.line)
            return .object(object)
          }))
    } else {
      for entry in entries {
        let operation = entry.operation
        var line = "\(operation.timestamp)  \(operation.kind.rawValue.padding(6))  \(entry.path):\(entry.line)"
        if let agent = operation.agent { line += "  \(agent)@\(operation.clock.map(String.init) ?? "?")" }
        if let data = operation.data { line += "  " + String(decoding: data.bytes, as: UTF8.self) }
        Output.line(line)
      }
      Output.flush()
      if entries.isEmpty { Output.note("no operation on \"\(id)\" in the WALs on disk") }
      if inState { Output.note("\"\(id)\" is in the current state") }
      for segment in archivedIn { Output.note("\"\(id)\" is archived in \(segment)") }
    }
    if entries.isEmpty && !inState && archivedIn.isEmpty {
      throw fail("no record \"\(id)\" in \(directory), in no WAL and no archive segment", Exit.problems)
    }
  }
}
