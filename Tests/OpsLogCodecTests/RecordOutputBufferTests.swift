import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// The streaming encoder's own output buffer, reused by a thread from one record to the next.
@Suite struct RecordOutputBufferTests {
  /// Every length of append (the word-copy paths and the memmove path), across growth.
  @Test func appendsEveryLengthInOrder() {
    var buffer = RecordOutputBuffer()
    defer { buffer.deallocate() }
    var expected: [UInt8] = []
    let source = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
    for round in 0..<3 {
      for length in 0...40 {
        let piece = Array(source[(round + length) % 24..<(round + length) % 24 + length])
        piece.withUnsafeBufferPointer { buffer.appendBytes($0) }
        expected += piece
        buffer.appendByte(UInt8(length))
        expected.append(UInt8(length))
      }
    }
    #expect(Array(buffer.bytes) == expected)
    #expect(buffer.count == expected.count)
    buffer.removeAll()
    #expect(buffer.count == 0)
    buffer.appendASCII("ok")
    #expect(Array(buffer.bytes) == Array("ok".utf8))
  }

  /// A buffer that grew past ``RecordOutputBuffer/retainedCapacity`` for one record is freed
  /// when that record is done; the records after it are written as before.
  @Test func aLargeRecordThenSmallOnes() throws {
    struct Note: Codable, Equatable {
      var text: String
      var count: Int
    }
    let encoder = RecordEncoder()
    let large = Note(text: String(repeating: "x", count: RecordOutputBuffer.retainedCapacity + 10), count: 1)
    let largeBytes = try encoder.encodeBytes(large)
    #expect(largeBytes.count == RecordOutputBuffer.retainedCapacity + 10 + #"{"text":"","count":1}"#.utf8.count)
    #expect(try RecordDecoder().decode(Note.self, from: largeBytes) == large)
    #expect(try encoder.encodeBytes(Note(text: "a", count: 2)) == Array(#"{"text":"a","count":2}"#.utf8))

    var buffer = RecordOutputBuffer()
    // An empty buffer with an address, into a buffer with no memory yet.
    [UInt8](repeating: 1, count: 8).withUnsafeBufferPointer {
      buffer.appendBytes(UnsafeBufferPointer(rebasing: $0[0..<0]))
    }
    [UInt8](repeating: 7, count: RecordOutputBuffer.retainedCapacity + 1).withUnsafeBufferPointer {
      buffer.appendBytes($0)
    }
    buffer.removeAll()
    buffer.appendByte(9)
    #expect(Array(buffer.bytes) == [9])
    buffer.deallocate()
  }

  /// A record that fails half way (a NaN after other members) leaves nothing behind: not in the
  /// caller's writer, and not in the thread's buffer for the next record.
  @Test func aFailedRecordLeavesNothingForTheNext() throws {
    struct Reading: Codable {
      var name: String
      var value: Double
    }
    let encoder = RecordEncoder()
    var writer = JSONWriter()
    writer.writeASCII("[")
    #expect(throws: EncodingError.self) { try encoder.encode(Reading(name: "before", value: .nan), into: &writer) }
    #expect(writer.bytes == Array("[".utf8))
    try encoder.encode(Reading(name: "after", value: 1.5), into: &writer)
    #expect(writer.bytes == Array(#"[{"name":"after","value":1.5}"#.utf8))
  }
}

/// The streaming encoder's open containers are not retained; the containers it makes outside
/// its pool are kept alive until the value is done, even when the type drops them at once.
@Suite struct StreamingFrameLifetimeTests {
  struct DropsItsNestedContainers: Encodable {
    enum Keys: String, CodingKey { case a, b, c, d }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: Keys.self)
      _ = container.nestedContainer(keyedBy: Keys.self, forKey: .a)
      try container.encode(1, forKey: .b)
      do {
        var list = container.nestedUnkeyedContainer(forKey: .c)
        try list.encode("x")
      }
      try container.encode(true, forKey: .d)
    }
  }

  @Test func droppedNestedContainersAreClosedInPlace() throws {
    let encoder = RecordEncoder()
    for _ in 0..<3 {
      let bytes = try encoder.encodeBytes([DropsItsNestedContainers(), DropsItsNestedContainers()])
      let one = #"{"a":{},"b":1,"c":["x"],"d":true}"#
      #expect(String(decoding: bytes, as: UTF8.self) == "[\(one),\(one)]")
    }
  }
}
