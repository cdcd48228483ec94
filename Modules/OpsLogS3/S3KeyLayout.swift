import Foundation
import OpsLogCodec
import OpsLogTypes

/// How a store's files map onto object keys under the location (the key prefix).
///
/// An object store has no append, no truncate and no rename, so a file is a sequence of
/// immutable objects, every one created with `If-None-Match: *`:
///
///     <prefix>/<path>~/<generation>/<sequence>
///
/// - The file's bytes are the objects of its newest generation, in sequence order.
/// - An append creates the next sequence of the newest generation.
/// - A replace or a truncate creates sequence 0 of the next generation, holding the whole new
///   content, so readers switch from the old bytes to the new ones in one step.
///
/// Two writers can never both create the same key, which is what makes every write a
/// compare-and-swap: on a manifest (two compactions, two registrations), on a WAL (a writer
/// whose lease was taken over finds its next position taken by the new holder's fence).
///
/// Path components are escaped (`%` as `%25`, `~` as `%7E`) so that `~/` marks a file and
/// nothing else; leases are plain objects at `<prefix>/<name>`.
struct S3KeyLayout: Sendable {
  /// The location without leading or trailing slashes.
  let prefix: String

  /// Twelve digits: sorts by number as S3 lists keys (by their UTF-8 bytes).
  static let digits = 12

  /// Validates and normalizes a location: a relative key prefix of non-empty components,
  /// none `.` or `..`, without NUL bytes.
  static func location(_ location: String) throws -> S3KeyLayout {
    var trimmed = Substring(location)
    while trimmed.hasPrefix("/") { trimmed = trimmed.dropFirst() }
    while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard !trimmed.isEmpty else {
      throw OpsLogError.invalidArgument("the S3 location (key prefix) must not be empty")
    }
    if let problem = PathRules.storePathProblem(String(trimmed)) {
      throw OpsLogError.invalidArgument("the S3 location \"\(location)\": \(problem)")
    }
    return S3KeyLayout(prefix: String(trimmed))
  }

  static func escape(_ component: Substring) -> String {
    var result = ""
    for character in component {
      switch character {
      case "%": result += "%25"
      case "~": result += "%7E"
      default: result.append(character)
      }
    }
    return result
  }

  static func unescape(_ component: Substring) -> String {
    component.replacingOccurrences(of: "%7E", with: "~").replacingOccurrences(of: "%25", with: "%")
  }

  private func escapedPath(_ path: String) -> String {
    path.split(separator: "/", omittingEmptySubsequences: false).map(Self.escape).joined(separator: "/")
  }

  /// The prefix every object of the file at `path` starts with.
  func filePrefix(_ path: String) -> String { prefix + "/" + escapedPath(path) + "~/" }

  /// The prefix of the children of the directory `path` (`""`: the location).
  func directoryPrefix(_ path: String) -> String {
    path.isEmpty ? prefix + "/" : prefix + "/" + escapedPath(path) + "/"
  }

  func objectKey(_ path: String, generation: Int, sequence: Int) -> String {
    filePrefix(path) + Self.padded(generation) + "/" + Self.padded(sequence)
  }

  func leaseKey(_ name: String) -> String { prefix + "/" + Self.escape(Substring(name)) }

  static func padded(_ number: Int) -> String {
    let text = String(number)
    return String(repeating: "0", count: max(0, digits - text.count)) + text
  }

  /// The generation and sequence of an object key under `filePrefix`; `nil` for a key that is
  /// not one this layout makes (such keys are ignored, never read).
  static func position(of key: String, filePrefix: String) -> (generation: Int, sequence: Int)? {
    guard key.hasPrefix(filePrefix) else { return nil }
    let rest = key.dropFirst(filePrefix.count)
    let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, parts[0].count == digits, parts[1].count == digits,
      let generation = Int(parts[0]), let sequence = Int(parts[1]), generation >= 0, sequence >= 0
    else { return nil }
    return (generation, sequence)
  }

  /// The name of a directory entry from a listing of `directoryPrefix`: a file (`name~/`), a
  /// directory (`name/`) or a plain object (a lease).
  static func entryName(_ listed: String, directoryPrefix: String) -> String? {
    guard listed.hasPrefix(directoryPrefix) else { return nil }
    var rest = Substring(listed.dropFirst(directoryPrefix.count))
    if rest.hasSuffix("~/") {
      rest = rest.dropLast(2)
    } else if rest.hasSuffix("/") {
      rest = rest.dropLast()
    }
    guard !rest.isEmpty, !rest.contains("/") else { return nil }
    return unescape(rest)
  }
}
