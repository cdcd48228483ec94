import ArgumentParser
import OpsLogCodec
import OpsLogEngine
import OpsLogStorage
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// `opslog import DIR FILE`: records from JSONL into a store.
struct Import: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write the records of a JSONL file ({\"id\":…,\"data\":…} lines, as export writes) into a store.",
    discussion: """
      The whole file is checked first: a line that is not such an object is reported as \
      `FILE:line: what`, and nothing is written (exit 1). Then the records are set in batches \
      (each one WAL write, all or nothing), and the store is checkpointed. A missing store is \
      created. Refuses (exit 3) when another process holds the store. FILE - reads stdin.
      """)

  @Argument(help: "The store's directory (created when missing).") var directory: String
  @Argument(help: "The JSONL file to import, or - for stdin.") var file: String
  @Option(name: .long, help: "Records per batch (one WAL write each).") var batchSize = 1000
  @Option(name: .long, help: "The agent id to write as, when agents write the store.")
  var agent = StoreAccess.defaultAgent
  @Flag(name: .long, help: "Print a JSON summary for scripts.") var json = false

  func validate() throws {
    guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
  }

  func run() async throws {
    let bytes = try readInput()
    var records: [(id: String, data: JSONValue)] = []
    var problems: [FileProblem] = []
    var lineNumber = 0
    for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
      lineNumber += 1
      if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
      switch Self.parse(line) {
      case .success(let record): records.append(record)
      case .failure(let reason): problems.append(FileProblem(path: file, line: lineNumber, reason: reason))
      }
    }
    if !problems.isEmpty {
      for problem in problems.prefix(100) { Output.line(problem.description) }
      if problems.count > 100 { Output.line("… and \(problems.count - 100) more") }
      Output.flush()
      throw fail("\(problems.count) invalid lines in \(file); nothing was imported", Exit.problems)
    }

    let store = try await StoreAccess.openWritable(directory, agent: agent, create: true)
    let progress = Progress("importing", total: records.count)
    do {
      var start = 0
      while start < records.count {
        let chunk = records[start..<min(records.count, start + batchSize)]
        try await store.batch { batch in
          for record in chunk { batch.set(record.id, record.data) }
        }
        start += chunk.count
        progress.set(done: start)
      }
      progress.relabel("checkpointing")
      try await store.compact()
      try await store.close()
    } catch {
      progress.finish()
      try? await store.close()
      throw StoreAccess.mapOpenError(error, path: directory)
    }
    progress.finish()
    if json {
      Output.json(["store": .string(directory), "imported": .number(records.count)])
    } else {
      Output.note("imported \(records.count) records into \(directory)")
    }
  }

  func readInput() throws -> [UInt8] {
    let descriptor = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw fail("cannot read \(file): \(String(cString: strerror(errno)))", Exit.cannotRead)
    }
    defer { if descriptor != 0 { close(descriptor) } }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw fail("cannot read \(file): \(String(cString: strerror(errno)))", Exit.cannotRead)
      }
      if count == 0 { break }
      bytes += buffer[0..<count]
    }
    return bytes
  }

  /// A `{"id":…,"data":…}` line, or why it is not one.
  static func parse(_ line: ArraySlice<UInt8>) -> Result<(id: String, data: JSONValue), ImportProblem> {
    let value: JSONValue
    do {
      value = try JSONValue(parsing: line)
    } catch OpsLogError.invalidJSON(let reason, let offset) {
      return .failure(ImportProblem("not valid JSON: \(reason) at byte \(offset + 1)"))
    } catch {
      return .failure(ImportProblem("not valid JSON: \(error)"))
    }
    guard case .object(let object) = value else { return .failure(ImportProblem("not a JSON object")) }
    guard let idValue = object["id"] else { return .failure(ImportProblem("id is missing")) }
    guard case .string(let id) = idValue, !id.isEmpty else {
      return .failure(ImportProblem("id is not a non-empty string"))
    }
    guard let data = object["data"] else { return .failure(ImportProblem("data is missing")) }
    if data.isNull { return .failure(ImportProblem("data is null")) }
    return .success((id, data))
  }
}

/// Why an import line was refused.
struct ImportProblem: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}

extension FileProblem {
  init(path: String, line: Int, reason: ImportProblem) {
    self.init(path: path, line: line, reason: reason.description)
  }
}
