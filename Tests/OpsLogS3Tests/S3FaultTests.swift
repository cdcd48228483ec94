import Foundation
import OpsLogEngine
import OpsLogS3
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

@testable import OpsLogS3

#if canImport(Glibc)
  import Glibc
#endif

/// Faults between the store and S3, injected by the test proxy: nothing acknowledged is lost,
/// nothing is duplicated, and what cannot be done is a clear error.
@Suite("S3 faults", .serialized)
struct S3FaultTests {
  func lines(_ store: Store<Note>, location: String) async throws -> [String] {
    let reader = S3Backend(try s3Configuration())
    try await reader.initialize(location: location, readOnly: true)
    defer { Task { try? await reader.shutdown() } }
    guard let manifest = try await reader.readManifest() else { return [] }
    let wal = try await reader.read(manifest.activeOps) ?? []
    return String(decoding: wal, as: UTF8.self).split(separator: "\n").map(String.init)
  }

  @Test func slowDownAndServerErrorsAreRetried() async throws {
    let location = freshLocation()
    try await proxyFaults.run {
      let store = try await Store<Note>.open(location, options: try s3Options())
      let faultsBefore = try await TestProxy.stats().faults
      try await TestProxy.set([
        .init(method: "PUT", keyContains: location, action: "status", times: 2, status: 503, code: "SlowDown"),
        .init(method: "GET", keyContains: location, action: "status", times: 1, status: 500, code: "InternalError"),
      ])
      try await store.set("a", Note(text: "a"))
      #expect(try await TestProxy.stats().faults >= faultsBefore + 2)
      try await store.close()
      let reopened = try await Store<Note>.open(location, options: try s3Options())
      #expect(try reopened.get("a") == Note(text: "a"))
      try await reopened.close()
    }
  }

  /// The PUT lands, then its answer is lost: the retry meets 412 and recognises its own write
  /// by the write ID, so the set is acknowledged once and its line is in the WAL once.
  @Test func aWriteWhoseAnswerWasLostIsNotDuplicated() async throws {
    let location = freshLocation()
    try await proxyFaults.run {
      let store = try await Store<Note>.open(location, options: try s3Options { $0.checkpointThreshold = 1000 })
      try await store.set("before", Note(text: "x"))
      let faultsBefore = try await TestProxy.stats().faults
      try await TestProxy.set([
        .init(method: "PUT", keyContains: location + "/ops/", action: "land-then-reset", times: 1)
      ])
      try await store.set("landed", Note(text: "y"))
      #expect(try await TestProxy.stats().faults == faultsBefore + 1)
      try await TestProxy.set([.init(method: "PUT", keyContains: location + "/ops/", action: "reset", times: 1)])
      try await store.set("retried", Note(text: "z"))
      let walLines = try await lines(store, location: location)
      #expect(walLines.filter { $0.contains("\"landed\"") }.count == 1)
      #expect(walLines.filter { $0.contains("\"retried\"") }.count == 1)
      try await store.close()
      let reopened = try await Store<Note>.open(location, options: try s3Options())
      #expect(try reopened.count() == 3)
      try await reopened.close()
    }
  }

  @Test func whatStillFailsNamesTheKeyAndStatusAndNoSecret() async throws {
    let location = freshLocation()
    try await proxyFaults.run {
      let configuration = try s3Configuration(maximumRetries: 2)
      let store = try await Store<Note>.open(location, options: try s3Options(configuration))
      try await TestProxy.set([
        .init(
          method: "PUT", keyContains: location + "/ops/", action: "status", times: 100, status: 500,
          code: "InternalError")
      ])
      let error = await thrownError { try await store.set("a", Note(text: "a")) }
      let text = "\(error!)"
      #expect(ioErrno(error) == EIO)
      #expect(text.contains("HTTP 500"))
      #expect(text.contains(location + "/ops/"))
      #expect(!text.contains("opslog-test-secret-never-shown"))
      #expect(try store.get("a") == nil)
      try await TestProxy.clear()
      try await store.set("b", Note(text: "b"))
      try await store.close()
      let reopened = try await Store<Note>.open(location, options: try s3Options())
      #expect(try reopened.get("a") == nil)
      #expect(try reopened.get("b") == Note(text: "b"))
      try await reopened.close()
    }
  }

  @Test func aRequestPastItsTimeoutIsRetried() async throws {
    let location = freshLocation()
    try await proxyFaults.run {
      let configuration = try s3Configuration(requestTimeout: .milliseconds(400))
      let store = try await Store<Note>.open(location, options: try s3Options(configuration))
      try await TestProxy.set([
        .init(method: "PUT", keyContains: location + "/ops/", action: "delay", times: 1, delayMs: 1500)
      ])
      try await store.set("slow", Note(text: "s"))
      try await Task.sleep(for: .seconds(2))
      try await store.set("after", Note(text: "a"))
      try await store.close()
      let reopened = try await Store<Note>.open(location, options: try s3Options())
      #expect(try reopened.count() == 2)
      try await reopened.close()
    }
  }
}
