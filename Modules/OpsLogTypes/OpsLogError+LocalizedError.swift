#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// What an alert shows: `localizedDescription` is the error's sentence (``OpsLogError/description``),
/// not "The operation could not be completed", and ``recoverySuggestion`` says what to do
/// where there is something to do.
extension OpsLogError: LocalizedError {
  /// The sentence of ``description``.
  public var errorDescription: String? { description }

  /// The advice alone, for a user interface that shows it apart from the message.
  public var recoverySuggestion: String? {
    switch self {
    case .closed: "Open the store again."
    case .readOnly: "Open the store without readOnly to write."
    case .locked: "Close the other writer, or open this store read-only."
    case .storeNotFound: "Open the location writable once to create the store."
    case .corrupted:
      "Restore the file from a backup; nothing was overwritten, and the store's other files are intact."
    case .archiveSegmentNotFound: "Call archiveSegments() for the segments that exist."
    case .migrationFailed: "Fix the migration and open the store again; nothing was written."
    case .versionTooNew: "Open the store with a newer version of the application."
    case .recordTypeMismatch:
      "Open the store with the matching record type, a migration, or Store<JSONValue>; the data is intact."
    case .io(_, let errno, _):
      switch errno {
      case ENOSPC: "Free some disk space and try again."
      case EACCES, EPERM: "Check the permissions of the store's directory and files."
      case EROFS: "Open the store read-only, or move it to a writable file system."
      default: nil
      }
    case .notFound, .invalidJSON, .invalidOperation, .invalidArgument, .unsupported: nil
    }
  }
}
