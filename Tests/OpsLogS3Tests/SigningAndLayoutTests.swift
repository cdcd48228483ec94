import Foundation
import OpsLogTypes
import Testing

@testable import OpsLogS3

/// The pieces that need no server: signing, the key layout, the listing reader, and secrets
/// kept out of every description.
@Suite("S3 signing, layout and descriptions")
struct SigningAndLayoutTests {
  /// AWS's published example ("Signature Calculations for the Authorization Header", GET
  /// Object): the same signature to the last digit.
  @Test func signatureMatchesAWSExample() {
    let signer = S3Signer(
      keys: S3Keys(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
      region: "us-east-1")
    let request = S3Signer.Request(
      method: "GET", canonicalPath: "/test.txt", query: [],
      headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")], payload: [])
    let headers = signer.sign(request, date: Date(timeIntervalSince1970: 1_369_353_600))
    let authorization = headers.first { $0.0 == "Authorization" }?.1
    #expect(
      authorization
        == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    #expect(headers.contains { $0 == ("x-amz-date", "20130524T000000Z") })
  }

  @Test func writesSignTheirPayloadHash() {
    let signer = S3Signer(keys: S3Keys(accessKeyID: "id", secretAccessKey: "secret"), region: "eu-west-1")
    let request = S3Signer.Request(
      method: "PUT", canonicalPath: "/bucket/key", query: [], headers: [("host", "h")], payload: Array("body".utf8))
    let headers = signer.sign(request, date: Date(timeIntervalSince1970: 0))
    let hash = headers.first { $0.0 == "x-amz-content-sha256" }?.1
    #expect(hash == "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5")
    #expect(!headers.contains { $0.1 == "UNSIGNED-PAYLOAD" })
  }

  @Test func queryAndPathEncodingFollowSigV4() {
    #expect(S3Signer.uriEncode("a b/c~d%e", encodingSlash: false) == "a%20b/c~d%25e")
    #expect(S3Signer.uriEncode("a/b", encodingSlash: true) == "a%2Fb")
    #expect(
      S3Signer.canonicalQuery([("prefix", "x/y"), ("list-type", "2"), ("delimiter", "/")])
        == "delimiter=%2F&list-type=2&prefix=x%2Fy")
  }

  @Test func keyLayoutEscapesTheFileMarker() throws {
    let layout = try S3KeyLayout.location("/team/inbox/")
    #expect(layout.prefix == "team/inbox")
    #expect(
      layout.objectKey("ops/a~b%.jsonl", generation: 2, sequence: 7)
        == "team/inbox/ops/a%7Eb%25.jsonl~/000000000002/000000000007")
    let filePrefix = layout.filePrefix("ops/a~b%.jsonl")
    #expect(S3KeyLayout.position(of: filePrefix + "000000000002/000000000007", filePrefix: filePrefix)! == (2, 7))
    #expect(S3KeyLayout.position(of: filePrefix + "2/7", filePrefix: filePrefix) == nil)
    #expect(S3KeyLayout.position(of: filePrefix + "000000000002/00000000000x", filePrefix: filePrefix) == nil)
    let directory = layout.directoryPrefix("ops")
    #expect(S3KeyLayout.entryName(directory + "a%7Eb%25.jsonl~/", directoryPrefix: directory) == "a~b%.jsonl")
    #expect(S3KeyLayout.entryName(directory + "sub/", directoryPrefix: directory) == "sub")
    #expect(S3KeyLayout.entryName(directory + ".lock", directoryPrefix: directory) == ".lock")
  }

  @Test(arguments: ["", "/", "a/../b", "a//b", "./a", "a/\u{0}"])
  func hostileLocationsAreRefused(location: String) {
    #expect(throws: OpsLogError.self) { try S3KeyLayout.location(location) }
  }

  @Test func listingReaderUnescapesAndPages() {
    let document = """
      <?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>true</IsTruncated>\
      <Contents><Key>p/a&amp;b~/000000000001/000000000000</Key><ETag>&quot;abc&quot;</ETag><Size>12</Size></Contents>\
      <Contents><Key>p/c</Key><ETag>"d"</ETag><Size>0</Size></Contents>\
      <CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>\
      <NextContinuationToken>t&#x2F;1</NextContinuationToken></ListBucketResult>
      """
    let listing = S3XML.listing(Array(document.utf8))
    #expect(listing.objects.map(\.key) == ["p/a&b~/000000000001/000000000000", "p/c"])
    #expect(listing.objects.map(\.etag) == ["\"abc\"", "\"d\""])
    #expect(listing.objects.map(\.size) == [12, 0])
    #expect(listing.commonPrefixes == ["p/dir/"])
    #expect(listing.isTruncated)
    #expect(listing.continuationToken == "t/1")
    #expect(S3XML.listing(Array("not xml".utf8)).objects.isEmpty)
  }

  @Test func secretsAppearInNoDescription() {
    let credentials = S3Credentials.fixed(
      accessKeyID: "AKIDVISIBLE", secretAccessKey: "TOP-SECRET-VALUE", sessionToken: "SESSION-SECRET")
    var configuration = S3Configuration(
      endpoint: "http://127.0.0.1:1", region: "us-east-1", bucket: "b", credentials: credentials)
    configuration.maximumRetries = 1
    var dumped = ""
    dump(configuration, to: &dumped)
    for text in [
      "\(credentials)", String(reflecting: credentials), "\(configuration)", String(reflecting: configuration), dumped,
    ] {
      #expect(!text.contains("TOP-SECRET-VALUE"))
      #expect(!text.contains("SESSION-SECRET"))
    }
    #expect("\(credentials)".contains("AKIDVISIBLE"))
  }

  @Test func missingEnvironmentCredentialsNameTheVariable() {
    #expect(throws: OpsLogError.invalidArgument("S3 credentials: AWS_ACCESS_KEY_ID is not set")) {
      _ = try S3Credentials.environment.resolve(environment: [:])
    }
    #expect(throws: OpsLogError.invalidArgument("S3 credentials: AWS_SECRET_ACCESS_KEY is not set")) {
      _ = try S3Credentials.environment.resolve(environment: ["AWS_ACCESS_KEY_ID": "x"])
    }
  }
}
