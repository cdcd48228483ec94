// The libFuzzer target over the codec: `JSONValue(parsing:)`, `OperationLine` and
// `RecordDecoder`. Built by Fuzz/build.sh with `-sanitize=fuzzer,address`; see README,
// "Reliability". Every input must hold to these, or the run stops with the input saved:
//
// 1. Nothing crashes, and nothing trips AddressSanitizer.
// 2. Bytes and `JSONValue` agree: `RecordDecoder` accepts exactly the documents the parser
//    accepts, and decoding a type from the bytes gives what decoding it from the parsed value
//    gives (the same value, or an error both ways).
// 3. Parse, serialize, parse keeps every value (`isIdentical`), and serializing again gives
//    the same bytes.
// 4. `OperationLine.decode` (a tree), `decodeEncodedLine` (bytes) and `decodeLine(value:)`
//    accept the same lines and read the same operation from them; an operation encoded
//    again decodes to itself.

import OpsLogCodec

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
  CodecProperties.check(bytes)
  return 0
}

enum CodecProperties {
  static let decoder = RecordDecoder()

  static func check(_ bytes: [UInt8]) {
    let parsed = try? JSONValue(parsing: bytes)
    checkRecordDecoder(bytes, parsed: parsed)
    if let parsed { checkRoundTrip(parsed) }
    checkOperationLine(bytes, parsed: parsed)
  }

  // MARK: - RecordDecoder: from bytes and from a JSONValue

  static func checkRecordDecoder(_ bytes: [UInt8], parsed: JSONValue?) {
    let generic = Result { try decoder.decode(AnyJSON.self, from: bytes) }
    switch (generic, parsed) {
    case (.success(let fromBytes), let parsed?):
      require(fromBytes.value == parsed, "the generic decode from bytes differs from the parse", bytes)
      let fromValue = Result { try decoder.decode(AnyJSON.self, from: parsed) }
      require(
        (try? fromValue.get())?.value == fromBytes.value, "the generic decode from the value differs from bytes", bytes)
    case (.failure(let error), let parsed?):
      fail("RecordDecoder refused a document the parser accepts: \(error) for \(parsed)", bytes)
    case (.success, nil):
      fail("RecordDecoder accepted a document the parser refuses", bytes)
    case (.failure, nil):
      break
    }
    guard let parsed else { return }
    compare(TaskProbe.self, bytes, parsed)
    compare(NumberProbe.self, bytes, parsed)
    compare([String: AnyJSON].self, bytes, parsed)
    compare([AnyJSON].self, bytes, parsed)
    let noting = Result { try decoder.decodeNotingUnknownKeys(TaskProbe.self, from: bytes).value }
    let plain = Result { try decoder.decode(TaskProbe.self, from: bytes) }
    require(
      describe(noting) == describe(plain), "decodeNotingUnknownKeys differs from decode: \(describe(noting))",
      bytes)
  }

  /// Decoding `type` from the bytes and from the parsed value succeed or fail alike, and
  /// succeed with equal values.
  static func compare<T: Decodable & Equatable>(_ type: T.Type, _ bytes: [UInt8], _ parsed: JSONValue) {
    let fromBytes = Result { try decoder.decode(type, from: bytes) }
    let fromValue = Result { try decoder.decode(type, from: parsed) }
    switch (fromBytes, fromValue) {
    case (.success(let a), .success(let b)):
      require(a == b, "\(T.self) decodes differently from bytes (\(a)) and from the value (\(b))", bytes)
    case (.failure, .failure):
      break
    case (.success(let a), .failure(let error)):
      fail("\(T.self) decodes from bytes (\(a)) but not from the value: \(error)", bytes)
    case (.failure(let error), .success(let b)):
      fail("\(T.self) decodes from the value (\(b)) but not from bytes: \(error)", bytes)
    }
  }

  // MARK: - Parse, serialize, parse

  static func checkRoundTrip(_ parsed: JSONValue) {
    let text = parsed.serialized()
    guard let again = try? JSONValue(parsing: text) else {
      fail("the serialization of a parsed value does not parse", text)
    }
    require(
      again.isIdentical(to: parsed),
      "parse, serialize, parse changed the value: \(parsed) (\(kind(parsed))) -> \(again) (\(kind(again)))", text)
    require(again.serialized() == text, "serializing the value again gave other bytes", text)
  }

  /// The case of a value, shown with it: `.int(77777777777777760)` and `.double(7.777777777777776e16)`
  /// print alike.
  static func kind(_ value: JSONValue) -> String {
    switch value {
    case .null: "null"
    case .bool: "bool"
    case .int: "int"
    case .double: "double"
    case .string: "string"
    case .array: "array"
    case .object: "object"
    }
  }

  // MARK: - OperationLine

