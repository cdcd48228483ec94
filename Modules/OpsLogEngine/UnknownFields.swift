import OpsLogCodec
import OpsLogTypes

/// A stored record's JSON as it is on disk, kept for a record whose JSON has fields the
/// `Record` type does not decode, or a `null` member it reads as absent (Docs/API.md, "Schema
/// safety"; ``UnknownKeys``): written back byte for byte while the record is not written
/// again, and the source of the unknown top-level keys that an update keeps. Records the type
/// reads completely and would encode back to the same members keep nothing here.
@usableFromInline
struct StoredForm: Sendable, Equatable {
  /// The record's JSON bytes, as stored.
  @usableFromInline var bytes: [UInt8]
  /// Its top-level keys the type did not read, in file order.
  @usableFromInline var unknownKeys: [String]

  @usableFromInline
  init(bytes: [UInt8], unknownKeys: [String]) {
    self.bytes = bytes
    self.unknownKeys = unknownKeys
  }

  /// The stored form of `bytes` just decoded as a record, or `nil` when the type read every
  /// key of every object in it (the common case, which keeps nothing).
  static func noting(_ unknown: UnknownKeys?, bytes: some Collection<UInt8>) -> StoredForm? {
    guard let unknown else { return nil }
    return StoredForm(bytes: Array(bytes), unknownKeys: unknown.topLevel)
  }

  /// The JSON an update writes: the type's encoding of the new record, with this record's
  /// unknown top-level keys that the encoding lacks appended, values as stored. Nested
  /// unknown fields of an updated record are not kept (the type rewrote that object).
  @usableFromInline
  func merged(into encoded: [UInt8]) -> StoredForm {
    let merged = RecordMerge.mergingUnknownKeys(unknownKeys, from: bytes, into: encoded)
    return StoredForm(bytes: merged, unknownKeys: unknownKeys)
  }
}

/// A WAL operation decoded as `Record`, with the stored form of its `data` when that JSON has
/// fields `Record` does not decode.
struct DecodedOperation<Record: Sendable>: Sendable {
  var operation: LogOperation<Record>
  var dataForm: StoredForm?
}

extension StoredForm {
  /// Applies what an operation read from a WAL does to `forms`; returns the form before it
  /// when it changed one (for the journal entry, so that undo puts it back), else `nil`.
  ///
  /// `dataForm` is the operation's ``DecodedOperation/dataForm``; the operation is borrowed,
  /// not copied out of its ``DecodedOperation``: this runs for every replayed line, and a copy
  /// retained every reference its records hold.
  static func note<Record>(
    _ operation: borrowing LogOperation<Record>, dataForm: StoredForm?, in forms: inout [ExactString: StoredForm]
  ) -> StoredForm?? {
    if dataForm == nil && forms.isEmpty { return nil }
    let key = ExactString(operation.id)
    let before = forms[key]
    let after = operation.kind == .set ? dataForm : nil
    if before == nil && after == nil { return nil }
    forms[key] = after
    return .some(before)
  }
}
