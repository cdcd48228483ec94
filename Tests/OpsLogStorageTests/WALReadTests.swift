import OpsLogCodec
import OpsLogTypes
import Testing

@testable import OpsLogStorage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// A WAL written by hand, with what reading it must give.
struct HandWrittenWAL {
  struct Line {
    var text: String
    var offset: Int
    var length: Int
  }

  var bytes: [UInt8] = []
  /// The valid operations, in file order.
  var valid: [Line] = []
  var malformed = 0
  var tail = 0
  /// Where the two copies of the repeated line start.
  var repeatedOffsets: [Int] = []

  /// `count` lines of every kind: sets with full and delta `prev`, deletes, escaped and
  /// non-ASCII IDs and data, CRLF endings, blank lines, malformed lines spread over the file
  /// (so over both halves the reader splits a long WAL into), one line repeated at both ends,
  /// and a last line torn in the middle.
  init(count: Int) {
    let repeated = #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"same","prev":null,"data":{"v":"dup"}}"#
    for index in 0..<count {
      let id = #"k\"\#(index)\\ü\u00e9🔑"#
      var text: String
      var isValid = true
      switch index % 11 {
      case 0:
        text = #"{"ts":"2026-04-01T10:00:00.000Z","op":"delete","id":"\#(id)","prev":{"n":\#(index - 1),"s":"ü"}}"#
      case 1:
        text =
          #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"\#(id)","prev":{"$set":{"n":0}},"data":{"n":\#(index),"s":"a\nb"},"encoding":"delta"}"#
      case 2:
        text = "   \t"
        isValid = false
      case 3 where index % 3 == 0:
        // Not JSON at all, as a line torn by a crash and continued by the next writer.
        text = #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"\#(id)","prev":null,"da"#
        isValid = false
        malformed += 1
      case 3:
        // JSON that breaks a rule of the format.
        text = #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"\#(id)","prev":null,"data":null}"#
        isValid = false
        malformed += 1
      case 4:
        text = #"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"\#(id)","prev":null,"data":{"n":\#(index)}}"# + "\r"
      default:
        text =
          #"{ "ts" : "2026-04-01T10:00:00.000Z", "op":"set","id":"\#(id)","prev":{"n":1},"data":{"n":\#(index),"t":[1,{"x":null}]},"agent":"A","clock":\#(index)}"#
      }
      let start = bytes.count
      // The second copy goes where a valid line would be anyway, near the end.
      if index == 1 || (index % 11 == 5 && index + 11 >= count) {
        text = repeated
        repeatedOffsets.append(start)
      }
      bytes.append(contentsOf: Array(text.utf8))
      bytes.append(UInt8(ascii: "\n"))
      if isValid { valid.append(Line(text: text, offset: start, length: bytes.count - start)) }
    }
    // An empty line is blank too.
    bytes.append(UInt8(ascii: "\n"))
    let torn = Array(#"{"ts":"2026-04-01T10:00:00.000Z","op":"set","id":"torn","prev":null,"da"#.utf8)
    bytes.append(contentsOf: torn)
    tail = torn.count
  }
}

@Suite("Reading WAL files")
struct WALReadTests {
  static let cases: [(BackendKind, Int)] = [(.memory, 40), (.memory, 1500), (.fs, 1500)]

  @Test(arguments: cases)
  func everyValidLineIsReadInOrderAndTheRestIsCounted(kind: BackendKind, count: Int) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let wal = HandWrittenWAL(count: count)
      try await backend.append("ops/wal.jsonl", wal.bytes, durability: .process)
      let result = try await backend.readWAL("ops/wal.jsonl")
      #expect(result.malformedLines == wal.malformed)
      #expect(result.malformedLines > 0)
      #expect(result.consumedThrough == wal.bytes.count - wal.tail)
      #expect(result.partialTailLength == wal.tail)
      try #require(result.lines.count == wal.valid.count)
      let last = try #require(wal.valid.last)
      #expect(result.lastLineBytes == Array(wal.bytes[last.offset..<(last.offset + last.length)]))
      for (line, expected) in zip(result.lines, wal.valid) {
        #expect(line.offset == expected.offset)
        #expect(line.length == expected.length)
        let decoded = try OperationLine.decode(Array(expected.text.utf8))
        #expect(OperationLine.encode(line.operation) == OperationLine.encode(decoded), "\(expected.text)")
        #expect(line.encoded.id == decoded.id)
      }
      // Equal lines hash alike wherever they are; different lines do not.
      let hashes = Dictionary(grouping: zip(result.lines, wal.valid), by: { $0.0.hash })
      for group in hashes.values { #expect(Set(group.map(\.1.text)).count == 1) }
      let repeated = wal.repeatedOffsets.map { offset in result.lines.first { $0.offset == offset }?.hash }
      #expect(repeated.count == 2 && repeated[0] != nil && repeated[0] == repeated[1])
      try await backend.shutdown()
    }
  }

