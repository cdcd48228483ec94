import OpsLogTypes

// Readable descriptions, in the JSON the values stand for: what `print`, string
// interpolation and test failures show. Defined here because the codec writes JSON.

extension JSONValue: CustomStringConvertible {
  /// The value as compact JSON, like `JSON.stringify`.
  public var description: String { jsonText }
}

extension JSONObject: CustomStringConvertible {
  /// The object as compact JSON, keys in their order.
  public var description: String { JSONValue.object(self).jsonText }
}

extension DeltaPatch: CustomStringConvertible {
  /// The patch as it is written in a WAL line's `prev`: `{"$set":{…},"$unset":[…]}`.
  public var description: String { jsonValue.jsonText }
}

extension LogOperation: CustomStringConvertible {
  /// The operation in brief: kind, ID, timestamp, writer and the records involved.
  public var description: String {
    var text = "\(kind.rawValue) \"\(id)\" at \(timestamp)"
    if let agent { text += " by \(agent)" }
    if let clock { text += " clock \(clock)" }
    if let data { text += ", data: \(data)" }
    switch previous {
    case .none: if kind == .set { text += ", created" }
    case .record(let record): text += ", previous: \(record)"
    case .delta(let patch): text += ", previous as a delta patch: \(patch)"
    }
    return text
  }
}
