import Logging
import Synchronization

/// A logger for tests that keeps every message it receives, with its level and metadata, so a
/// test can check what a store logged and where.
public final class CapturedLog: Sendable {
  /// One message.
  public struct Entry: Sendable {
    public var level: Logger.Level
    public var message: String
    /// The logger's metadata merged with the message's own.
    public var metadata: Logger.Metadata
  }

  private let entries = Mutex<[Entry]>([])

  public init() {}

  /// A logger whose messages, from `.trace` up, are kept here.
  public var logger: Logger { Logger(label: "test") { _ in CapturingLogHandler(log: self) } }

  /// Every message so far, oldest first.
  public var all: [Entry] { entries.withLock { $0 } }

  /// The messages of `level`, oldest first.
  public func messages(at level: Logger.Level) -> [Entry] { all.filter { $0.level == level } }

  fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }
}

struct CapturingLogHandler: LogHandler {
  let log: CapturedLog
  var logLevel: Logger.Level = .trace
  var metadata: Logger.Metadata = [:]

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
    log.append(CapturedLog.Entry(level: event.level, message: "\(event.message)", metadata: merged))
  }
}
