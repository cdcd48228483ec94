import Foundation
import OpsLogTypes

/// Where an ``S3Backend`` finds the keys it signs requests with.
///
/// Secrets never appear in a description, a debug description, a `dump`, a log line or an
/// error: every textual form shows the access key ID at most.
public enum S3Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
  /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, when set, `AWS_SESSION_TOKEN`, read
  /// when the backend is initialized.
  case environment
  /// Keys given in code.
  case fixed(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil)

  public var description: String {
    switch self {
    case .environment: return "S3Credentials.environment"
    case .fixed(let accessKeyID, _, let sessionToken):
      return "S3Credentials.fixed(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>"
        + (sessionToken == nil ? ")" : ", sessionToken: <redacted>)")
    }
  }

  public var debugDescription: String { description }

  /// A mirror without the secrets, so that `dump` and the debugger show none of them.
  public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

  /// The keys themselves, or `OpsLogError/invalidArgument(_:)` naming the missing variable
  /// (never its value).
  func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Keys {
    switch self {
    case .fixed(let accessKeyID, let secretAccessKey, let sessionToken):
      return S3Keys(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    case .environment:
      guard let accessKeyID = environment["AWS_ACCESS_KEY_ID"], !accessKeyID.isEmpty else {
        throw OpsLogError.invalidArgument("S3 credentials: AWS_ACCESS_KEY_ID is not set")
      }
      guard let secretAccessKey = environment["AWS_SECRET_ACCESS_KEY"], !secretAccessKey.isEmpty else {
        throw OpsLogError.invalidArgument("S3 credentials: AWS_SECRET_ACCESS_KEY is not set")
      }
      let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
      return S3Keys(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: token)
    }
  }
}

/// Resolved keys; kept inside the backend and the signer only.
struct S3Keys: Sendable, CustomStringConvertible, CustomReflectable {
  var accessKeyID: String
  var secretAccessKey: String
  var sessionToken: String?

  var description: String { "S3Keys(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>)" }
  var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}

/// How an ``S3Backend`` reaches its bucket.
///
/// ```swift
/// var configuration = S3Configuration(endpoint: "http://127.0.0.1:9000", region: "us-east-1", bucket: "tasks")
/// configuration.leaseDuration = .seconds(10)
/// ```
public struct S3Configuration: Sendable, CustomStringConvertible {
  /// The service's base URL, `http://` or `https://`, without a path: for AWS
  /// `https://s3.us-east-1.amazonaws.com`, for a local server `http://127.0.0.1:9000`.
  public var endpoint: String
  /// The region the requests are signed for (`us-east-1` for most local servers).
  public var region: String
  /// The bucket; it must exist.
  public var bucket: String
  /// Where the signing keys come from.
  public var credentials: S3Credentials
  /// `true`: `endpoint/bucket/key` (what local servers and MinIO expect); `false`: virtual-host
  /// style, `bucket.endpoint-host/key`.
  public var pathStyle: Bool
  /// How long one HTTP request may take before it counts as failed (and is retried); default
  /// 30 seconds.
  public var requestTimeout: Duration = .seconds(30)
  /// How many times a request is retried after a 5xx answer, `SlowDown` or a network error,
  /// with exponential backoff and jitter; default 5. What still fails is an
  /// `OpsLogError/io(path:errno:reason:)` naming the key and the HTTP status.
  public var maximumRetries: Int = 5
  /// How long a lease (`.lock`, `.compact-lock`) stays valid without renewal; the holder
  /// renews it every quarter of this. Another writer takes an expired lease over, so a holder
  /// that was killed blocks the store for at most this long; default 30 seconds.
  public var leaseDuration: Duration = .seconds(30)

  public init(
    endpoint: String, region: String, bucket: String, credentials: S3Credentials = .environment,
    pathStyle: Bool = true
  ) {
    self.endpoint = endpoint
    self.region = region
    self.bucket = bucket
    self.credentials = credentials
    self.pathStyle = pathStyle
  }

  public var description: String {
    "S3Configuration(endpoint: \(endpoint), region: \(region), bucket: \(bucket), credentials: \(credentials), "
      + "pathStyle: \(pathStyle))"
  }
}
