import AsyncHTTPClient
import Foundation
import NIOCore
import OpsLogEngine
import OpsLogS3
import OpsLogStorage
import OpsLogTestSupport
import OpsLogTypes
import Testing

struct Note: Codable, Sendable, Equatable {
  var text: String
}

/// A configuration for the test server, with test credentials. The lease is long enough that
/// a loaded machine (the whole suite runs at once) renews it in time; the takeover tests ask
/// for short ones.
func s3Configuration(
  leaseDuration: Duration = .seconds(20), maximumRetries: Int = 5, requestTimeout: Duration = .seconds(10)
) throws -> S3Configuration {
  let endpoint = try S3TestServer.endpoint()
  var configuration = S3Configuration(
    endpoint: endpoint.proxy, region: "us-east-1", bucket: endpoint.bucket,
    credentials: .fixed(accessKeyID: "opslog-test-key", secretAccessKey: "opslog-test-secret-never-shown"))
  configuration.leaseDuration = leaseDuration
  configuration.maximumRetries = maximumRetries
  configuration.requestTimeout = requestTimeout
  return configuration
}

/// A key prefix no other test uses.
func freshLocation(_ name: String = #function) -> String {
  "tests/\(name.prefix { $0 != "(" })-\(UUID().uuidString.prefix(8))"
}

func s3Options(_ configuration: S3Configuration? = nil, _ configure: (inout StoreOptions) -> Void = { _ in }) throws
  -> StoreOptions
{
  var options = StoreOptions()
  options.backend = S3Backend(try configuration ?? s3Configuration())
  configure(&options)
  return options
}

/// The test proxy's fault rules (see Tests/S3Support/s3-test-server.py).
enum TestProxy {
  struct Rule: Encodable {
    var method: String
    var keyContains: String = ""
    var action: String
    var times: Int = 1
    var every: Int = 1
    var status: Int = 503
    var code: String = "SlowDown"
    var delayMs: Int = 100
  }

  struct Stats: Decodable {
    var requests: [String: Int]
    var faults: Int
  }

  static func set(_ rules: [Rule]) async throws {
    var request = HTTPClientRequest(url: try S3TestServer.endpoint().proxy + "/__opslog/faults")
    request.method = .POST
    request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(rules)))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    #expect(response.status.code == 204)
  }

  static func clear() async throws {
    var request = HTTPClientRequest(url: try S3TestServer.endpoint().proxy + "/__opslog/faults")
    request.method = .DELETE
    _ = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
  }

  static func stats() async throws -> Stats {
    let request = HTTPClientRequest(url: try S3TestServer.endpoint().proxy + "/__opslog/stats")
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 1 << 20)
    return try JSONDecoder().decode(Stats.self, from: Data(body.readableBytesView))
  }
}

/// Fault rules are global to the proxy: the suites that set them run one at a time.
let proxyFaults = ProxyFaultGate()

actor ProxyFaultGate {
  private var busy = false
  private var waiters: [CheckedContinuation<Void, Never>] = []

  func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
    while busy { await withCheckedContinuation { waiters.append($0) } }
    busy = true
    defer {
      busy = false
      if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
    try await TestProxy.clear()
    do {
      let result = try await body()
      try await TestProxy.clear()
      return result
    } catch {
      try? await TestProxy.clear()
      throw error
    }
  }
}

func thrownError(_ body: () async throws -> Void) async -> (any Error)? {
  do {
    try await body()
    return nil
  } catch {
    return error
  }
}

func ioErrno(_ error: (any Error)?) -> Int32? {
  if case .io(_, let code, _)? = error as? OpsLogError { return code }
  return nil
}

func isLocked(_ error: (any Error)?) -> Bool {
  if case .locked? = error as? OpsLogError { return true }
  return false
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
