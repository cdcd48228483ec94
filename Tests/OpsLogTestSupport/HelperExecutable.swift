import Foundation

/// The `OpsLogTestHelper` executable, the child process of the multi-process tests, and the
/// other executables the tests run (`OpsLogTorture`).
public enum HelperExecutable {
  /// Its path: SwiftPM builds it next to the test bundle (the test targets depend on it), so
  /// it is looked for there and in the few directories above.
  public static func path() throws -> String {
    try path(named: "OpsLogTestHelper")
  }

  /// The path of the package's executable `name` (a test target that runs it depends on its
  /// target, so that it is built first), looked for as ``path()`` looks.
  public static func path(named name: String) throws -> String {
    let starts = [
      Bundle.main.bundleURL,
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
      Bundle.main.executableURL?.deletingLastPathComponent(),
    ].compactMap { $0 }
    for start in starts {
      var directory = start.standardizedFileURL
      for _ in 0..<6 {
        let candidate = directory.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
      }
    }
    throw NotFound(name: name, searched: starts.map(\.path))
  }

  public struct NotFound: Error, CustomStringConvertible {
    public var name: String
    public var searched: [String]
    public var description: String { "\(name) not found near \(searched); build it with swift build" }
  }
}