  static func checkOperationLine(_ bytes: [UInt8], parsed: JSONValue?) {
    let fromTree = Result { try OperationLine.decode(bytes) }
    let fromBytes = Result { try OperationLine.decodeEncodedLine(bytes[...]) }
    switch (fromTree, fromBytes) {
    case (.success(let tree), .success(let encoded)):
      require(
        same(tree, encoded.operation), "decode and decodeEncodedLine read different operations: \(tree)", bytes)
      if let parsed {
        let fromValue = Result { try OperationLine.decodeLine(value: parsed) }
        guard case .success(let line) = fromValue else {
          fail("decodeLine(value:) refused a line decode accepts", bytes)
        }
        require(line.operation == tree, "decodeLine(value:) read another operation", bytes)
        require(line.batch == encoded.batch, "decodeLine(value:) read another batch count", bytes)
      }
      let encodedAgain = OperationLine.encode(tree)
      guard let reread = try? OperationLine.decode(encodedAgain) else {
        fail("an encoded operation does not decode", encodedAgain)
      }
      require(reread == tree, "encode, decode changed the operation: \(tree) -> \(reread)", encodedAgain)
    case (.failure, .failure):
      break
    case (.success(let tree), .failure(let error)):
      fail("decode accepted a line (\(tree)) that decodeEncodedLine refuses: \(error)", bytes)
    case (.failure(let error), .success):
      fail("decodeEncodedLine accepted a line that decode refuses: \(error)", bytes)
    }
  }

  /// Whether an operation read into a tree and one read as bytes say the same thing.
  static func same(_ tree: LogOperation<JSONValue>, _ encoded: LogOperation<JSONBytes>) -> Bool {
    guard tree.timestamp == encoded.timestamp, tree.kind == encoded.kind, tree.id == encoded.id,
      tree.agent == encoded.agent, tree.clock == encoded.clock
    else { return false }
    switch (tree.data, encoded.data) {
    case (nil, nil): break
    case (let a?, let b?) where a.isIdentical(to: b.value): break
    default: return false
    }
    switch (tree.previous, encoded.previous) {
    case (.none, .none): return true
    case (.record(let a), .record(let b)): return a.isIdentical(to: b.value)
    case (.delta(let a), .delta(let b)): return a == b
    default: return false
    }
  }

  // MARK: - Failing

  static func describe<T>(_ result: Result<T, any Error>) -> String {
    switch result {
    case .success(let value): return "value \(value)"
    case .failure(let error): return "error \(error)"
    }
  }

  static func require(_ condition: Bool, _ message: @autoclosure () -> String, _ input: [UInt8]) {
    if !condition { fail(message(), input) }
  }

  static func fail(_ message: String, _ input: [UInt8]) -> Never {
    let shown = String(decoding: input.prefix(2_000), as: UTF8.self)
    fatalError("codec property broken: \(message)\n  input (\(input.count) bytes): \(shown)")
  }
}

// MARK: - Types decoded through the generic Decodable path

/// Any JSON document, read through the generic `Decoder` containers rather than the
/// decoder's own `JSONValue` path, so that every value kind goes through the streaming code.
struct AnyJSON: Decodable, Equatable {
  var value: JSONValue

  init(from decoder: any Decoder) throws {
    if var array = try? decoder.unkeyedContainer() {
      var elements: [JSONValue] = []
      while !array.isAtEnd { elements.append(try array.decode(AnyJSON.self).value) }
      value = .array(elements)
      return
    }
    if let object = try? decoder.container(keyedBy: AnyKey.self) {
      var members = JSONObject()
      for key in object.allKeys { members[key.stringValue] = try object.decode(AnyJSON.self, forKey: key).value }
      value = .object(members)
      return
    }
    let single = try decoder.singleValueContainer()
    if single.decodeNil() {
      value = .null
    } else if let bool = try? single.decode(Bool.self) {
      value = .bool(bool)
    } else if let string = try? single.decode(String.self) {
      value = .string(string)
    } else if let integer = try? single.decode(Int64.self) {
      value = .int(integer)
    } else {
      value = .double(try single.decode(Double.self))
    }
  }
}

struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

/// A record type in the shape of the fixtures' records, read with the keyed typed paths.
struct TaskProbe: Decodable, Equatable {
  var title: String?
  var status: String?
  var priority: Int?
  var estimate: Double?
  var done: Bool?
  var tags: [String]?
  var owner: Owner?
  var notes: String?
  var year: Int16?

  struct Owner: Decodable, Equatable {
    var name: String
    var id: UInt32?
  }
}

/// Numbers into every width, where range and exactness checks live.
struct NumberProbe: Decodable, Equatable {
  var i: Int8?
  var n: UInt64?
  var x: Int64?
  var f: Float?
  var d: Double?
  var u: UInt?
  var id: Int32?
}
