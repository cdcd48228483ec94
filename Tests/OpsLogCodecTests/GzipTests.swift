import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogCodec

/// Deterministic text that compresses but is not trivial: JSONL-like lines with varying numbers.
func sampleText(lines: Int, seed: UInt64 = 1) -> [UInt8] {
  var random = SplitMix64(seed: seed)
  var bytes: [UInt8] = []
  for index in 0..<lines {
    bytes += Array(#"{"id":"r\#(index)","data":{"n":\#(random.next() % 1_000_000),"s":"é🔑"}}"#.utf8)
    bytes.append(0x0A)
  }
  return bytes
}

func gzip(_ bytes: [UInt8], level: Int = 6, chunkSize: Int = 1000) throws -> [UInt8] {
  let compressor = try GzipCompressor(level: level)
  var output: [UInt8] = []
  var offset = 0
  while offset < bytes.count {
    let end = min(offset + chunkSize, bytes.count)
    output += try compressor.compress(bytes[offset..<end])
    offset = end
  }
  return output + (try compressor.finish())
}

func gunzip(_ bytes: [UInt8], chunkSize: Int) throws -> (bytes: [UInt8], finished: Bool) {
  let decompressor = try GzipDecompressor(path: "test.gz")
  var output: [UInt8] = []
  var offset = 0
  while offset < bytes.count {
    let end = min(offset + chunkSize, bytes.count)
    output += try decompressor.decompress(bytes[offset..<end])
    offset = end
  }
  return (output, decompressor.isFinished)
}

/// Runs a system tool with `input` on standard input and returns its standard output.
func runTool(_ path: String, _ arguments: [String], input: [UInt8]) throws -> (output: [UInt8], status: Int32) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let inputPipe = Pipe()
  let outputPipe = Pipe()
  process.standardInput = inputPipe
  process.standardOutput = outputPipe
  process.standardError = FileHandle.nullDevice
  try process.run()
  // Write from another thread: a large input would otherwise fill the pipe and deadlock.
  let writer = Thread {
    inputPipe.fileHandleForWriting.write(Data(input))
    try? inputPipe.fileHandleForWriting.close()
  }
  writer.start()
  let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return ([UInt8](output), process.terminationStatus)
}

@Test(arguments: [0, 1, 6, 9])
func compressedBytesInflateBack(level: Int) throws {
  let text = sampleText(lines: 3000)
  let compressed = try gzip(text, level: level)
  #expect(Gzip.hasMagic(compressed))
  if level > 0 { #expect(compressed.count < text.count / 2) }
  for chunkSize in [1, 7, 4096, compressed.count] {
    let (inflated, finished) = try gunzip(compressed, chunkSize: chunkSize)
    #expect(inflated == text)
    #expect(finished)
  }
}

@Test func systemGzipReadsOurOutputAndWeReadItsOutput() throws {
  let text = sampleText(lines: 2000, seed: 9)
  let (fromUs, status) = try runTool("/bin/gzip", ["-dc"], input: try gzip(text))
  #expect(status == 0)
  #expect(fromUs == text)
  let (fromGzip, compressStatus) = try runTool("/bin/gzip", ["-c", "-9"], input: text)
  #expect(compressStatus == 0)
  #expect(try gunzip(fromGzip, chunkSize: 100).bytes == text)
}

@Test func emptyInputMakesAValidMember() throws {
  let compressed = try gzip([])
  let (inflated, finished) = try gunzip(compressed, chunkSize: 3)
  #expect(inflated.isEmpty)
  #expect(finished)
}

@Test func concatenatedMembersAreReadInOrder() throws {
  let first = sampleText(lines: 10, seed: 1)
  let second = sampleText(lines: 10, seed: 2)
  let (inflated, finished) = try gunzip(try gzip(first) + gzip(second), chunkSize: 5)
  #expect(inflated == first + second)
  #expect(finished)
}

@Test func truncatedStreamIsNotFinished() throws {
  let compressed = try gzip(sampleText(lines: 500))
  for cut in [1, 2, 10, compressed.count / 2, compressed.count - 8, compressed.count - 1] {
    let (_, finished) = try gunzip(Array(compressed[0..<cut]), chunkSize: 64)
    #expect(!finished, "cut at \(cut)")
  }
}

@Test func damagedStreamIsCorrupted() throws {
  var compressed = try gzip(sampleText(lines: 500))
  // A flipped byte in the CRC-32 trailer must be detected.
  compressed[compressed.count - 6] ^= 0xFF
  #expect {
    try gunzip(compressed, chunkSize: 4096)
  } throws: { error in
    if case OpsLogError.corrupted(let path, _) = error { return path == "test.gz" }
    return false
  }
  #expect(throws: OpsLogError.self) { try gunzip(Array("plain text, not gzip".utf8), chunkSize: 4) }
}

@Test func levelsOutsideZeroToNineAreRejected() {
  for level in [-1, 10, 100] {
    #expect {
      try GzipCompressor(level: level)
    } throws: { error in
      if case OpsLogError.invalidArgument = error { return true }
      return false
    }
  }
}

@Test func compressorRefusesInputAfterFinish() throws {
  let compressor = try GzipCompressor(level: 1)
  _ = try compressor.finish()
  #expect(throws: OpsLogError.self) { try compressor.compress([1, 2, 3]) }
  #expect(throws: OpsLogError.self) { try compressor.finish() }
}

@Test func magicNeedsBothBytes() {
  #expect(Gzip.hasMagic([0x1F, 0x8B, 0x08]))
  #expect(!Gzip.hasMagic([0x1F]))
  #expect(!Gzip.hasMagic([]))
  #expect(!Gzip.hasMagic(Array("{\"version\":1}".utf8)))
}
