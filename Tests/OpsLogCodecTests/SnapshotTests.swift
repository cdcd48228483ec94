import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// Records with awkward contents: escapes, non-ASCII, nesting, non-object values.
func sampleRecords(count: Int) -> [(id: String, data: JSONValue)] {
  var random = SplitMix64(seed: 3)
  return (0..<count).map { index in
    let data: JSONValue
    switch index % 5 {
    case 0: data = "a string record \"quoted\" \n"
    case 1: data = [1, 2.5, nil, ["x": "🔑"]]
    default: data = .object(randomObject(&random))
    }
    return ("id-\(index)-ключ", data)
  }
}

func writeSnapshot(
  _ records: [(id: String, data: JSONValue)], compression: SnapshotCompression,
  header: SnapshotHeader = SnapshotHeader(version: 2, timestamp: "2026-04-01T10:00:00.000Z")
) throws -> [UInt8] {
  let writer = try SnapshotWriter(header: header, compression: compression)
  var output: [UInt8] = []
  for (index, record) in records.enumerated() {
    try writer.append(id: record.id, data: record.data.serialized())
    if index % 100 == 0 { output += try writer.takeOutput() }
  }
  return output + (try writer.finish())
}

/// Feeds `bytes` to a reader in chunks of `chunkSize` and collects what it reads.
func readSnapshot(_ bytes: [UInt8], chunkSize: Int, path: String = "snapshots/test") throws -> (
  header: SnapshotHeader, records: [(id: String, data: JSONValue)]
) {
  var reader = SnapshotReader(path: path)
  var records: [(id: String, data: JSONValue)] = []
  let collect: (SnapshotRecord) throws -> Void = { record in
    records.append((record.id, try JSONValue(parsing: record.data)))
  }
  var offset = 0
  while offset < bytes.count {
    let end = min(offset + chunkSize, bytes.count)
    try reader.consume(bytes[offset..<end], collect)
    offset = end
  }
  let header = try reader.finish(collect)
  #expect(reader.header == header)
  return (header, records)
}

func expectSameRecords(_ read: [(id: String, data: JSONValue)], _ written: [(id: String, data: JSONValue)]) {
  #expect(read.map(\.id) == written.map(\.id))
  for (left, right) in zip(read, written) {
    #expect(left.data.isIdentical(to: right.data), "\(left.id)")
  }
}

@Test(arguments: [1, 7, 4096])
func plainSnapshotRoundTrips(chunkSize: Int) throws {
  let records = sampleRecords(count: 1000)
  let bytes = try writeSnapshot(records, compression: .none)
  #expect(Array(bytes.prefix(48)) == Array(#"{"version":2,"timestamp":"2026-04-01T10:00:00.000Z"}"#.utf8.prefix(48)))
  let (header, read) = try readSnapshot(bytes, chunkSize: chunkSize)
  #expect(header == SnapshotHeader(version: 2, timestamp: "2026-04-01T10:00:00.000Z"))
  expectSameRecords(read, records)
}

@Test(arguments: [1, 7, 4096])
func gzipSnapshotRoundTrips(chunkSize: Int) throws {
  let records = sampleRecords(count: 1000)
  let bytes = try writeSnapshot(records, compression: .gzip(level: 6))
  #expect(Gzip.hasMagic(bytes))
  let (header, read) = try readSnapshot(bytes, chunkSize: chunkSize)
  #expect(header.version == 2)
  expectSameRecords(read, records)
}

@Test func gzipSnapshotIsTheSameJSONLForSystemGzip() throws {
  let records = sampleRecords(count: 500)
  let plain = try writeSnapshot(records, compression: .none)
  let compressed = try writeSnapshot(records, compression: .gzip(level: 9))
  let (output, status) = try runTool("/bin/gzip", ["-dc"], input: compressed)
  #expect(status == 0)
  #expect(output == plain)
}

