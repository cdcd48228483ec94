import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import OpsLogTypes

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One answer from the service.
struct S3Response: Sendable {
  var status: Int
  var headers: [(String, String)]
  var body: [UInt8]

  func header(_ name: String) -> String? {
    headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
  }

  /// The `<Code>` of an S3 error document, such as `SlowDown` or `PreconditionFailed`.
  var errorCode: String? { S3XML.firstValue(of: "Code", in: body) }
}

/// Signed requests to one bucket, with the retry policy: 5xx answers, `SlowDown` and network
/// errors are retried with exponential backoff and full jitter, at most `maximumRetries`
/// times; what still fails is an `OpsLogError/io(path:errno:reason:)` naming the bucket,
/// the key and the HTTP status. Statuses the caller handles itself (404, 412) are returned.
///
/// Nothing here logs or throws a header: the `Authorization` value names the access key ID,
/// and the credentials never leave the signer.
struct S3Client: Sendable {
  let configuration: S3Configuration
  let signer: S3Signer
  let scheme: String
  let host: String
  let port: Int?
  let logger: Logger

  init(configuration: S3Configuration, keys: S3Keys, logger: Logger) throws {
    self.configuration = configuration
    self.signer = S3Signer(keys: keys, region: configuration.region)
    self.logger = logger
    guard let url = URL(string: configuration.endpoint), let scheme = url.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
    else {
      throw OpsLogError.invalidArgument(
        "S3 endpoint \"\(configuration.endpoint)\" must be an http:// or https:// URL with a host")
    }
    guard url.path.isEmpty || url.path == "/" else {
      throw OpsLogError.invalidArgument("S3 endpoint \"\(configuration.endpoint)\" must not have a path")
    }
    guard !configuration.bucket.isEmpty, !configuration.bucket.contains("/") else {
      throw OpsLogError.invalidArgument("S3 bucket \"\(configuration.bucket)\" must be a bucket name without /")
    }
    guard configuration.maximumRetries >= 0 else {
      throw OpsLogError.invalidArgument("maximumRetries must not be negative")
    }
    self.scheme = scheme
    self.host = host
    self.port = url.port
  }

  /// `bucket/key`, the name errors use.
  func displayName(_ key: String?) -> String {
    guard let key, !key.isEmpty else { return configuration.bucket }
    return configuration.bucket + "/" + key
  }

  /// Sends one request, retrying what is worth retrying.
  ///
  /// - Parameter returning: statuses given back to the caller besides 2xx (for example 404
  ///   for a missing key, 412 for a failed condition).
  func send(
    _ method: HTTPMethod, key: String?, query: [(String, String)] = [], headers extra: [(String, String)] = [],
    body: [UInt8] = [], returning: Set<Int> = []
  ) async throws -> S3Response {
    var attempt = 0
    while true {
      let outcome: Result<S3Response, any Error>
      do {
        outcome = .success(try await sendOnce(method, key: key, query: query, headers: extra, body: body))
      } catch {
        outcome = .failure(error)
      }
      switch outcome {
      case .success(let response):
        if (200..<300).contains(response.status) || returning.contains(response.status) { return response }
        let retryable =
          response.status >= 500 || response.status == 429 || response.errorCode == "SlowDown"
          || response.errorCode == "RequestTimeout"
        if retryable && attempt < configuration.maximumRetries {
          attempt += 1
          try await backoff(attempt)
          continue
        }
        throw failure(method, key: key, response: response, attempts: attempt + 1)
      case .failure(let error):
        if error is CancellationError { throw error }
        if attempt < configuration.maximumRetries {
          attempt += 1
          logger.debug(
            "S3 request failed, retrying", metadata: ["key": "\(displayName(key))", "attempt": "\(attempt)"])
          try await backoff(attempt)
          continue
        }
        throw OpsLogError.io(
          path: displayName(key), errno: EIO,
          reason: "S3 \(method.rawValue) failed after \(attempt + 1) attempts: \(Self.networkReason(error))")
      }
    }
  }

  private func failure(_ method: HTTPMethod, key: String?, response: S3Response, attempts: Int) -> OpsLogError {
    let code = response.errorCode.map { " \($0)" } ?? ""
    let errno: Int32
    switch response.status {
    case 404: errno = ENOENT
    case 401, 403: errno = EACCES
    default: errno = EIO
    }
    let tries = attempts > 1 ? " after \(attempts) attempts" : ""
    return OpsLogError.io(
      path: displayName(key), errno: errno,
      reason: "S3 \(method.rawValue) returned HTTP \(response.status)\(code)\(tries)")
  }

  /// Exponential backoff with full jitter (the AWS architecture blog's advice): 25 ms doubled
  /// per attempt, capped at 2 s, a uniformly random part of it.
  private func backoff(_ attempt: Int) async throws {
    let ceiling = min(2_000, 25 << min(attempt, 10))
    try await Task.sleep(for: .milliseconds(Int.random(in: (ceiling / 4)...ceiling)))
  }

  private static func networkReason(_ error: any Error) -> String {
    // Errors of the HTTP stack describe the connection, never a header.
    String(describing: error)
  }

  private func sendOnce(
    _ method: HTTPMethod, key: String?, query: [(String, String)], headers extra: [(String, String)], body: [UInt8]
  ) async throws -> S3Response {
    let encodedKey = key.map { S3Signer.uriEncode($0, encodingSlash: false) } ?? ""
    let path: String
    let requestHost: String
    let portPart = port.map { ":\($0)" } ?? ""
    if configuration.pathStyle {
      path = "/" + S3Signer.uriEncode(configuration.bucket, encodingSlash: true) + (key == nil ? "" : "/" + encodedKey)
      requestHost = host + portPart
    } else {
      path = "/" + encodedKey
      requestHost = configuration.bucket + "." + host + portPart
    }
    var headers = extra
    headers.append(("host", requestHost))
    let signed = signer.sign(
      S3Signer.Request(method: method.rawValue, canonicalPath: path, query: query, headers: headers, payload: body),
      date: Date())
    let queryString = S3Signer.canonicalQuery(query)
    var request = HTTPClientRequest(
      url: "\(scheme)://\(requestHost)\(path)\(queryString.isEmpty ? "" : "?" + queryString)")
    request.method = method
    for (name, value) in headers + signed { request.headers.replaceOrAdd(name: name, value: value) }
    if !body.isEmpty || method == .PUT {
      request.body = .bytes(ByteBuffer(bytes: body))
    }
    let timeout = configuration.requestTimeout.components
    let milliseconds = timeout.seconds * 1000 + timeout.attoseconds / 1_000_000_000_000_000
    let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(max(1, milliseconds)))
    let collected = try await response.body.collect(upTo: 1 << 40)
    return S3Response(
      status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
      body: Array(collected.readableBytesView))
  }
}
