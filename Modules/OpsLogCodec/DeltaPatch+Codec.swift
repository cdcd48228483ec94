import OpsLogTypes

extension DeltaPatch {
  /// The reverse patch that turns `new` back into `old`, or `nil` when there is nothing to
  /// patch: the two are the same, or either is not an object (such records always keep a
  /// full `prev`).
  ///
  /// Values are "the same" when their compact JSON texts are equal
  /// (`JSONValue.isIdentical(to:)`), so a reordered nested object counts as a change, as in
  /// the reference. `$set` follows the old record's key order, `$unset` the new record's.
  public static func make(from old: JSONValue, to new: JSONValue) -> DeltaPatch? {
    guard case .object(let oldObject) = old, case .object(let newObject) = new else { return nil }
    var set = JSONObject()
    for (key, oldValue) in oldObject {
      if let newValue = newObject[key], newValue.isIdentical(to: oldValue) { continue }
      set.appendNew(key, oldValue)
    }
    var unset: [String] = []
    for key in newObject.keys where oldObject[key] == nil {
      unset.append(key)
    }
    if set.isEmpty && unset.isEmpty { return nil }
    return DeltaPatch(set: set, unset: unset)
  }

  /// Undoes an update: a copy of `record` (the new record) without the `$unset` keys and with
  /// the `$set` values put back. A key that `$set` restores keeps its place if the record
  /// still has it and goes to the end otherwise. A record that is not an object is returned
  /// unchanged.
  public func apply(to record: JSONValue) -> JSONValue {
    guard case .object(var object) = record else { return record }
    for key in unset { object.removeValue(forKey: key) }
    for (key, value) in set { object[key] = value }
    return .object(object)
  }

  /// Whether the patch's compact JSON is shorter, in bytes, than `full`'s: the writer uses the
  /// patch only then.
  public func isSmaller(than full: JSONValue) -> Bool {
    isSmaller(thanEncodedLength: full.serialized().count)
  }

  /// ``isSmaller(than:)`` for a full record already encoded in `length` bytes, so that the
  /// caller need not serialize it again.
  public func isSmaller(thanEncodedLength length: Int) -> Bool {
    jsonValue.serialized().count < length
  }

  /// The patch as it is stored in `prev`: `{"$set":{…},"$unset":[…]}`, an empty part left out.
  public var jsonValue: JSONValue {
    var object = JSONObject(minimumCapacity: 2)
    if !set.isEmpty { object.appendNew("$set", .object(set)) }
    if !unset.isEmpty { object.appendNew("$unset", .array(unset.map { .string($0) })) }
    return .object(object)
  }

  /// Reads a stored patch.
  ///
  /// - Throws: `OpsLogError.invalidOperation(reason:)` when `jsonValue` is not an object,
  ///   `$set` is not an object, `$unset` is not an array of strings, or a key other than
  ///   those two is present (undo would silently ignore it).
  public init(jsonValue: JSONValue) throws {
    guard case .object(let object) = jsonValue else {
      throw OpsLogError.invalidOperation(reason: "prev is not a delta patch object")
    }
    var set = JSONObject()
    var unset: [String] = []
    for (key, value) in object {
      switch ExactString(key) {
      case "$set":
        guard case .object(let members) = value else {
          throw OpsLogError.invalidOperation(reason: "prev.$set is not an object")
        }
        set = members
      case "$unset":
        guard case .array(let elements) = value else {
          throw OpsLogError.invalidOperation(reason: "prev.$unset is not an array")
        }
        unset.reserveCapacity(elements.count)
        for element in elements {
          guard case .string(let name) = element else {
            throw OpsLogError.invalidOperation(reason: "prev.$unset holds a value that is not a string")
          }
          unset.append(name)
        }
      default:
        throw OpsLogError.invalidOperation(reason: "prev holds \"\(key)\", which is not part of a delta patch")
      }
    }
    self.init(set: set, unset: unset)
  }
}
