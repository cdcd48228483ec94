/// The rules for paths and names inside a store, in one place for every layer that checks them
/// (the manifest and archive codecs here, the storage backends, the multi-writer's agent IDs),
/// so that a path or name one layer accepts is never one another rejects.
package enum PathRules {
  /// What is wrong with `path` as a path inside a store, or `nil` when nothing is: it must be
  /// relative, made of non-empty components, none of them `.` or `..`, without NUL bytes. The
  /// description is a sentence for an error message; the first problem found, front to back, wins.
  ///
  /// Compares UTF-8 bytes, not characters, so a combining mark after a `/` cannot hide it.
  /// Scans once and allocates only to describe a problem: the backends check every append.
  package static func storePathProblem(_ path: String) -> String? {
    let slash = UInt8(ascii: "/")
    let dot = UInt8(ascii: ".")
    if path.isEmpty { return "a path may not be empty" }
    if path.utf8.first == slash { return "path \"\(path)\" is absolute; paths are relative to the location" }
    var componentLength = 0
    var dotsOnly = true
    func componentProblem() -> String? {
      if componentLength == 0 { return "path \"\(path)\" has an empty component" }
      if dotsOnly && componentLength <= 2 { return "path \"\(path)\" may not contain \".\" or \"..\" components" }
      return nil
    }
    for byte in path.utf8 {
      if byte == 0 { return "a path may not contain NUL bytes" }
      if byte == slash {
        if let problem = componentProblem() { return problem }
        componentLength = 0
        dotsOnly = true
      } else {
        componentLength += 1
        if byte != dot { dotsOnly = false }
      }
    }
    return componentProblem()
  }

  /// Whether `name` can be one component of a file name built from it (an archive period, an
  /// agent ID): non-empty, not `.` or `..`, and only `A-Z a-z 0-9 . _ -`, so that it can never
  /// name another directory, and no file system normalizes it into a different name.
  package static func isSafeFileNameComponent(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".."
      && name.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
          UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
          return true
        default:
          return false
        }
      }
  }
}
