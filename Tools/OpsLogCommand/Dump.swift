import ArgumentParser
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// How `dump` prints records.
enum DumpFormat: String, ExpressibleByArgument, CaseIterable {
  /// One `{"id":…,"data":…}` line per record.
  case jsonl
  /// One pretty-printed object from ID to record.
  case json
}

/// `opslog dump DIR`: the records of the current state.
struct Dump: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the records of a store's current state (snapshot plus WAL).",
    discussion: """
      Records come in the store's order (first insertion). With --id, only that record; exit \
      1 when it does not exist. Reads without a lock and writes nothing.
      """)

  @Argument(help: "The store's directory.") var directory: String
  @Option(name: .long, help: "Print only the record with this ID.") var id: String?
  @Option(name: .long, help: "jsonl: one {\"id\",\"data\"} line per record; json: one pretty object.")
  var format: DumpFormat = .json

  func run() async throws {
    let records = try await readState(directory)
    if let id {
      guard let record = records.first(where: { $0.id == id }) else {
        throw fail("no record \"\(id)\" in \(directory)", Exit.problems)
      }
      switch format {
      case .json: Output.json(recordValue(record.data))
      case .jsonl: writeLines([record])
      }
      return
    }
    switch format {
    case .jsonl: writeLines(records)
    case .json: writePrettyObject(records)
    }
    Output.flush()
  }
}

/// `opslog export DIR`: the current state as JSONL, for `opslog import` or other tools.
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write the current state to stdout as JSONL, one {\"id\":…,\"data\":…} line per record.",
    discussion: "Records come in the store's order, byte for byte as stored. `opslog import` reads this.")

  @Argument(help: "The store's directory.") var directory: String

  func run() async throws {
    writeLines(try await readState(directory))
    Output.flush()
  }
}

/// The records of the store at `directory`, read without the engine.
func readState(_ directory: String) async throws -> [StoreRecord] {
  let reader = try await StoreAccess.reader(directory)
  let files = try await StoreAccess.files(reader)
  let size = try? await reader.backend.size(of: files.snapshot)
  let progress = Progress("reading \(files.snapshot)", total: size ?? nil, unit: .bytes)
  defer { progress.finish() }
  do {
    let contents = try await reader.contents(of: files) { progress.set(done: $0) }
    try? await reader.close()
    for problem in contents.operations.problems { Output.note("warning: \(problem)") }
    for missing in contents.operations.missingFiles { Output.note("warning: \(missing) is missing") }
    return contents.records
  } catch {
    try? await reader.close()
    throw fail("cannot read \(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
  }
}

func writeLines(_ records: [StoreRecord]) {
  var writer = JSONWriter(reservingCapacity: 1 << 16)
  for record in records {
    SnapshotFormat.writeRecordLine(into: &writer, id: record.id, data: record.data)
    if writer.bytes.count >= 1 << 16 {
      Output.write(writer.bytes)
      writer.bytes.removeAll(keepingCapacity: true)
    }
  }
  Output.write(writer.bytes)
}

/// `{ "id": record, … }` pretty-printed, record by record, never as one tree.
func writePrettyObject(_ records: [StoreRecord]) {
  guard !records.isEmpty else {
    Output.line("{}")
    return
  }
  Output.line("{")
  for (index, record) in records.enumerated() {
    var bytes = JSONValue.string(record.id).serialized()
    bytes += Array(": ".utf8)
    // Nested lines move in by one level; JSON strings hold no raw newline, so every newline
    // in the text is between tokens.
    for byte in PrettyJSON.serialize(recordValue(record.data)) {
      bytes.append(byte)
      if byte == UInt8(ascii: "\n") { bytes += [0x20, 0x20] }
    }
    Output.write([0x20, 0x20] + bytes + Array((index == records.count - 1 ? "\n" : ",\n").utf8))
  }
  Output.line("}")
}
