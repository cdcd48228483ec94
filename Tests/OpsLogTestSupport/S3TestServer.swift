import Foundation
import Synchronization

/// The S3-compatible server of the OpsLogS3 tests: `Tests/S3Support/s3-test-server.py` (moto's
/// server and a fault-injecting proxy on free loopback ports), started once per test process
/// and stopped when the process exits, since the script serves until its standard input
/// closes.
///
/// `OPSLOG_S3_ENDPOINT` (with `OPSLOG_S3_BUCKET`) points the tests at a server that is already
/// running instead, such as one `.ci/run` started.
public enum S3TestServer {
  public struct Endpoint: Sendable {
    /// The proxy, which forwards to the server: what the tests' backends talk to.
    public var proxy: String
    public var bucket: String
    /// Whether faults can be injected (the proxy of the script; not an outside server).
    public var injectsFaults: Bool
  }

  public struct Unavailable: Error, CustomStringConvertible {
    public var description: String
  }

  private static let started = Mutex<Result<Endpoint, Unavailable>?>(nil)
  /// The running script, kept so that its standard input stays open as long as the tests run.
  private static let process = Mutex<(Process, Pipe)?>(nil)

  /// The server, started on first use. Throws ``Unavailable`` with the reason (moto is not
  /// installed: `pip install 'moto[server]'`).
  public static func endpoint() throws -> Endpoint {
    try started.withLock { started in
      if let started { return try started.get() }
      let result = Result { try start() }.mapError { Unavailable(description: "\($0)") }
      started = result
      return try result.get()
    }.self
  }

  private static func start() throws -> Endpoint {
    let environment = ProcessInfo.processInfo.environment
    if let endpoint = environment["OPSLOG_S3_ENDPOINT"], !endpoint.isEmpty {
      return Endpoint(proxy: endpoint, bucket: environment["OPSLOG_S3_BUCKET"] ?? "opslog-tests", injectsFaults: false)
    }
    let script = try scriptPath()
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    child.arguments = ["python3", script]
    let input = Pipe()
    let output = Pipe()
    child.standardInput = input
    child.standardOutput = output
    child.standardError = FileHandle.standardError
    try child.run()
    var line = Data()
    let handle = output.fileHandleForReading
    while !line.contains(UInt8(ascii: "\n")) {
      let chunk = handle.availableData
      if chunk.isEmpty {
        throw Unavailable(
          description: "the S3 test server did not start (is moto installed? pip install 'moto[server]')")
      }
      line.append(chunk)
    }
    struct Ports: Decodable {
      var proxy: Int
      var bucket: String
    }
    let ports = try JSONDecoder().decode(Ports.self, from: line.prefix { $0 != UInt8(ascii: "\n") })
    process.withLock { $0 = (child, input) }
    return Endpoint(proxy: "http://127.0.0.1:\(ports.proxy)", bucket: ports.bucket, injectsFaults: true)
  }

  /// `Tests/S3Support/s3-test-server.py`, found from this source file's place in the package.
  public static func scriptPath(file: String = #filePath) throws -> String {
    var directory = URL(fileURLWithPath: file).deletingLastPathComponent()
    for _ in 0..<4 {
      let candidate = directory.appendingPathComponent("S3Support/s3-test-server.py").path
      if FileManager.default.fileExists(atPath: candidate) { return candidate }
      directory.deleteLastPathComponent()
    }
    throw Unavailable(description: "Tests/S3Support/s3-test-server.py not found")
  }
}
