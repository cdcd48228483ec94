import Testing

@testable import OpsLogTypes

@Suite("Parallel work")
struct ParallelWorkTests {
  struct PartFailed: Error, Equatable {
    var part: Int
  }

  @Test(arguments: [0, 1, 100, 255, 256, 1_000, 1_001, 100_000])
  func partsCoverTheRangeInOrder(count: Int) {
    let parts = ParallelWork.parts(of: count, minimumPartSize: 128)
    #expect(parts.flatMap { Array($0) } == Array(0..<count))
    #expect(parts.count <= ParallelWork.processorCount)
    #expect(parts.allSatisfy { !$0.isEmpty })
    // A part is never smaller than the minimum, unless the whole job is.
    if count >= 128 { #expect(parts.allSatisfy { $0.count >= 128 }) }
    if count < 256 { #expect(parts.count <= 1) }
  }

  @Test func theProcessorCountIsTheMachines() {
    #expect(ParallelWork.processorCount >= 1)
  }

  @Test(arguments: [10, 10_000])
  func mapReturnsThePartsInOrder(count: Int) async {
    let parts = await ParallelWork.map(count, minimumPartSize: 100) { range in Array(range) }
    #expect(parts.flatMap { $0 } == Array(0..<count))
    let blocking = ParallelWork.mapBlocking(count, minimumPartSize: 100) { range in Array(range) }
    #expect(blocking == parts)
  }

  @Test func theFirstFailingPartsErrorIsThrown() async {
    let count = 1_000 * max(2, ParallelWork.processorCount)
    let failing = { @Sendable (range: Range<Int>) throws(PartFailed) -> Int in
      if range.lowerBound > 0 { throw PartFailed(part: range.lowerBound) }
      return range.count
    }
    let parts = ParallelWork.parts(of: count, minimumPartSize: 100)
    // On a machine of one processor there is one part, which does not fail.
    guard parts.count > 1 else { return }
    await #expect(throws: PartFailed(part: parts[1].lowerBound)) {
      try await ParallelWork.map(count, minimumPartSize: 100, failing)
    }
    #expect(throws: PartFailed(part: parts[1].lowerBound)) {
      try ParallelWork.mapBlocking(count, minimumPartSize: 100, failing)
    }
  }
}
