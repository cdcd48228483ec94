import Crypto
import Foundation

/// AWS Signature Version 4 in the `Authorization` header, as S3 documents it
/// ("Signature Calculations for the Authorization Header"). Every payload is hashed: no
/// `UNSIGNED-PAYLOAD`, so a body changed in transit is refused by the server.
struct S3Signer: Sendable {
  let keys: S3Keys
  let region: String
  let service = "s3"

  /// A request to sign: the path already in its canonical (URI-encoded) form.
  struct Request {
    var method: String
    var canonicalPath: String
    /// Query parameters, unencoded.
    var query: [(String, String)]
    /// Header names in any case; values as sent.
    var headers: [(String, String)]
    var payload: [UInt8]
  }

  /// The headers to add: `x-amz-date`, `x-amz-content-sha256`, the session token when there
  /// is one, and `Authorization`.
  func sign(_ request: Request, date: Date) -> [(String, String)] {
    let (amzDate, day) = Self.timestamps(date)
    let payloadHash = Self.hex(SHA256.hash(data: request.payload))
    var headers = request.headers
    headers.append(("x-amz-date", amzDate))
    headers.append(("x-amz-content-sha256", payloadHash))
    if let token = keys.sessionToken { headers.append(("x-amz-security-token", token)) }

    let canonicalHeaders =
      headers
      .map { (name: $0.0.lowercased(), value: Self.trimmed($0.1)) }
      .sorted { $0.name < $1.name }
    let signedHeaders = canonicalHeaders.map(\.name).joined(separator: ";")
    let canonicalRequest = [
      request.method,
      request.canonicalPath,
      Self.canonicalQuery(request.query),
      canonicalHeaders.map { "\($0.name):\($0.value)\n" }.joined(),
      signedHeaders,
      payloadHash,
    ].joined(separator: "\n")
    let scope = "\(day)/\(region)/\(service)/aws4_request"
    let stringToSign = [
      "AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8))),
    ].joined(separator: "\n")

    var key = SymmetricKey(data: Array("AWS4\(keys.secretAccessKey)".utf8))
    for part in [day, region, service, "aws4_request"] {
      key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
    }
    let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    var added = headers.suffix(headers.count - request.headers.count).map { $0 }
    added.append(
      (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=\(keys.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), "
          + "Signature=\(signature)"
      ))
    return added
  }

  /// `20130524T000000Z` and `20130524`, in UTC.
  static func timestamps(_ date: Date) -> (String, String) {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
    let day = "\(parts.year ?? 1970)\(two(parts.month))\(two(parts.day))"
    return ("\(day)T\(two(parts.hour))\(two(parts.minute))\(two(parts.second))Z", day)
  }

  /// Query parameters sorted by encoded name, then value, each encoded as SigV4 says.
  static func canonicalQuery(_ query: [(String, String)]) -> String {
    let encoded: [(name: String, value: String)] = query.map { parameter in
      (uriEncode(parameter.0, encodingSlash: true), uriEncode(parameter.1, encodingSlash: true))
    }
    // Encoded text is ASCII, so String's order is the byte order SigV4 asks for.
    let sorted = encoded.sorted { left, right in
      left.name == right.name ? left.value < right.value : left.name < right.name
    }
    return sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
  }

  /// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`), and `/`
  /// unless `encodingSlash`: the encoding both the canonical request and the URL use, so that
  /// what is signed is what is sent.
  static func uriEncode(_ text: String, encodingSlash: Bool) -> String {
    var result = ""
    result.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      if isUnreserved(byte) || (byte == slash && !encodingSlash) {
        result.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        result.unicodeScalars.append("%")
        result.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte >> 4)]))
        result.unicodeScalars.append(Unicode.Scalar(upperHexDigits[Int(byte & 0xF)]))
      }
    }
    return result
  }

  private static let slash = UInt8(ascii: "/")
  private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

  private static func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x41...0x5A, 0x61...0x7A, 0x30...0x39: return true  // A-Z a-z 0-9
    case 0x2D, 0x2E, 0x5F, 0x7E: return true  // - . _ ~
    default: return false
    }
  }

  private static func trimmed(_ value: String) -> String {
    // SigV4 trims the value and collapses runs of spaces into one.
    var result = ""
    var pendingSpace = false
    for character in value.trimmingCharacters(in: .whitespaces) {
      if character == " " {
        pendingSpace = true
      } else {
        if pendingSpace { result.append(" ") }
        pendingSpace = false
        result.append(character)
      }
    }
    return result
  }

  static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var result = [UInt8]()
    for byte in bytes {
      result.append(digits[Int(byte >> 4)])
      result.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: result, as: UTF8.self)
  }
}
