import ArgumentParser
import OpsLogCodec
import OpsLogTypes
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The exit codes every command uses, so that scripts can tell the cases apart.
enum Exit {
  /// The command did what it was asked.
  static let success = ExitCode.success
  /// It ran, and found problems (`verify`), or what it was asked for does not exist.
  static let problems = ExitCode(1)
  /// The store cannot be read: missing, not a directory, no manifest, or unreadable.
  static let cannotRead = ExitCode(2)
  /// It would modify a store that another live process holds (`.lock` or `.compact-lock`).
  static let locked = ExitCode(3)
}

/// Reports `message` on stderr as `opslog: message` and ends the command with `code`.
func fail(_ message: String, _ code: ExitCode) -> ExitCode {
  Output.error(message)
  return code
}

/// Writes to stdout and stderr with `write(2)`. stdout is buffered (64 KiB) so that an export
/// of a million records is not a million system calls; ``flush()`` empties it, and every
/// command flushes before it returns. stderr is written at once.
enum Output {
  static let buffer = Mutex<[UInt8]>([])

  static func write(_ bytes: some Collection<UInt8>) {
    buffer.withLock { buffer in
      buffer.append(contentsOf: bytes)
      if buffer.count >= 1 << 16 {
        writeAll(1, buffer)
        buffer.removeAll(keepingCapacity: true)
      }
    }
  }

  static func line(_ text: String) {
    write(Array(text.utf8) + [UInt8(ascii: "\n")])
  }

  /// A JSON document on one line or pretty-printed, with a trailing newline.
  static func json(_ value: JSONValue, pretty: Bool = true) {
    write((pretty ? PrettyJSON.serialize(value) : value.serialized()) + [UInt8(ascii: "\n")])
    flush()
  }

  static func flush() {
    buffer.withLock { buffer in
      writeAll(1, buffer)
      buffer.removeAll(keepingCapacity: true)
    }
  }

  /// `opslog: <message>` on stderr, after what is buffered for stdout.
  static func error(_ message: String) {
    note("opslog: \(message)")
  }

  /// A note on stderr, kept apart from the data on stdout.
  static func note(_ message: String) {
    flush()
    Progress.clearLine()
    writeAll(2, Array((message + "\n").utf8))
  }

  /// Writes every byte to `descriptor`, over partial writes and interruptions; a closed pipe
  /// (`opslog export | head`) ends the process quietly, as other command-line tools do.
  static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
    var written = 0
    bytes.withUnsafeBytes { raw in
      while written < raw.count {
        let count = systemWrite(descriptor, raw.baseAddress! + written, raw.count - written)
        if count < 0 {
          if errno == EINTR { continue }
          if errno == EPIPE { exit(0) }
          return
        }
        written += count
      }
    }
  }
}

/// A progress bar on stderr for work that takes longer than a second.
///
/// Shown only when stderr is a terminal (or `OPSLOG_PROGRESS=always`), and only once the work
/// has run for a second (`OPSLOG_PROGRESS_DELAY` seconds, to test it); work that finishes
/// sooner draws nothing. The bar is redrawn ten times a second from a task of its own, so the
/// work only updates counters.
final class Progress: Sendable {
  struct State {
    var label: String
    var done: Int = 0
    var total: Int?
    var unit: Unit
    var drawn = false
  }

  enum Unit: Sendable {
    case bytes, items
  }

  let state: Mutex<State>
  let started = ContinuousClock.now
  let ticker: Mutex<Task<Void, Never>?> = Mutex(nil)
  /// Whether some bar has drawn on the current line of stderr.
  static let lineDirty = Mutex(false)

  static var isEnabled: Bool {
    let setting = getenv("OPSLOG_PROGRESS").map { String(cString: $0) }
    if setting == "never" { return false }
    if setting == "always" { return true }
    return isatty(2) != 0
  }

  static var delay: Duration {
    if let text = getenv("OPSLOG_PROGRESS_DELAY").map({ String(cString: $0) }), let seconds = Double(text) {
      return .milliseconds(Int(seconds * 1000))
    }
    return .seconds(1)
  }

  /// Starts measuring `label`'s work of `total` units (`nil`: unknown, an elapsed-time spinner).
  init(_ label: String, total: Int? = nil, unit: Unit = .items) {
    state = Mutex(State(label: label, total: total, unit: unit))
    guard Self.isEnabled else { return }
    let delay = Self.delay
    let task = Task { [weak self] in
      try? await Task.sleep(for: delay)
      while !Task.isCancelled {
        guard let self else { return }
        self.draw()
        try? await Task.sleep(for: .milliseconds(100))
      }
    }
    ticker.withLock { $0 = task }
  }

  func advance(by count: Int = 1) { state.withLock { $0.done += count } }

  func set(done: Int) { state.withLock { $0.done = done } }

  func set(total: Int?) { state.withLock { $0.total = total } }

  func relabel(_ label: String) { state.withLock { $0.label = label } }

  /// Stops drawing and clears the bar.
  func finish() {
    ticker.withLock { task in
      task?.cancel()
      task = nil
    }
    Self.clearLine()
  }

  deinit { ticker.withLock { $0?.cancel() } }

  func draw() {
    let line = state.withLock { state -> String in
      state.drawn = true
      let elapsed = ContinuousClock.now - started
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      let amount = Self.format(state.done, state.unit)
      if let total = state.total, total > 0 {
        let fraction = min(1, Double(state.done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        return
          "\(state.label) [\(bar)] \(Int(fraction * 100))% \(amount)/\(Self.format(total, state.unit)) \(Int(seconds))s"
      }
      let spinner = ["|", "/", "-", "\\"][Int(seconds * 10) % 4]
      return "\(state.label) \(spinner) \(state.done > 0 ? amount + " " : "")\(Int(seconds))s"
    }
    Self.lineDirty.withLock { dirty in
      Output.writeAll(2, Array(("\r\u{1B}[K" + line).utf8))
      dirty = true
    }
  }

  /// Erases a bar from the current line of stderr, if one is there.
  static func clearLine() {
    lineDirty.withLock { dirty in
      guard dirty else { return }
      Output.writeAll(2, Array("\r\u{1B}[K".utf8))
      dirty = false
    }
  }

  static func format(_ count: Int, _ unit: Unit) -> String {
    switch unit {
    case .items: return "\(count)"
    case .bytes: return byteCount(count)
    }
  }
}

/// `1.2 MB`, `512 B`: sizes for people (powers of 1000, as `ls -h --si`).
func byteCount(_ count: Int) -> String {
  let units = ["B", "kB", "MB", "GB", "TB"]
  var value = Double(count)
  var unit = 0
  while value >= 1000 && unit < units.count - 1 {
    value /= 1000
    unit += 1
  }
  if unit == 0 { return "\(count) B" }
  let tenths = Int((value * 10).rounded())
  return "\(tenths / 10).\(tenths % 10) \(units[unit])"
}

/// `write(2)`, reachable from inside ``Output`` whose own `write` shadows it.
private func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
  write(descriptor, pointer, count)
}
