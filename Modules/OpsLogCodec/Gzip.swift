import CZlib
import OpsLogTypes

/// gzip detection.
public enum Gzip {
  /// Whether `prefix` starts with the gzip magic bytes `1f 8b`. Snapshots are recognized by
  /// these bytes, not by their name, so a renamed file still opens.
  public static func hasMagic(_ prefix: some Collection<UInt8>) -> Bool {
    var iterator = prefix.makeIterator()
    return iterator.next() == 0x1F && iterator.next() == 0x8B
  }

  /// `bytes` as one gzip member, compressed at zlib's `level` (0 to 9).
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` for a level outside 0...9.
  public static func compress(_ bytes: some Collection<UInt8>, level: Int) throws -> [UInt8] {
    let compressor = try GzipCompressor(level: level)
    var output = try compressor.compress(bytes)
    output += try compressor.finish()
    return output
  }

  /// The whole of a gzip file's data, inflated.
  ///
  /// - Parameters:
  ///   - bytes: the file's whole content, one or more gzip members.
  ///   - path: the file, named in errors.
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the data is damaged, or when it
  ///   ends before its gzip member does (a truncated file).
  public static func decompress(_ bytes: some Collection<UInt8>, path: String) throws -> [UInt8] {
    let decompressor = try GzipDecompressor(path: path)
    let plain = try decompressor.decompress(bytes)
    guard decompressor.isFinished else {
      throw OpsLogError.corrupted(path: path, reason: "the gzip stream is truncated")
    }
    return plain
  }

  /// Output is produced in blocks of this size; big enough that zlib is rarely re-entered,
  /// small enough to stay in cache.
  static let blockSize = 64 * 1024

  /// zlib takes at most `UInt32.max` input bytes per call; larger chunks are fed in pieces.
  static let maximumInput = 1 << 30

  /// `windowBits` for a gzip member: the largest window (15) plus 16 for the gzip wrapper.
  static let gzipWindowBits: Int32 = 15 + 16

  /// Runs `body` over contiguous bytes of `chunk`, copying only if the collection is not
  /// contiguous already.
  static func withBytes<Result>(
    _ chunk: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
  ) rethrows -> Result {
    if let result = try chunk.withContiguousStorageIfAvailable(body) { return result }
    return try Array(chunk).withUnsafeBufferPointer(body)
  }

  /// Runs one zlib step (`deflate` or `inflate`, in `body`) with `block` as its output space
  /// and appends what it produced to `output`. Returns the step's status and the number of
  /// bytes produced; a full block means zlib may have more to give.
  static func step(
    _ stream: UnsafeMutablePointer<z_stream>, block: inout [UInt8], into output: inout [UInt8],
    _ body: (UnsafeMutablePointer<z_stream>) -> Int32
  ) -> (status: Int32, produced: Int) {
    let (status, produced) = block.withUnsafeMutableBufferPointer { buffer in
      stream.pointee.next_out = buffer.baseAddress
      stream.pointee.avail_out = UInt32(buffer.count)
      // zlib must not keep a pointer into `block` past this call.
      defer {
        stream.pointee.next_out = nil
        stream.pointee.avail_out = 0
      }
      let status = body(stream)
      return (status, buffer.count - Int(stream.pointee.avail_out))
    }
    output.append(contentsOf: block[0..<produced])
    return (status, produced)
  }
}

/// Compresses a stream of bytes into one gzip member, as `gzip` writes it: `zcat` and
/// ``GzipDecompressor`` both read the result.
///
/// Not `Sendable`: it owns a zlib stream, which must be used from one thread at a time.
public final class GzipCompressor {
  private let stream: UnsafeMutablePointer<z_stream>
  private var isFinished = false
  /// Reused for every call, so feeding small chunks does not allocate a block each time.
  private var block = [UInt8](repeating: 0, count: Gzip.blockSize)

  /// Starts a gzip member.
  ///
  /// - Parameter level: zlib's compression level, 0 (store) to 9 (smallest).
  /// - Throws: `OpsLogError.invalidArgument(_:)` for a level outside 0...9, or when zlib
  ///   cannot start (out of memory).
  public init(level: Int) throws {
    guard (0...9).contains(level) else {
      throw OpsLogError.invalidArgument("the gzip level \(level) is outside 0...9")
    }
    // zlib keeps a pointer back to the stream, so it needs an address that never moves.
    stream = .allocate(capacity: 1)
    stream.initialize(to: z_stream())
    let status = deflateInit2_(
      stream, Int32(level), Z_DEFLATED, Gzip.gzipWindowBits, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
      Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
      stream.deinitialize(count: 1)
      stream.deallocate()
      throw OpsLogError.invalidArgument("zlib could not start a gzip stream (status \(status))")
    }
  }

  deinit {
    deflateEnd(stream)
    stream.deinitialize(count: 1)
    stream.deallocate()
  }

  /// Compresses `chunk` and returns whatever compressed bytes are ready (often none: zlib
  /// buffers until it has a block).
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` after ``finish()``, or when zlib fails to
  ///   compress (its status in the message).
  public func compress(_ chunk: some Collection<UInt8>) throws -> [UInt8] {
    guard !isFinished else { throw OpsLogError.invalidArgument("the gzip member is already finished") }
    var output: [UInt8] = []
    try Gzip.withBytes(chunk) { input in
      var offset = 0
      while offset < input.count {
        let length = Swift.min(input.count - offset, Gzip.maximumInput)
        try run(
          input: UnsafeBufferPointer(rebasing: input[offset..<(offset + length)]), flush: Z_NO_FLUSH, into: &output)
        offset += length
      }
    }
    return output
  }

