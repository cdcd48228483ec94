import ArgumentParser
import OpsLogCodec
import OpsLogStorage
import OpsLogTypes

/// `opslog verify DIR`: every file of a store against the format.
struct Verify: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check every file of a store against the on-disk format.",
    discussion: """
      Checks the manifest (and that the files it names exist), every snapshot, every WAL line \
      (batches included), every archive segment, .through marker and lock file. Each problem \
      is printed as `path:line: what` (line 0: the whole file). Exit 0 when there is none, 1 \
      when problems were found, 2 when the directory cannot be read at all.
      """)

  @Argument(help: "The store's directory.") var directory: String
  @Flag(name: .long, help: "Print one JSON document for scripts.") var json = false

  func run() async throws {
    try StoreAccess.requireDirectory(directory)
    let backend = FsBackend()
    do {
      try await backend.initialize(location: directory, readOnly: true)
    } catch {
      throw fail("cannot read \(directory): \(StoreAccess.describe(error))", Exit.cannotRead)
    }
    let verifier = Verifier(backend: backend)
    var failure: (any Error)? = nil
    do {
      if try await backend.size(of: ManifestCodec.fileName) == nil, !(try await backend.containsStoreFiles()) {
        throw fail(
          "cannot read \(directory): no store there (no manifest.json, no snapshots, no WALs)", Exit.cannotRead)
      }
      try await verifier.run()
    } catch {
      failure = error
    }
    verifier.progress.finish()
    try? await backend.shutdown()
    if let failure {
      if let exit = failure as? ExitCode { throw exit }
      throw fail("cannot read \(directory): \(StoreAccess.describe(failure))", Exit.cannotRead)
    }
    let problems = verifier.problems
    if json {
      Output.json([
        "store": .string(directory), "ok": .bool(problems.isEmpty), "checkedFiles": .number(verifier.checked.count),
        "problems": .array(
          problems.map { ["path": .string($0.path), "line": .number($0.line), "reason": .string($0.reason)] }),
      ])
    } else {
      for problem in problems { Output.line(problem.description) }
      Output.flush()
      if problems.isEmpty {
        Output.note("ok: \(verifier.checked.count) files checked, no problems")
      } else {
        let files = Set(problems.map(\.path)).count
        Output.note(
          "\(problems.count) problem\(problems.count == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s")")
      }
    }
    if !problems.isEmpty { throw Exit.problems }
  }
}

/// Checks the files one by one and collects the problems.
final class Verifier {
  let backend: any StorageBackend
  let reader: StoreReader
  var problems: [FileProblem] = []
  var checked: [String] = []
  let progress = Progress("verifying", unit: .bytes)

  init(backend: any StorageBackend) {
    self.backend = backend
    self.reader = StoreReader(backend: backend, location: "")
  }

  func problem(_ path: String, _ line: Int, _ reason: String) {
    problems.append(FileProblem(path: path, line: line, reason: reason))
  }

  func run() async throws {
    var paths: [String] = []
    for name in try await backend.list("") {
      if ["snapshots", "ops", "archive"].contains(name) {
        for child in try await backend.list(name) { paths.append(name + "/" + child) }
      } else {
        paths.append(name)
      }
    }
    var total = 0
    for path in paths { total += try await backend.size(of: path) ?? 0 }
    progress.set(total: total)

    let manifest = try await checkManifest()
    for path in paths where path != ManifestCodec.fileName {
      let size = try await backend.size(of: path) ?? 0
      defer { progress.advance(by: size) }
      if StoreFileName.isTemporary(path) { continue }
      if path.hasPrefix("snapshots/") {
        progress.relabel("verifying \(path)")
        try await checkSnapshot(path, manifest: manifest)
      } else if path.hasPrefix("ops/") && path.hasSuffix(".through") {
        try await checkThroughMarker(path)
      } else if path.hasPrefix("ops/") {
        progress.relabel("verifying \(path)")
        try await checkWAL(path)
      } else if path.hasPrefix("archive/") {
        try await checkArchive(path)
      } else if path == ".lock" || path == ".compact-lock" {
        try await checkLock(path)
      } else {
        continue
      }
      checked.append(path)
    }
    problems.sort { ($0.path, $0.line) < ($1.path, $1.line) }
  }

  // MARK: Manifest

  /// The manifest if it is valid; its problems, and those of the files it names, are recorded.
  func checkManifest() async throws -> ManifestInfo? {
    let path = ManifestCodec.fileName
    guard let bytes = try await backend.read(path) else {
      problem(path, 0, "missing, but the location holds snapshots or WAL files")
      return nil
    }
    checked.append(path)
    do {
      _ = try JSONValue(parsing: bytes)
    } catch OpsLogError.invalidJSON(let reason, let offset) {
      problem(path, lineNumber(of: offset, in: bytes), "not valid JSON: \(reason)")
      return nil
    }
    let manifest: ManifestInfo
    do {
      manifest = try ManifestCodec.decode(bytes)
    } catch OpsLogError.corrupted(_, let reason) {
      let field = reason.split(separator: " ").first.map(String.init) ?? ""
      let key = field.split(separator: ".").last.map { String($0.split(separator: "[").first ?? "") } ?? field
      problem(path, lineNumber(ofKey: key, in: bytes), reason)
      return nil
    }
    var named: [(field: String, path: String)] = [
      ("currentSnapshot", manifest.currentSnapshot), ("activeOps", manifest.activeOps),
    ]
    named += manifest.archiveSegments.map { ("archiveSegments", $0) }
    named += (manifest.activeAgentOps ?? []).map { ("activeAgentOps", $0.path) }
    var reported = Set<String>()
    for (field, named) in named where reported.insert(named).inserted {
      if try await backend.size(of: named) == nil {
        problem(
          path, lineNumber(ofString: named, in: bytes) ?? lineNumber(ofKey: field, in: bytes),
          "\(field) names \(named), which does not exist")
      }
    }
    return manifest
  }

