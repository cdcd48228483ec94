/// The little of S3's XML the backend reads: `ListObjectsV2` results and error codes.
///
/// A reader of its own rather than an XML library: the documents are flat and machine-made,
/// every value the backend needs is the text of a leaf element, and Foundation's `XMLParser`
/// pulls libxml2 into every Linux build.
enum S3XML {
  struct Listing: Sendable {
    struct Object: Sendable, Equatable {
      var key: String
      var size: Int
      var etag: String
    }
    var objects: [Object] = []
    var commonPrefixes: [String] = []
    var isTruncated = false
    var continuationToken: String?
  }

  /// Parses a `ListBucketResult`; `OpsLogError`-free: a document that is not one gives an
  /// empty listing that is not truncated, and the caller's checks decide.
  static func listing(_ body: [UInt8]) -> Listing {
    let text = String(decoding: body, as: UTF8.self)
    var listing = Listing()
    for block in elements("Contents", in: text) {
      guard let key = value(of: "Key", in: block) else { continue }
      let size = value(of: "Size", in: block).flatMap { Int($0) } ?? 0
      let etag = value(of: "ETag", in: block) ?? ""
      listing.objects.append(Listing.Object(key: key, size: size, etag: etag))
    }
    for block in elements("CommonPrefixes", in: text) {
      if let prefix = value(of: "Prefix", in: block) { listing.commonPrefixes.append(prefix) }
    }
    listing.isTruncated = value(of: "IsTruncated", in: text) == "true"
    listing.continuationToken = value(of: "NextContinuationToken", in: text)
    return listing
  }

  /// The unescaped text of the first `<name>` element in `body`.
  static func firstValue(of name: String, in body: [UInt8]) -> String? {
    value(of: name, in: String(decoding: body, as: UTF8.self))
  }

  /// The raw inner text of every `<name>…</name>` in `text`, in order (not nested).
  static func elements(_ name: String, in text: String) -> [Substring] {
    let open = "<\(name)>"
    let close = "</\(name)>"
    var result: [Substring] = []
    var rest = text[...]
    while let start = rest.range(of: open) {
      guard let end = rest[start.upperBound...].range(of: close) else { break }
      result.append(rest[start.upperBound..<end.lowerBound])
      rest = rest[end.upperBound...]
    }
    return result
  }

  static func value<Text: StringProtocol>(of name: String, in text: Text) -> String? {
    guard let start = text.range(of: "<\(name)>") else { return nil }
    guard let end = text[start.upperBound...].range(of: "</\(name)>") else { return nil }
    return unescape(text[start.upperBound..<end.lowerBound])
  }

  /// XML's five named entities and numeric character references.
  static func unescape<Text: StringProtocol>(_ text: Text) -> String {
    guard text.contains("&") else { return String(text) }
    var result = ""
    var rest = Substring(text)
    while let ampersand = rest.firstIndex(of: "&") {
      result += rest[..<ampersand]
      guard let semicolon = rest[ampersand...].firstIndex(of: ";") else {
        result += rest[ampersand...]
        return result
      }
      let entity = rest[rest.index(after: ampersand)..<semicolon]
      switch entity {
      case "amp": result += "&"
      case "lt": result += "<"
      case "gt": result += ">"
      case "quot": result += "\""
      case "apos": result += "'"
      default:
        var scalar: Unicode.Scalar?
        if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
          scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
        } else if entity.hasPrefix("#") {
          scalar = UInt32(entity.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
        }
        if let scalar {
          result.unicodeScalars.append(scalar)
        } else {
          result += rest[ampersand...semicolon]
        }
      }
      rest = rest[rest.index(after: semicolon)...]
    }
    result += rest
    return result
  }
}
