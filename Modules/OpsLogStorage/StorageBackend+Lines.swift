import OpsLogTypes

extension StorageBackend {
  /// Where the line that runs up to byte `end` of `path` starts: just after the last newline
  /// before `end`, or 0 when there is none.
  ///
  /// Reads backwards from `end` in growing chunks, so the cost is proportional to the length
  /// of that line, not of the file.
  public func startOfLine(endingAt end: Int, in path: String) async throws -> Int {
    var searchEnd = end
    var chunkLength = 4096
    while searchEnd > 0 {
      let start = max(0, searchEnd - chunkLength)
      let chunk = try await read(path, offset: start, length: searchEnd - start)
      if let position = chunk.lastIndex(of: UInt8(ascii: "\n")) { return start + position + 1 }
      searchEnd = start
      chunkLength = min(chunkLength * 2, 1 << 20)
    }
    return 0
  }

  /// Removes the last line of a line-oriented file (a WAL), by cutting the file at the start
  /// of that line. A trailing partial line (no final newline, the remains of a torn append)
  /// counts as the last line. Returns `false`, changing nothing, when the file is empty or
  /// missing.
  ///
  /// The cost is proportional to the length of the last line, not of the file.
  @discardableResult
  public func removeLastLine(_ path: String, durability: Durability) async throws -> Bool {
    guard let size = try await size(of: path), size > 0 else { return false }
    // The last line's own terminator is part of it, not the boundary before it.
    let endsWithNewline = try await read(path, offset: size - 1, length: 1) == [UInt8(ascii: "\n")]
    let start = try await startOfLine(endingAt: endsWithNewline ? size - 1 : size, in: path)
    try await truncate(path, toLength: start, durability: durability)
    return true
  }
}
