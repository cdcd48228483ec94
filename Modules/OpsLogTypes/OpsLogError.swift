#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Every error OpsLog throws. Its ``description`` is a sentence that says what went wrong and
/// what to do about it.
public enum OpsLogError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The store was closed; open it again.
  case closed
  /// The store was opened read-only and the call would write.
  case readOnly
  /// No record has this ID.
  case notFound(id: String)
  /// Another live writer holds the store's lock, for example `"process 4242"`.
  case locked(holder: String)
  /// A read-only or skipLoad open found no store at the location.
  case storeNotFound(location: String)
  /// A manifest, snapshot or archive segment is missing or not valid.
  case corrupted(path: String, reason: String)
  /// Bytes that are not valid JSON; `offset` is the byte where parsing stopped.
  case invalidJSON(reason: String, offset: Int)
  /// JSON that breaks a rule of the WAL line format; the reason names the field.
  case invalidOperation(reason: String)
  /// An argument out of its domain.
  case invalidArgument(String)
  /// The call is not available in this mode, for example compact with skipLoad.
  case unsupported(String)
  /// No archive segment has this period or path.
  case archiveSegmentNotFound(String)
  /// The migration closure threw for this record; nothing was written.
  case migrationFailed(id: String, reason: String)
  /// A system call failed on this path.
  case io(path: String, errno: Int32, reason: String)
  /// The store holds records of a newer schema version than this application supports:
  /// opening it could misread or drop what the newer application wrote, so nothing is opened
  /// and nothing is written.
  case versionTooNew(stored: Int, supported: Int)
  /// A stored record does not decode as the store's record type. The data is intact; open the
  /// store with the matching type, a migration, or `Store<JSONValue>`.
  case recordTypeMismatch(id: String, type: String, reason: String)

  /// A sentence for a person reading a log: what went wrong and, where there is one, what to do.
  public var description: String {
    switch self {
    case .closed:
      return "The store is closed; open it again before using it."
    case .readOnly:
      return "The store was opened read-only; open it without readOnly to write."
    case .notFound(let id):
      return "No record has the ID \"\(id)\"."
    case .locked(let holder):
      return
        "The store is locked by \(holder); close the other writer, or open this one read-only."
    case .storeNotFound(let location):
      return
        "No store exists at \(location); a read-only or skipLoad open does not create one, so open it writable first."
    case .corrupted(let path, let reason):
      return
        "The store file \(path) is damaged: \(reason). Nothing was overwritten; restore the file from a backup (`opslog verify` lists every problem)."
    case .invalidJSON(let reason, let offset):
      return "Invalid JSON at byte \(offset): \(reason)."
    case .invalidOperation(let reason):
      return "Invalid WAL operation: \(reason)."
    case .invalidArgument(let message):
      return "Invalid argument: \(message)."
    case .unsupported(let message):
      return "Unsupported: \(message)."
    case .archiveSegmentNotFound(let segment):
      return "No archive segment \"\(segment)\" exists; archiveSegments() lists the ones that do."
    case .migrationFailed(let id, let reason):
      return
        "Migrating record \"\(id)\" failed: \(reason). Nothing was written; fix the migration and open again."
    case .io(let path, let errno, let reason):
      return "I/O error on \(path): \(reason) (errno \(errno) \(Self.errnoName(errno)))."
    case .versionTooNew(let stored, let supported):
      return
        "The store holds version \(stored) records, newer than version \(supported) that this application supports; it was not opened and nothing was written. Open it with a newer version of the application."
    case .recordTypeMismatch(let id, let type, let reason):
      return
        "The stored record \"\(id)\" does not decode as \(type): \(reason). The data is intact; open the store with the matching record type, a migration, or Store<JSONValue>."
    }
  }

  /// The symbolic name of the common errnos, for messages.
  static func errnoName(_ code: Int32) -> String {
    switch code {
    case ENOSPC: return "ENOSPC, the disk is full"
    case EIO: return "EIO"
    case EACCES: return "EACCES, permission denied"
    case EPERM: return "EPERM, operation not permitted"
    case ENOENT: return "ENOENT, no such file or directory"
    case EEXIST: return "EEXIST"
    case EROFS: return "EROFS, read-only file system"
    case ENOTDIR: return "ENOTDIR"
    case EISDIR: return "EISDIR"
    default: return String(cString: strerror(code))
    }
  }
}
