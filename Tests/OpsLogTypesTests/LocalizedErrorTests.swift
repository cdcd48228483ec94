import Foundation
import Testing

@testable import OpsLogTypes

@Suite("OpsLogError for people")
struct LocalizedErrorTests {
  static let everyCase: [OpsLogError] = [
    .closed, .readOnly, .notFound(id: "t1"), .locked(holder: "process 42"), .storeNotFound(location: "/data"),
    .corrupted(path: "manifest.json", reason: "not JSON"), .invalidJSON(reason: "bad", offset: 3),
    .invalidOperation(reason: "ts is missing"), .invalidArgument("negative count"), .unsupported("compact in skipLoad"),
    .archiveSegmentNotFound("2024-Q1"), .migrationFailed(id: "a", reason: "boom"),
    .io(path: "ops/x", errno: ENOSPC, reason: "write failed"), .io(path: "ops/x", errno: EIO, reason: "read failed"),
    .versionTooNew(stored: 3, supported: 2), .recordTypeMismatch(id: "a", type: "Todo", reason: "no title"),
  ]

  @Test(arguments: everyCase)
  func localizedDescriptionIsTheSentence(_ error: OpsLogError) {
    #expect((error as any Error).localizedDescription == error.description)
    #expect(error.errorDescription == error.description)
    #expect(!error.description.isEmpty)
    // Advice never destroys data.
    for text in [error.description, error.recoverySuggestion ?? ""] {
      #expect(!text.lowercased().contains("remove"), "\(text)")
      #expect(!text.lowercased().contains("delete"), "\(text)")
    }
  }

  @Test func corruptionPointsToABackupOrVerify() {
    let error = OpsLogError.corrupted(path: "snapshots/snap-1.jsonl", reason: "line 3 is not JSON")
    #expect(error.description.contains("snapshots/snap-1.jsonl") && error.description.contains("line 3 is not JSON"))
    #expect(error.description.contains("backup"))
    #expect(error.recoverySuggestion?.contains("backup") == true)
  }

  @Test func suggestionsWhereThereIsAdvice() {
    #expect(OpsLogError.io(path: "p", errno: ENOSPC, reason: "r").recoverySuggestion?.contains("disk space") == true)
    #expect(OpsLogError.io(path: "p", errno: EACCES, reason: "r").recoverySuggestion?.contains("permissions") == true)
    #expect(OpsLogError.io(path: "p", errno: EIO, reason: "r").recoverySuggestion == nil)
    #expect(OpsLogError.notFound(id: "x").recoverySuggestion == nil)
    #expect(OpsLogError.locked(holder: "process 1").recoverySuggestion?.contains("read-only") == true)
  }
}