@Test func truncatedGzipSnapshotIsCorrupted() throws {
  let compressed = try writeSnapshot(sampleRecords(count: 300), compression: .gzip(level: 6))
  for cut in [2, 20, compressed.count / 2, compressed.count - 4] {
    #expect(throws: OpsLogError.self, "cut at \(cut)") {
      try readSnapshot(Array(compressed[0..<cut]), chunkSize: 512)
    }
  }
}

@Test func snapshotLinesMatchTheReferenceLayout() throws {
  #expect(
    SnapshotFormat.headerLine(SnapshotHeader(version: 1, timestamp: "2026-11-22T13:15:26.718Z"))
      == Array("{\"version\":1,\"timestamp\":\"2026-11-22T13:15:26.718Z\"}\n".utf8))
  var writer = JSONWriter()
  SnapshotFormat.writeRecordLine(into: &writer, id: "a\"b", data: Array(#"{"x":1}"#.utf8))
  #expect(writer.bytes == Array("{\"id\":\"a\\\"b\",\"data\":{\"x\":1}}\n".utf8))
  #expect(SnapshotFormat.fileName(timestampMilliseconds: 17, compression: .none) == "snap-17.jsonl")
  #expect(SnapshotFormat.fileName(timestampMilliseconds: 17, compression: .gzip(level: 1)) == "snap-17.jsonl.gz")
}

/// The line the checkpoint writes with the record as an argument is the line the closure form
/// writes, and a record that fails to encode throws its error.
@Test func recordLineWithTheRecordAsAnArgumentMatchesTheClosureForm() throws {
  struct Item: Codable {
    var name: String
    var tags: [String]
    var weight: Double
  }
  struct Unencodable: Encodable {
    func encode(to encoder: any Encoder) throws {
      throw EncodingError.invalidValue(0, .init(codingPath: [], debugDescription: "not encodable"))
    }
  }
  let encoder = RecordEncoder()
  let item = Item(name: "line \"one\" ✓", tags: ["a", "b"], weight: 2.5)
  var byArgument = JSONWriter()
  try SnapshotFormat.writeRecordLine(into: &byArgument, id: "id-ключ", record: item, encoder: encoder)
  var byClosure = JSONWriter()
  try SnapshotFormat.writeRecordLine(into: &byClosure, id: "id-ключ") { try encoder.encode(item, into: &$0) }
  #expect(byArgument.bytes == byClosure.bytes)
  #expect(byArgument.bytes.last == UInt8(ascii: "\n"))
  var failing = JSONWriter()
  #expect(throws: EncodingError.self) {
    try SnapshotFormat.writeRecordLine(into: &failing, id: "x", record: Unencodable(), encoder: encoder)
  }
}

@Test(arguments: ["archived", "checkpointed", "group-mode", "tricky-json", "versioned-v1", "wal-replay", "torn-tail"])
func fixtureSnapshotsReadAndRewriteByteForByte(_ fixture: String) throws {
  let manifest = try ManifestCodec.decode(Fixture.bytes(fixture, "store/manifest.json"))
  let bytes = try Fixture.bytes(fixture, "store/" + manifest.currentSnapshot)
  var reader = SnapshotReader(path: manifest.currentSnapshot)
  var writer = JSONWriter()
  var count = 0
  try reader.consume(bytes) { record in
    SnapshotFormat.writeRecordLine(into: &writer, id: record.id, data: record.data)
    count += 1
  }
  let header = try reader.finish { _ in Issue.record("no record after the last line") }
  #expect(SnapshotFormat.headerLine(header) + writer.bytes == bytes)
  #expect(count == Fixture.lines(bytes).count - 1)
}

