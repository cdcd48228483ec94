import OpsLogTypes

extension StorageBackend {
  /// Removes the last line of a line-oriented file (a WAL), by cutting the file at the start
  /// of that line. A trailing partial line (no final newline, the remains of a torn append)
  /// counts as the last line. Returns `false`, changing nothing, when the file is empty or
  /// missing.
  ///
  /// Reads backwards from the end in growing chunks, so the cost is proportional to the
  /// length of the last line, not of the file.
  @discardableResult
  public func removeLastLine(_ path: String, durability: Durability) async throws -> Bool {
    let newline = UInt8(ascii: "\n")
    guard let size = try await size(of: path), size > 0 else { return false }
    // The last line's own terminator is part of it, not the boundary before it.
    var searchEnd = size
    if try await read(path, offset: size - 1, length: 1) == [newline] { searchEnd -= 1 }
    var chunkLength = 4096
    while searchEnd > 0 {
      let start = max(0, searchEnd - chunkLength)
      let chunk = try await read(path, offset: start, length: searchEnd - start)
      if let position = chunk.lastIndex(of: newline) {
        try await truncate(path, toLength: start + position + 1, durability: durability)
        return true
      }
      searchEnd = start
      chunkLength = min(chunkLength * 2, 1 << 20)
    }
    try await truncate(path, toLength: 0, durability: durability)
    return true
  }
}