  @Test(arguments: cases)
  func readingFromAnOffsetGivesTheSameLines(kind: BackendKind, count: Int) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let wal = HandWrittenWAL(count: count)
      try await backend.append("wal", wal.bytes, durability: .process)
      let whole = try await backend.readWAL("wal")
      let middle = wal.valid[wal.valid.count / 3].offset
      let rest = try await backend.readWAL("wal", from: middle)
      #expect(rest.startOffset == middle)
      #expect(rest.lines.map(\.offset) == whole.lines.filter { $0.offset >= middle }.map(\.offset))
      #expect(rest.lines.map(\.hash) == whole.lines.filter { $0.offset >= middle }.map(\.hash))
      #expect(rest.consumedThrough == whole.consumedThrough)
      #expect(rest.lastLineBytes == whole.lastLineBytes)

      // A window ends at its last complete line.
      let windowEnd = wal.valid[wal.valid.count / 2].offset + 5
      let window = try await backend.readWAL("wal", from: middle, maximumBytes: windowEnd - middle)
      #expect(
        window.lines.map(\.offset)
          == whole.lines.filter { $0.offset >= middle && $0.offset < windowEnd - 5 }.map(\.offset))
      #expect(window.consumedThrough == wal.valid[wal.valid.count / 2].offset)
      #expect(window.partialTailLength == 5)
      let windowLast = try #require(window.lines.last)
      #expect(
        window.lastLineBytes
          == Array(wal.bytes[windowLast.offset..<(windowLast.offset + windowLast.length)]))
      try await backend.shutdown()
    }
  }

  @Test(arguments: BackendKind.allCases)
  func missingFilesAreCorruptionAndTheEndReadsAsNothing(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      let wal = await thrownError { _ = try await backend.readWAL("ops/missing.jsonl") }
      guard case .corrupted(let path, let reason)? = wal as? OpsLogError else {
        Issue.record("expected .corrupted, got \(String(describing: wal))")
        return
      }
      #expect(path == "ops/missing.jsonl")
      #expect(reason == "the WAL the manifest names does not exist")
      let snapshot = await thrownError { _ = try await backend.loadSnapshot("snapshots/missing.jsonl") { _ in } }
      guard case .corrupted(_, let reason)? = snapshot as? OpsLogError else {
        Issue.record("expected .corrupted, got \(String(describing: snapshot))")
        return
      }
      #expect(reason == "the snapshot the manifest names does not exist")

      try await backend.append("wal", bytes("{\"x\":1}\n"), durability: .process)
      for offset in [8, 9, 100] {
        let result = try await backend.readWAL("wal", from: offset)
        #expect(result.lines.isEmpty && result.malformedLines == 0 && result.partialTailLength == 0)
        #expect(result.startOffset == offset && result.consumedThrough == offset)
      }
      try await backend.shutdown()
    }
  }

  /// Both backends refuse to read a directory as a WAL; the memory backend used to return an
  /// empty WAL, since it reports a directory's size as 0. The directory is not empty so that
  /// the file system gives it a non-zero size, whatever the file system.
  @Test(arguments: BackendKind.allCases)
  func aDirectoryIsNoWAL(kind: BackendKind) async throws {
    try await withMedium(kind) { medium in
      let backend = try await medium.open()
      try await backend.append("ops/inner/wal.jsonl", bytes("x\n"), durability: .process)
      #expect(ioErrno(await thrownError { _ = try await backend.readWAL("ops/inner") }) == EISDIR)
      try await backend.shutdown()
    }
  }

  @Test func aWALOfOnlyBlankAndBrokenLinesHasNoOperations() async throws {
    try await withMedium(.memory) { medium in
      let backend = try await medium.open()
      try await backend.append("wal", bytes("\n  \n{\"ts\":1}\nnot json\n\r\n"), durability: .process)
      let result = try await backend.readWAL("wal")
      #expect(result.lines.isEmpty)
      #expect(result.lastLineBytes.isEmpty)
      #expect(result.malformedLines == 2)
      #expect(result.consumedThrough == 24)
      #expect(result.partialTailLength == 0)
      try await backend.shutdown()
    }
  }
}