@Test func legacyPrettySnapshotReads() throws {
  let bytes = try Fixture.bytes("legacy-json-snapshot", "store/snapshots/snap-1775037600000.json")
  let document = try #require(try JSONValue(parsing: bytes).objectValue)
  let expectedRecords = try #require(document["records"]?.objectValue)
  for chunkSize in [1, 7, 4096] {
    let (header, records) = try readSnapshot(bytes, chunkSize: chunkSize)
    #expect(header == SnapshotHeader(version: 1, timestamp: "2026-04-01T10:00:00.000Z"))
    #expect(records.map(\.id) == expectedRecords.keys)
    for (id, data) in records { #expect(expectedRecords[id]?.isIdentical(to: data) == true) }
  }
  // The same document on one line is the legacy single-line layout.
  let singleLine = try JSONValue(parsing: bytes).serialized() + [0x0A]
  let (header, records) = try readSnapshot(singleLine, chunkSize: 7)
  #expect(header.version == 1)
  #expect(records.map(\.id) == expectedRecords.keys)
  // And it may be gzip-compressed too.
  let (_, gzipped) = try readSnapshot(try gzip(bytes), chunkSize: 100)
  #expect(gzipped.map(\.id) == expectedRecords.keys)
}

@Test func truncatedLegacyDocumentIsCorrupted() throws {
  let bytes = try Fixture.bytes("legacy-json-snapshot", "store/snapshots/snap-1775037600000.json")
  for cut in [2, 10, bytes.count / 2, bytes.count - 1] {
    #expect(throws: OpsLogError.self, "cut at \(cut)") { try readSnapshot(Array(bytes[0..<cut]), chunkSize: 64) }
  }
}

/// A damaged JSONL snapshot and the line its error must name.
struct DamagedSnapshot: Sendable, CustomTestStringConvertible {
  let text: String
  let line: Int
  var testDescription: String { text }
}

let headerLine = #"{"version":1,"timestamp":"t"}"#
let goodRecordLine = #"{"id":"a","data":{"x":1}}"#
let damagedSnapshots: [DamagedSnapshot] = [
  DamagedSnapshot(text: "not json\n\(goodRecordLine)\n", line: 1),
  DamagedSnapshot(text: "[1]\n\(goodRecordLine)\n", line: 1),
  DamagedSnapshot(text: #"{"timestamp":"t"}"# + "\n", line: 1),
  DamagedSnapshot(text: #"{"version":"1","timestamp":"t"}"# + "\n", line: 1),
  DamagedSnapshot(text: #"{"version":1}"# + "\n", line: 1),
  DamagedSnapshot(text: "\(headerLine)\n\(goodRecordLine)\n{\"id\":\"b\",\"data\":{\"x\":1}\n", line: 3),
  DamagedSnapshot(text: "\(headerLine)\n\(goodRecordLine)\n{\"id\":\"b\",\"data\":{\"x\":01}}\n", line: 3),
  DamagedSnapshot(text: "\(headerLine)\n{\"id\":\"b\"}\n", line: 2),
  DamagedSnapshot(text: "\(headerLine)\n{\"id\":\"\",\"data\":1}\n", line: 2),
  DamagedSnapshot(text: "\(headerLine)\n{\"id\":5,\"data\":1}\n", line: 2),
  DamagedSnapshot(text: "\(headerLine)\n{\"data\":1}\n", line: 2),
  DamagedSnapshot(text: "\(headerLine)\n\(goodRecordLine)\n\(goodRecordLine)\n[\"a\",1]\n", line: 4),
  DamagedSnapshot(text: "\(headerLine)\n{\"id\":\"b\",\"data\":{\"x\":1}} trailing\n", line: 2),
  DamagedSnapshot(text: "\(headerLine)\n{\"id\":\"b\",\"data\":\"\u{1}\"}\n", line: 2),
  DamagedSnapshot(text: "\(headerLine)\n\(goodRecordLine)\n{\"id\":\"b\",\"da", line: 3),
  DamagedSnapshot(text: "\(headerLine)\n{\"id\":\"b\",\"data\":" + String(repeating: "[", count: 600) + "\n", line: 2),
]

@Test(arguments: damagedSnapshots)
func damagedLineIsCorruptedNamingTheLine(_ damaged: DamagedSnapshot) throws {
  for chunkSize in [3, 4096] {
    #expect {
      try readSnapshot(Array(damaged.text.utf8), chunkSize: chunkSize, path: "snapshots/bad.jsonl")
    } throws: { error in
      guard case OpsLogError.corrupted(let path, let reason) = error else { return false }
      return path == "snapshots/bad.jsonl" && reason.contains("line \(damaged.line)")
    }
  }
}

@Test func recordsBeforeTheDamageAreDeliveredInOrder() throws {
  var reader = SnapshotReader(path: "s")
  var ids: [String] = []
  let text = "\(headerLine)\n\(goodRecordLine)\n{\"id\":\"b\",\"data\":2}\n{broken\n{\"id\":\"c\",\"data\":3}\n"
  #expect(throws: OpsLogError.self) {
    try reader.consume(Array(text.utf8)) { ids.append($0.id) }
    _ = try reader.finish { ids.append($0.id) }
  }
  #expect(ids == ["a", "b"])
}

@Test func unusualButValidLinesRead() throws {
  let text = """
    \(headerLine)
    {"data":{"x":1},"id":"reordered"}
    { "id" : "spaced" , "data" : [ 1 , 2 ] }\r

    {"id":"esc\\u0061ped","data":"\\ud834\\udd1e","extra":true}
    {"id":"last","data":null}
    """
  let (header, records) = try readSnapshot(Array(text.utf8), chunkSize: 5)
  #expect(header.timestamp == "t")
  #expect(records.map(\.id) == ["reordered", "spaced", "escaped", "last"])
  #expect(records.map(\.data) == [["x": 1], [1, 2], "𝄞", .null])
}

@Test func emptyInputIsCorrupted() {
  for text in ["", "\n", "{"] {
    #expect(throws: OpsLogError.self, "\(text)") { try readSnapshot(Array(text.utf8), chunkSize: 1) }
  }
}

@Test func fastPathAgreesWithTheParserOnMutatedLines() throws {
  let line = Array(#"{"id":"r1","data":{"a":[1,-2.5e3,true,false,null,{"b":"\u00e9\"x"}],"c":{}}}"#.utf8)
  var random = SplitMix64(seed: 11)
  let alphabet = Array(#"{}[]",:0123456789-+.eEtrufalsn\u "#.utf8) + [0x00, 0xC3, 0xFF]
  for _ in 0..<5000 {
    var mutated = line
    let position = Int(random.next() % UInt64(mutated.count))
    switch random.next() % 3 {
    case 0: mutated[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
    case 1: mutated.remove(at: position)
    default: mutated.insert(alphabet[Int(random.next() % UInt64(alphabet.count))], at: position)
    }
    let scanned = SnapshotReader.scanRecordLine(mutated)
    if let (id, range) = scanned {
      // Whatever the fast path accepts, the strict parser accepts with the same meaning.
      let value = try JSONValue(parsing: mutated)
      #expect(value["id"] == .string(id))
      #expect(try value["data"] == JSONValue(parsing: mutated[range]))
    }
  }
}

@Test func fastPathKeepsTheParsersDepthLimit() throws {
  // The line object is one level: data may nest maximumDepth - 1 levels, not one more, on the
  // fast path exactly as in the full parse.
  for levels in [JSONValue.maximumDepth - 1, JSONValue.maximumDepth] {
    let data = String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
    let line = Array((#"{"id":"r","data":"# + data + "}").utf8)
    let scanned = SnapshotReader.scanRecordLine(line)
    let parses = (try? JSONValue(parsing: line)) != nil
    #expect((scanned != nil) == (levels < JSONValue.maximumDepth), "\(levels)")
    #expect(parses == (levels < JSONValue.maximumDepth), "\(levels)")
  }
}
