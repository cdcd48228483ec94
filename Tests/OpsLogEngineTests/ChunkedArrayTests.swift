import Testing

@testable import OpsLogEngine

/// The journal's chunked storage against a plain array.
@Suite("Chunked array")
struct ChunkedArrayTests {
  @Test func matchesAnArrayAcrossChunkBoundaries() {
    let capacity = ChunkedArray<Int>.chunkCapacity
    var chunked = ChunkedArray<Int>()
    var model: [Int] = []
    #expect(chunked.isEmpty && chunked.last == nil)
    // Grow past several chunks, shrink back across a boundary, grow again.
    for value in 0..<(capacity * 3 + 7) {
      chunked.append(value)
      model.append(value)
    }
    #expect(Array(chunked) == model)
    for _ in 0..<(capacity + 9) {
      #expect(chunked.removeLast() == model.removeLast())
    }
    #expect(Array(chunked) == model && chunked.count == model.count)
    for value in 0..<(capacity + 3) {
      chunked.append(-value)
      model.append(-value)
    }
    #expect(Array(chunked) == model)
    #expect(chunked.last == model.last && chunked[capacity] == model[capacity])

    chunked[capacity + 1] = 42
    model[capacity + 1] = 42
    #expect(chunked.remove(at: 5) == model.remove(at: 5))
    #expect(chunked.remove(at: capacity * 2) == model.remove(at: capacity * 2))
    #expect(Array(chunked) == model)
    #expect(chunked.lastIndex(where: { $0 == 42 }) == model.lastIndex(where: { $0 == 42 }))

    chunked.removeAll(keepingCapacity: true)
    #expect(chunked.isEmpty && chunked.chunks.count <= 1)
    chunked.append(1)
    #expect(Array(chunked) == [1])
    chunked.removeAll()
    #expect(chunked.isEmpty && chunked.chunks.isEmpty)
    // Emptied by removeLast down to nothing, then reused.
    for value in 0..<3 { chunked.append(value) }
    for _ in 0..<3 { chunked.removeLast() }
    #expect(chunked.isEmpty)
    chunked.append(9)
    #expect(Array(chunked) == [9])
  }
}
