import OpsLogCodec
import OpsLogTypes

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// `codec`: decode RECORDS snapshot lines into typed records, encode them back; the same with
/// Foundation's JSONDecoder/JSONEncoder. Figures are medians of three runs in this process.
func runCodecWorkload(_ options: BenchmarkOptions) throws -> BenchmarkResult {
  let count = options.records
  progress("codec: building \(count) snapshot lines")
  let encoder = RecordEncoder()
  let decoder = RecordDecoder()
  // All lines in one buffer, as a snapshot file read into memory.
  var writer = JSONWriter(reservingCapacity: count * 200)
  var lineRanges: [Range<Int>] = []
  lineRanges.reserveCapacity(count)
  for index in 0..<count {
    let start = writer.bytes.count
    try encoder.encode(SnapshotLine(id: Task.id(index), data: Task(index: index)), into: &writer)
    lineRanges.append(start..<writer.bytes.count)
    writer.writeByte(UInt8(ascii: "\n"))
  }
  let snapshot = writer.bytes
  let totalBytes = Double(lineRanges.reduce(0) { $0 + $1.count })
  let megabytes = totalBytes / 1_000_000
  progress("codec: \(decimal(megabytes, digits: 1)) MB of record lines")

  var decoded: [SnapshotLine<Task>] = []
  decoded.reserveCapacity(count)
  let decodeSeconds = try medianSeconds {
    decoded.removeAll(keepingCapacity: true)
    try snapshot.withUnsafeBytes { buffer in
      for range in lineRanges {
        decoded.append(
          try decoder.decode(SnapshotLine<Task>.self, from: UnsafeRawBufferPointer(rebasing: buffer[range])))
      }
    }
  }
  guard decoded.count == count, decoded[count - 1].data == Task(index: count - 1) else {
    throw CodecBenchmarkError.mismatch("decoded records differ from the originals")
  }
  progress("codec: decode \(decimal(decodeSeconds, digits: 3)) s")

  // The output buffer is reused between runs: faulting in fresh pages would dominate.
  var output = JSONWriter(reservingCapacity: snapshot.count + 64)
  let encodeSeconds = try medianSeconds {
    output.bytes.removeAll(keepingCapacity: true)
    for line in decoded {
      try encoder.encode(line, into: &output)
      output.writeByte(UInt8(ascii: "\n"))
    }
  }
  guard output.bytes == snapshot else { throw CodecBenchmarkError.mismatch("encoded lines differ from the input") }
  progress("codec: encode \(decimal(encodeSeconds, digits: 3)) s")

  // OPSLOG_BENCH_SKIP_FOUNDATION=1 leaves Foundation out (its figures become null), for
  // profiling our codec alone; the flag lives here because the command-line options are shared.
  func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }
  func result(_ foundation: [(String, JSONValue)]) -> BenchmarkResult {
    BenchmarkResult(
      workload: "codec", records: count, ops: options.ops, seconds: decodeSeconds + encodeSeconds, opsPerSecond: nil,
      extra: [
        ("parseMBps", .double(rounded(megabytes / decodeSeconds))),
        ("serializeMBps", .double(rounded(megabytes / encodeSeconds))),
      ] + foundation)
  }
  if ProcessInfo.processInfo.environment["OPSLOG_BENCH_SKIP_FOUNDATION"] == "1" { return result([]) }

  let foundationDecoder = JSONDecoder()
  var foundationDecoded: [SnapshotLine<Task>] = []
  foundationDecoded.reserveCapacity(count)
  let foundationDecodeSeconds = try medianSeconds {
    foundationDecoded.removeAll(keepingCapacity: true)
    for range in lineRanges {
      foundationDecoded.append(try foundationDecoder.decode(SnapshotLine<Task>.self, from: Data(snapshot[range])))
    }
  }
  progress("codec: Foundation decode \(decimal(foundationDecodeSeconds, digits: 3)) s")

  let foundationEncoder = JSONEncoder()
  var foundationBytes = 0
  let foundationEncodeSeconds = try medianSeconds {
    foundationBytes = 0
    for line in foundationDecoded { foundationBytes += try foundationEncoder.encode(line).count }
  }
  progress("codec: Foundation encode \(decimal(foundationEncodeSeconds, digits: 3)) s")

  return result([
    ("foundationParseMBps", JSONValue.double(rounded(megabytes / foundationDecodeSeconds))),
    (
      "foundationSerializeMBps",
      JSONValue.double(rounded(Double(foundationBytes) / 1_000_000 / foundationEncodeSeconds))
    ),
  ])
}

enum CodecBenchmarkError: Error, CustomStringConvertible {
  case mismatch(String)
  var description: String {
    switch self {
    case .mismatch(let message): return "codec benchmark: \(message)"
    }
  }
}
