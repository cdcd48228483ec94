import ArgumentParser

/// `opslog`: inspects and maintains the directories of OpsLog stores, written by this
/// project or by opslog for Node.
@main
struct OpsLogTool: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "opslog",
    abstract: "Inspect and maintain OpsLog store directories (OpsLog for Swift, opslog for Node).",
    discussion: """
      Reading commands (inspect, verify, dump, export, history, tail) take no lock and write \
      nothing, so they work on a store that a writer has open. Commands that modify a store \
      (compact, import, gc) refuse when another live process holds its .lock or .compact-lock.

      Exit codes: 0 done; 1 problems found (verify), or what was asked for does not exist; \
      2 the store cannot be read (missing, not a directory, no valid manifest); 3 another \
      process holds the store; 64 invalid arguments.

      A progress bar appears on stderr for work that takes longer than a second, when stderr \
      is a terminal (OPSLOG_PROGRESS=always or never overrides that).
      """,
    subcommands: [
      Inspect.self, Verify.self, Dump.self, Export.self, Import.self, History.self, Tail.self, Compact.self,
      GarbageCollect.self,
    ]
  )

  /// Runs the command, then writes out what is still buffered for stdout, also when the
  /// command ends with an error or an exit code.
  static func main() async {
    do {
      var command = try parseAsRoot()
      if var command = command as? any AsyncParsableCommand {
        try await command.run()
      } else {
        try command.run()
      }
      Output.flush()
    } catch {
      Output.flush()
      exit(withError: error)
    }
  }
}
