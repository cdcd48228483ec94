import ArgumentParser
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// `opslog gc DIR`: removes the files no manifest a reader may hold names.
struct GarbageCollect: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gc",
    abstract: "Remove the files that no manifest names, keeping the previous generation for readers.",
    discussion: """
      Garbage is every snapshot and WAL older than the previous generation (the snapshot and \
      WALs the manifest before the current one named, which a reader that loaded it may still \
      be reading), temporary files of interrupted writes, and .through markers whose WAL is \
      gone. Archive segments are never removed. Takes the store's lock (.lock, or \
      .compact-lock when agents write it) while it works, so it refuses (exit 3) while \
      another process holds it. --dry-run only lists what would go.
      """)

  @Argument(help: "The store's directory.") var directory: String
  @Flag(name: .long, help: "List what would be removed, and remove nothing.") var dryRun = false
  @Flag(name: .long, help: "Print a JSON summary for scripts.") var json = false

  func run() async throws {
    try StoreAccess.requireDirectory(directory)
    let backend = FsBackend()
    do {
      try await backend.initialize(location: directory, readOnly: dryRun)
    } catch {
      throw fail("cannot read \(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
    }
    let reader = StoreReader(backend: backend, location: directory)
    var lock: String? = nil
    var removed: [StoredFile] = []
    var failure: (any Error)? = nil
    do {
      let files = try await StoreAccess.files(reader)
      if !dryRun {
        let name = files.isMultiWriter ? ".compact-lock" : ".lock"
        try await backend.acquireLock(name)
        lock = name
      }
      // Read again under the lock: a checkpoint may have switched the manifest meanwhile.
      let current = try await reader.files()
      let garbage = try await reader.inventory(of: current).filter { $0.role == .garbage }
      let progress = Progress("removing", total: garbage.count)
      for file in garbage {
        if !dryRun { try await backend.remove(file.path) }
        removed.append(file)
        progress.advance()
      }
      progress.finish()
    } catch {
      failure = error
    }
    if let lock { try? await backend.releaseLock(lock) }
    try? await backend.shutdown()
    if let failure {
      if let exit = failure as? ExitCode { throw exit }
      if case .locked(let holder)? = failure as? OpsLogError {
        throw fail("\(directory) is held by \(holder); nothing was removed", Exit.locked)
      }
      throw fail("\(directory): \(StoreAccess.describe(failure))", Exit.cannotRead)
    }
    let bytes = removed.reduce(0) { $0 + $1.size }
    if json {
      Output.json([
        "store": .string(directory), "dryRun": .bool(dryRun),
        "removed": .array(removed.map { ["path": .string($0.path), "bytes": .number($0.size)] }),
        "bytes": .number(bytes),
      ])
    } else {
      for file in removed { Output.line((dryRun ? "would remove " : "removed ") + file.path) }
      Output.flush()
      Output.note(
        "\(dryRun ? "would remove" : "removed") \(removed.count) files, \(byteCount(bytes))")
    }
  }
}
