import ArgumentParser
import OpsLogCodec
import OpsLogEngine
import OpsLogMultiWriter
import OpsLogStorage
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Opening stores for the commands, with the errors turned into messages and exit codes.
enum StoreAccess {
  /// The agent id the tool writes as in a multi-writer store.
  static let defaultAgent = "opslog-cli"

  /// Ends the command with ``Exit/cannotRead`` unless `path` is a directory.
  static func requireDirectory(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let reason = String(cString: strerror(errno))
      throw fail("cannot read \(path): \(reason)", Exit.cannotRead)
    }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
      throw fail("cannot read \(path): it is a file, not a store directory", Exit.cannotRead)
    }
  }

  /// A reader of the store at `path`; failures end the command with ``Exit/cannotRead``.
  static func reader(_ path: String) async throws -> StoreReader {
    try requireDirectory(path)
    do {
      return try await StoreReader.open(path)
    } catch {
      throw fail("cannot read \(path): \(describe(error))", Exit.cannotRead)
    }
  }

  /// The manifest and current files; a missing or damaged manifest ends the command with
  /// ``Exit/cannotRead``.
  static func files(_ reader: StoreReader) async throws -> StoreFiles {
    do {
      return try await reader.files()
    } catch {
      try? await reader.close()
      throw fail("cannot read \(reader.location): \(describe(error))", Exit.cannotRead)
    }
  }

  /// Opens the store for writing as `Store<JSONValue>`, at its own schema version so that no
  /// migration runs and a newer store is not refused: as an agent (`agent`) when agents write
  /// it. A missing store is created only when `create` is set.
  static func openWritable(
    _ path: String, agent: String, create: Bool = false,
    configure: (inout StoreOptions) -> Void = { _ in }
  ) async throws -> Store<JSONValue> {
    var manifest: ManifestInfo? = nil
    var info = stat()
    let exists = stat(path, &info) == 0
    if !exists && !(create && errno == ENOENT) { try requireDirectory(path) }
    if exists {
      try requireDirectory(path)
      do {
        let reader = try await StoreReader.open(path)
        do {
          manifest = try await reader.manifest()
          try? await reader.close()
        } catch {
          try? await reader.close()
          throw error
        }
      } catch OpsLogError.storeNotFound {
        guard create else { throw fail("cannot read \(path): no store there", Exit.cannotRead) }
      } catch {
        throw fail("cannot read \(path): \(describe(error))", Exit.cannotRead)
      }
    }
    var options = StoreOptions()
    options.version = manifest?.version ?? 1
    configure(&options)
    let isMultiWriter = !(manifest?.activeAgentOps ?? []).isEmpty
    do {
      if isMultiWriter {
        try checkCompactLock(path)
        return try await Store<JSONValue>.open(path, agentId: agent, options: options)
      }
      return try await Store<JSONValue>.open(path, options: options)
    } catch let exit as ExitCode {
      throw exit
    } catch {
      throw mapOpenError(error, path: path)
    }
  }

  /// The exit for an error of opening or writing a store.
  static func mapOpenError(_ error: any Error, path: String) -> ExitCode {
    switch error as? OpsLogError {
    case .locked(let holder)?:
      return fail("\(path) is held by \(holder); stop it first (the store was not changed)", Exit.locked)
    case .storeNotFound?, .corrupted?, .io?, .versionTooNew?, .invalidJSON?:
      return fail("cannot read \(path): \(describe(error))", Exit.cannotRead)
    default:
      return fail("\(path): \(describe(error))", Exit.problems)
    }
  }

  /// Ends the command with ``Exit/locked`` when a live process holds `.compact-lock` (an agent
  /// compacting): agents take no `.lock`, so this is what tells a multi-writer store is busy.
  static func checkCompactLock(_ path: String) throws {
    if let holder = lockHolder(path, ".compact-lock"), holder.alive {
      throw fail(
        "\(path) is being compacted by process \(holder.pid) (.compact-lock); try again when it is done",
        Exit.locked)
    }
  }

  /// The process a lock file names and whether it is alive; `nil` when there is no lock file
  /// or it holds no process ID.
  static func lockHolder(_ path: String, _ name: String) -> (pid: Int32, alive: Bool)? {
    let file = path + "/" + name
    guard let handle = fopen(file, "r") else { return nil }
    defer { fclose(handle) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, 64, handle) != nil else { return nil }
    let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let pid = Int32(text.filter { !$0.isWhitespace }), pid > 0 else { return nil }
    let alive = kill(pid, 0) == 0 || errno == EPERM
    return (pid, alive)
  }

  /// An error as a sentence: an ``OpsLogError``'s own description, anything else as Swift
  /// prints it.
  static func describe(_ error: any Error) -> String {
    if let error = error as? OpsLogError { return error.description }
    return "\(error)"
  }
}

extension JSONValue {
  /// An integer value from a Swift `Int`.
  static func number(_ value: Int) -> JSONValue { .int(Int64(value)) }
}

/// The record's JSON text, parsed for output; stored bytes are always valid JSON.
func recordValue(_ bytes: some Collection<UInt8>) -> JSONValue {
  (try? JSONValue(parsing: bytes)) ?? .null
}