  /// Ends the member and returns the remaining compressed bytes, including the gzip trailer
  /// (CRC-32 and length).
  ///
  /// - Throws: `OpsLogError.invalidArgument(_:)` when called twice.
  public func finish() throws -> [UInt8] {
    guard !isFinished else { throw OpsLogError.invalidArgument("the gzip member is already finished") }
    var output: [UInt8] = []
    try run(input: UnsafeBufferPointer(start: nil, count: 0), flush: Z_FINISH, into: &output)
    isFinished = true
    return output
  }

  private func run(input: UnsafeBufferPointer<UInt8>, flush: Int32, into output: inout [UInt8]) throws {
    stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
    stream.pointee.avail_in = UInt32(input.count)
    defer {
      stream.pointee.next_in = nil
      stream.pointee.avail_in = 0
    }
    while true {
      let (status, produced) = Gzip.step(stream, block: &block, into: &output) { deflate($0, flush) }
      switch status {
      case Z_STREAM_END:
        return
      case Z_OK, Z_BUF_ERROR:
        // The block was filled: there may be more to write. Otherwise, all input is consumed.
        if produced == Gzip.blockSize { continue }
        if flush == Z_FINISH { continue }
        return
      default:
        throw OpsLogError.invalidArgument("zlib failed to compress (status \(status))")
      }
    }
  }
}

/// Inflates gzip data as it arrives, one chunk at a time, so a compressed snapshot is never
/// held whole in memory. Concatenated members are read one after another, as `gzip -d` does.
///
/// Not `Sendable`: it owns a zlib stream, which must be used from one thread at a time.
public final class GzipDecompressor {
  private let stream: UnsafeMutablePointer<z_stream>
  private let path: String
  private var failed = false
  /// Reused for every call, so feeding small chunks does not allocate a block each time.
  private var block = [UInt8](repeating: 0, count: Gzip.blockSize)

  /// Whether the input so far ends exactly at the end of a complete gzip member. A stream
  /// that stops before that point is truncated.
  public private(set) var isFinished = false

  /// Starts inflating.
  ///
  /// - Parameter path: the file being read, named in errors.
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when zlib cannot start (out of memory).
  public init(path: String) throws {
    self.path = path
    stream = .allocate(capacity: 1)
    stream.initialize(to: z_stream())
    let status = inflateInit2_(stream, Gzip.gzipWindowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    guard status == Z_OK else {
      stream.deinitialize(count: 1)
      stream.deallocate()
      throw OpsLogError.corrupted(path: path, reason: "zlib could not start inflating (status \(status))")
    }
  }

  deinit {
    inflateEnd(stream)
    stream.deinitialize(count: 1)
    stream.deallocate()
  }

  /// Inflates `chunk` and returns the bytes it gives.
  ///
  /// - Throws: `OpsLogError.corrupted(path:reason:)` when the data is not gzip or is damaged
  ///   (a bad header, a bad deflate block, a CRC or length mismatch); once thrown, every later
  ///   call throws too.
  public func decompress(_ chunk: some Collection<UInt8>) throws -> [UInt8] {
    guard !failed else { throw OpsLogError.corrupted(path: path, reason: "the gzip stream is damaged") }
    var output: [UInt8] = []
    do {
      try Gzip.withBytes(chunk) { input in
        var offset = 0
        while offset < input.count {
          let length = Swift.min(input.count - offset, Gzip.maximumInput)
          try run(input: UnsafeBufferPointer(rebasing: input[offset..<(offset + length)]), into: &output)
          offset += length
        }
      }
    } catch {
      failed = true
      throw error
    }
    return output
  }

  private func run(input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) throws {
    guard input.count > 0 else { return }
    stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
    stream.pointee.avail_in = UInt32(input.count)
    defer {
      stream.pointee.next_in = nil
      stream.pointee.avail_in = 0
    }
    while true {
      if isFinished {
        // More bytes after a complete member: another member follows.
        guard stream.pointee.avail_in > 0 else { return }
        guard inflateReset(stream) == Z_OK else {
          throw OpsLogError.corrupted(path: path, reason: "zlib could not start the next gzip member")
        }
        isFinished = false
      }
      let (status, produced) = Gzip.step(stream, block: &block, into: &output) { inflate($0, Z_NO_FLUSH) }
      switch status {
      case Z_STREAM_END:
        isFinished = true
      case Z_OK:
        if stream.pointee.avail_in == 0 && produced < Gzip.blockSize { return }
      case Z_BUF_ERROR:
        // No progress possible: all input consumed and the member not yet complete.
        return
      default:
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
        throw OpsLogError.corrupted(path: path, reason: "the gzip data is damaged (\(message))")
      }
    }
  }
}