  // MARK: Snapshots

  func checkSnapshot(_ path: String, manifest: ManifestInfo?) async throws {
    var seen: [String: Int] = [:]
    var line = 1
    do {
      _ = try await reader.snapshotRecords(path) { record in
        line += 1
        if let first = seen[record.id] {
          self.problem(path, line, "record \"\(record.id)\" repeats the one on line \(first)")
        } else {
          seen[record.id] = line
        }
      }
    } catch OpsLogError.corrupted(_, let reason) {
      problem(path, Self.leadingLine(reason) ?? 0, Self.droppingLinePrefix(reason))
    }
  }

  // MARK: WALs

  func checkWAL(_ path: String) async throws {
    guard path.hasSuffix(".jsonl") else {
      problem(path, 0, "not a WAL name (ops/ops-<ms>.jsonl or ops/agent-<id>-<ms>.jsonl)")
      return
    }
    do {
      let contents = try await reader.walFile(path)
      problems += contents.problems.map { problem in
        var problem = problem
        if problem.reason.hasPrefix("skipped: ") { problem.reason.removeFirst("skipped: ".count) }
        return problem
      }
    } catch OpsLogError.corrupted(_, let reason) {
      problem(path, 0, reason)
    }
  }

  func checkThroughMarker(_ path: String) async throws {
    guard let bytes = try await backend.read(path) else { return }
    let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
    guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let offset = Int(text) else {
      problem(path, 1, "not a byte offset (decimal digits)")
      return
    }
    let wal = String(path.dropLast(".through".count))
    guard let size = try await backend.size(of: wal) else { return }
    if offset > size {
      problem(path, 1, "offset \(offset) is beyond the end of \(wal) (\(size) bytes)")
    } else if offset > 0, try await backend.read(wal, offset: offset - 1, length: 1) != [UInt8(ascii: "\n")] {
      problem(path, 1, "offset \(offset) is not at the start of a line of \(wal)")
    }
  }

  // MARK: Archive, locks

  func checkArchive(_ path: String) async throws {
    guard var bytes = try await backend.read(path) else { return }
    if Gzip.hasMagic(bytes) {
      do {
        let decompressor = try GzipDecompressor(path: path)
        bytes = try decompressor.decompress(bytes)
        if !decompressor.isFinished {
          problem(path, 0, "the gzip stream is truncated")
          return
        }
      } catch {
        problem(path, 0, StoreAccess.describe(error))
        return
      }
    }
    do {
      _ = try JSONValue(parsing: bytes)
    } catch OpsLogError.invalidJSON(let reason, let offset) {
      problem(path, lineNumber(of: offset, in: bytes), "not valid JSON: \(reason)")
      return
    }
    do {
      let segment = try ArchiveCodec.decode(bytes, path: path)
      let name = path.split(separator: "/").last.map(String.init) ?? path
      let expected = ["archive-\(segment.period).json", "archive-\(segment.period).json.gz"]
      if !expected.contains(name) {
        problem(
          path, lineNumber(ofKey: "period", in: bytes), "period \"\(segment.period)\" does not match the file name")
      }
    } catch OpsLogError.corrupted(_, let reason) {
      let key = reason.split(separator: " ").first.map(String.init) ?? ""
      problem(path, lineNumber(ofKey: key, in: bytes), reason)
    }
  }

  func checkLock(_ path: String) async throws {
    guard let bytes = try await backend.read(path) else { return }
    let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
    if text.isEmpty || !text.allSatisfy({ $0.isASCII && $0.isNumber }) {
      problem(path, 1, "does not hold a process ID")
    }
  }

  // MARK: Line numbers

  /// The line (from 1) that byte `offset` is on.
  func lineNumber(of offset: Int, in bytes: [UInt8]) -> Int {
    bytes.prefix(max(0, offset)).reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
  }

  /// The line of the first `"key":`, or 1.
  func lineNumber(ofKey key: String, in bytes: [UInt8]) -> Int {
    guard !key.isEmpty, let offset = firstOffset(of: Array("\"\(key)\"".utf8), in: bytes) else { return 1 }
    return lineNumber(of: offset, in: bytes)
  }

  /// The line of the string value `text`, if it appears as written.
  func lineNumber(ofString text: String, in bytes: [UInt8]) -> Int? {
    firstOffset(of: JSONValue.string(text).serialized(), in: bytes).map { lineNumber(of: $0, in: bytes) }
  }

  func firstOffset(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
    guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
    for start in 0...(bytes.count - needle.count) where bytes[start] == needle[0] {
      if bytes[start..<(start + needle.count)].elementsEqual(needle) { return start }
    }
    return nil
  }

  /// `N` of a reason that starts with `line N: `.
  static func leadingLine(_ reason: String) -> Int? {
    guard reason.hasPrefix("line ") else { return nil }
    return Int(reason.dropFirst(5).prefix { $0.isNumber })
  }

  static func droppingLinePrefix(_ reason: String) -> String {
    guard leadingLine(reason) != nil, let colon = reason.firstIndex(of: ":") else { return reason }
    return String(reason[reason.index(after: colon)...].drop { $0 == " " })
  }
}
