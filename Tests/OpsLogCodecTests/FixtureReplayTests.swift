import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// The reference fixtures in `Tests/Fixtures/<case>/`, written by opslog 0.8.1 for Node.
enum Fixture {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

  static let cases = [
    "archived", "checkpointed", "group-mode", "legacy-json-snapshot", "multi-writer", "torn-tail", "tricky-json",
    "versioned-v1", "wal-replay",
  ]

  static func url(_ fixture: String, _ relative: String) -> URL {
    root.appendingPathComponent(fixture).appendingPathComponent(relative)
  }

  static func bytes(_ fixture: String, _ relative: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url(fixture, relative)))
  }

  static func expected(_ fixture: String) throws -> JSONObject {
    try #require(try JSONValue(parsing: bytes(fixture, "expected.json")).objectValue)
  }

  /// Paths of every WAL file in the fixture's store, relative to the store, sorted.
  static func walFiles(_ fixture: String) throws -> [String] {
    let directory = url(fixture, "store/ops")
    return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".jsonl") }
      .sorted().map { "ops/" + $0 }
  }

  /// The file's lines without their newlines; a last line without a newline is included.
  static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.last?.isEmpty == true { lines.removeLast() }
    return lines
  }

  static func walLines(_ fixture: String, _ relativeToStore: String) throws -> [ArraySlice<UInt8>] {
    lines(try bytes(fixture, "store/" + relativeToStore))
  }
}

/// Record state with first-insertion order, as the reference keeps it: an update keeps the
/// record's place, a delete removes it, a set after a delete goes to the end.
struct OrderedState {
  private(set) var order: [String] = []
  private(set) var records: [String: JSONValue] = [:]

  subscript(id: String) -> JSONValue? { records[id] }

  mutating func set(_ id: String, _ value: JSONValue) {
    if records.updateValue(value, forKey: id) == nil { order.append(id) }
  }

  mutating func delete(_ id: String) {
    if records.removeValue(forKey: id) != nil { order.removeAll { $0 == id } }
  }

  mutating func apply(_ operation: LogOperation<JSONValue>) {
    switch operation.kind {
    case .set: set(operation.id, operation.data ?? .null)
    case .delete: delete(operation.id)
    }
  }
}
