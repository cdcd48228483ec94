import Logging
import OpsLogCodec
// `import OpsLogMultiWriter` alone is enough to open an agent: Store, StoreOptions and the
// types come with it, as they come with the engine.
@_exported import OpsLogEngine
@_spi(LogStrategy) import OpsLogEngine
import OpsLogStorage
import OpsLogTypes

extension Store {
  /// Opens the store at `location` as the agent `agentId`, one of several writers (processes,
  /// later machines) that write the store at once, as opslog 0.8.1 does.
  ///
  /// - The agent appends to its own `ops/agent-<agentId>-<ms>.jsonl`, registered in the
  ///   manifest's `activeAgentOps`; every operation carries `agent` and a Lamport `clock`.
  ///   The state is the snapshot plus every agent's WAL merged by (clock, agent id), the later
  ///   one winning on the same key.
  /// - `Store.refresh()`, `Store.tail()` and `Store.watch(interval:)` read only what the
  ///   other agents appended since the last time.
  /// - `Store.undo()` takes back this agent's own last operation (or batch), re-deriving only
  ///   its key, and with it the operation's say in last-writer-wins: another agent's write to
  ///   the key, whatever its clock, is what every agent and reader sees afterwards. It holds
  ///   `.compact-lock`, so it waits (at most as long as that takes) while another agent
  ///   compacts; an operation a compaction has taken into its snapshot is no longer undone.
  /// - `Store.compact()` takes `.compact-lock`, reads every agent's WAL to its end and
  ///   snapshots the merged state. When another process (or another store in this one) holds
  ///   the lock, it returns at once without compacting; it never throws
  ///   `OpsLogError.locked(holder:)` and never waits for a lock this store holds.
  /// - No acknowledged write is lost to another agent's compaction, even if its agent dies:
  ///   lines an agent appended after a compaction read its WAL are applied by every open and
  ///   every agent that follows, and folded in by the next compaction of any agent; the agent
  ///   itself, noticing, carries them into the new WAL it registers (Docs/FORMAT.md, `.through`).
  ///   A write that has to register a new WAL waits for another agent's compaction at most
  ///   as long as it takes (60 seconds at the most, then `OpsLogError.locked(holder:)`).
  /// - `WriteMode.group` and `WriteMode.async` fall back to `WriteMode.immediate` (with
  ///   a warning): an agent's write must be in its WAL before another agent can merge it.
  /// - A `StoreOptions.readOnly` agent writes nothing, not even a WAL file.
  /// - A missing directory is created, as by `Store.open(_:options:)`; agents take no `.lock`.
  ///
  /// - Complexity: O(records in the snapshot + operations in every agent's WAL), which
  ///   are merged by (clock, agent id).
  /// - Throws: `OpsLogError.invalidArgument(_:)` for an agent id that is empty, is `.` or
  ///   `..`, or holds characters other than `A-Z a-z 0-9 . _ -`;
  ///   `OpsLogError.unsupported(_:)` with `StoreOptions.skipLoad`; the errors of
  ///   `Store.open(_:options:)`.
  public static func open(_ location: String, agentId: String, options: StoreOptions = StoreOptions()) async throws
    -> Store<Record>
  {
    try AgentLog.validate(agentId: agentId)
    if options.skipLoad {
      throw OpsLogError.unsupported("a multi-writer agent must load the state to merge the other agents' writes")
    }
    var options = options
    if options.writeMode != .immediate {
      options.storeLogger(location: location).warning(
        "multi-writer agents write immediately; the requested write mode is ignored",
        metadata: ["agent": "\(agentId)", "writeMode": "\(options.writeMode)"])
      options.writeMode = .immediate
    }
    let strategy = AgentLog(agentId: agentId, readOnly: options.readOnly)
    return try await open(location, options: options, strategy: strategy)
  }
}
