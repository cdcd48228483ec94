import ArgumentParser
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTypes

/// `opslog tail DIR [--follow]`: the latest operations, and new ones as they are written.
struct Tail: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the last operations of a store and, with --follow, every new one as it is written.",
    discussion: """
      Operations since the last checkpoint, in apply order. --follow opens the store \
      read-only (no lock, nothing written) and follows its writer, or its agents, until \
      interrupted. Each operation is one line: time, kind, ID and record; with --json, the \
      WAL line itself.
      """)

  @Argument(help: "The store's directory.") var directory: String
  @Option(name: [.customShort("n"), .long], help: "How many of the latest operations to print first.") var lines = 10
  @Flag(name: .shortAndLong, help: "Keep printing operations as they are written.") var follow = false
  @Option(name: .long, help: "With --follow: how often to look for new operations, in milliseconds.")
  var interval = 250
  @Flag(name: .long, help: "Print each operation as its JSON WAL line.") var json = false

  func validate() throws {
    guard lines >= 0 else { throw ValidationError("--lines must be 0 or more") }
    guard interval >= 1 else { throw ValidationError("--interval must be at least 1 ms") }
  }

  func run() async throws {
    guard follow else {
      let reader = try await StoreAccess.reader(directory)
      let files = try await StoreAccess.files(reader)
      do {
        let operations = try await reader.operations(of: files)
        try? await reader.close()
        for entry in operations.entries.suffix(lines) {
          print(entry.operation.mapRecords(\.value))
        }
        Output.flush()
      } catch {
        try? await reader.close()
        throw fail("cannot read \(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
      }
      return
    }
    let store = try await openFollower()
    do {
      for operation in try store.operations().suffix(lines) { print(operation) }
      Output.flush()
      // TODO(changes): follow `store.changes()` once the engine has it.
      for try await operations in store.watch(interval: .milliseconds(interval)) {
        for operation in operations { print(operation) }
        Output.flush()
      }
      try await store.close()
    } catch {
      try? await store.close()
      throw fail("\(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
    }
  }

  func print(_ operation: LogOperation<JSONValue>) {
    if json {
      Output.write(OperationLine.encode(operation))
      Output.write([UInt8(ascii: "\n")])
      return
    }
    var line = "\(operation.timestamp)  \(operation.kind.rawValue.padding(6))  \(operation.id)"
    if let agent = operation.agent { line += "  \(agent)@\(operation.clock.map(String.init) ?? "?")" }
    if let data = operation.data { line += "  " + data.jsonText }
    Output.line(line)
  }

  /// A read-only store on the directory, at its own version; an agent when agents write it.
  func openFollower() async throws -> Store<JSONValue> {
    let reader = try await StoreAccess.reader(directory)
    let files = try await StoreAccess.files(reader)
    try? await reader.close()
    var options = StoreOptions()
    options.readOnly = true
    options.version = files.manifest.version
    do {
      if files.isMultiWriter {
        return try await Store<JSONValue>.open(directory, agentId: "opslog-tail", options: options)
      }
      return try await Store<JSONValue>.open(directory, options: options)
    } catch {
      throw StoreAccess.mapOpenError(error, path: directory)
    }
  }
}
