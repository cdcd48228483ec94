import ArgumentParser
import OpsLogCodec
import OpsLogEngine
import OpsLogStorage
import OpsLogTypes

/// `opslog compact DIR`: a checkpoint, as `Store.compact()` takes it.
struct Compact: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a new snapshot of the current state and start an empty WAL (a checkpoint).",
    discussion: """
      Opens the store as its writer (or, when agents write it, as the agent --agent), so it \
      refuses (exit 3) while another process holds .lock or .compact-lock. --gzip writes a \
      gzip snapshot (snap-<ms>.jsonl.gz), which opslog for Node cannot read until a \
      checkpoint without it. Old files stay on disk; `opslog gc` removes them.
      """)

  @Argument(help: "The store's directory.") var directory: String
  @Flag(name: .long, help: "Write the snapshot gzip-compressed.") var gzip = false
  @Option(name: .long, help: "The gzip level, 0 to 9.") var level = 6
  @Option(name: .long, help: "The agent id to compact as, when agents write the store.")
  var agent = StoreAccess.defaultAgent
  @Flag(name: .long, help: "Print a JSON summary for scripts.") var json = false

  func validate() throws {
    guard (0...9).contains(level) else { throw ValidationError("--level must be 0 to 9") }
  }

  func run() async throws {
    let compression: SnapshotCompression = gzip ? .gzip(level: level) : .none
    let progress = Progress("opening")
    let store: Store<JSONValue>
    do {
      store = try await StoreAccess.openWritable(directory, agent: agent) { options in
        options.snapshotCompression = compression
      }
    } catch {
      progress.finish()
      throw error
    }
    let before = try store.manifest()
    do {
      progress.relabel("compacting")
      try await store.compact()
      let after = try store.manifest()
      try await store.close()
      progress.finish()
      let size = await fileSize(after.currentSnapshot)
      if json {
        Output.json([
          "store": .string(directory), "previousSnapshot": .string(before.currentSnapshot),
          "snapshot": .string(after.currentSnapshot), "wal": .string(after.activeOps),
          "records": .number(after.stats.activeRecords), "snapshotBytes": .number(size),
          "compacted": .bool(after.currentSnapshot != before.currentSnapshot),
        ])
      } else if after.currentSnapshot == before.currentSnapshot {
        Output.note("\(directory): another agent is compacting; nothing was done")
      } else {
        Output.note(
          "compacted \(directory): \(after.stats.activeRecords) records in \(after.currentSnapshot) (\(byteCount(size))), new WAL \(after.activeOps)"
        )
      }
    } catch {
      progress.finish()
      try? await store.close()
      throw StoreAccess.mapOpenError(error, path: directory)
    }
  }

  func fileSize(_ path: String) async -> Int {
    guard let reader = try? await StoreReader.open(directory) else { return 0 }
    let size = (try? await reader.backend.size(of: path)) ?? nil
    try? await reader.close()
    return size ?? 0
  }
}
