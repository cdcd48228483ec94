import OpsLogTypes
import Testing

@testable import OpsLogCodec

@Test(arguments: Fixture.cases)
func fixtureManifestDecodesAndReencodesByteForByte(_ fixture: String) throws {
  let bytes = try Fixture.bytes(fixture, "store/manifest.json")
  let manifest = try ManifestCodec.decode(bytes)
  #expect(ManifestCodec.encode(manifest) == bytes)
  #expect(manifest.version >= 1)
  #expect(manifest.currentSnapshot.hasPrefix("snapshots/"))
  #expect(manifest.activeOps.hasPrefix("ops/"))
  #expect((manifest.activeAgentOps != nil) == (fixture == "multi-writer"))
}

@Test func multiWriterManifestKeepsAgentsInOrder() throws {
  let manifest = try ManifestCodec.decode(Fixture.bytes("multi-writer", "store/manifest.json"))
  #expect(manifest.activeAgentOps?.map(\.agent) == ["agent-A", "agent-B"])
  #expect(manifest.agentWAL("agent-B") == "ops/agent-agent-B-1795353326768.jsonl")
}

/// A change to a valid manifest that breaks one rule, and the field the reason must name.
struct BrokenManifest: Sendable, CustomTestStringConvertible {
  let name: String
  let field: String
  let change: @Sendable (inout JSONValue) -> Void
  var testDescription: String { name }
}

let brokenManifests: [BrokenManifest] = [
  BrokenManifest(name: "version missing", field: "version") { $0["version"] = nil },
  BrokenManifest(name: "version a string", field: "version") { $0["version"] = "1" },
  BrokenManifest(name: "version 0", field: "version") { $0["version"] = 0 },
  BrokenManifest(name: "version fractional", field: "version") { $0["version"] = 1.5 },
  BrokenManifest(name: "currentSnapshot missing", field: "currentSnapshot") { $0["currentSnapshot"] = nil },
  BrokenManifest(name: "currentSnapshot a number", field: "currentSnapshot") { $0["currentSnapshot"] = 5 },
  BrokenManifest(name: "currentSnapshot empty", field: "currentSnapshot") { $0["currentSnapshot"] = "" },
  BrokenManifest(name: "activeOps missing", field: "activeOps") { $0["activeOps"] = nil },
  BrokenManifest(name: "activeOps empty", field: "activeOps") { $0["activeOps"] = "" },
  BrokenManifest(name: "activeOps null", field: "activeOps") { $0["activeOps"] = .null },
  BrokenManifest(name: "archiveSegments missing", field: "archiveSegments") { $0["archiveSegments"] = nil },
  BrokenManifest(name: "archiveSegments a string", field: "archiveSegments") { $0["archiveSegments"] = "a" },
  BrokenManifest(name: "archiveSegments empty path", field: "archiveSegments") { $0["archiveSegments"] = [""] },
  BrokenManifest(name: "archiveSegments a number", field: "archiveSegments") { $0["archiveSegments"] = ["a", 3] },
  BrokenManifest(name: "stats missing", field: "stats") { $0["stats"] = nil },
  BrokenManifest(name: "stats an array", field: "stats") { $0["stats"] = [] },
  BrokenManifest(name: "activeRecords missing", field: "activeRecords") { $0["stats"]?["activeRecords"] = nil },
  BrokenManifest(name: "activeRecords negative", field: "activeRecords") { $0["stats"]?["activeRecords"] = -1 },
  BrokenManifest(name: "activeRecords a string", field: "activeRecords") { $0["stats"]?["activeRecords"] = "1" },
  BrokenManifest(name: "archivedRecords negative", field: "archivedRecords") {
    $0["stats"]?["archivedRecords"] = -3
  },
  BrokenManifest(name: "opsCount negative", field: "opsCount") { $0["stats"]?["opsCount"] = -1 },
  BrokenManifest(name: "opsCount missing", field: "opsCount") { $0["stats"]?["opsCount"] = nil },
  BrokenManifest(name: "created missing", field: "created") { $0["stats"]?["created"] = nil },
  BrokenManifest(name: "created empty", field: "created") { $0["stats"]?["created"] = "" },
  BrokenManifest(name: "lastCheckpoint a number", field: "lastCheckpoint") { $0["stats"]?["lastCheckpoint"] = 1 },
  BrokenManifest(name: "activeAgentOps a string", field: "activeAgentOps") { $0["activeAgentOps"] = "x" },
  BrokenManifest(name: "activeAgentOps null", field: "activeAgentOps") { $0["activeAgentOps"] = .null },
  BrokenManifest(name: "activeAgentOps empty path", field: "activeAgentOps") { $0["activeAgentOps"] = ["A": ""] },
  BrokenManifest(name: "activeAgentOps path a number", field: "activeAgentOps") {
    $0["activeAgentOps"] = ["A": 1]
  },
  BrokenManifest(name: "activeAgentOps empty agent", field: "activeAgentOps") {
    $0["activeAgentOps"] = ["": "ops/agent--1.jsonl"]
  },
  // Hostile paths: a manifest must never point the store outside its directory.
  BrokenManifest(name: "currentSnapshot escaping with ..", field: "currentSnapshot") {
    $0["currentSnapshot"] = "../../etc/passwd"
  },
  BrokenManifest(name: "currentSnapshot absolute", field: "currentSnapshot") { $0["currentSnapshot"] = "/etc/passwd" },
  BrokenManifest(name: "activeOps with a . component", field: "activeOps") { $0["activeOps"] = "ops/./x.jsonl" },
  BrokenManifest(name: "activeOps with an empty component", field: "activeOps") { $0["activeOps"] = "ops//x.jsonl" },
  BrokenManifest(name: "archiveSegments escaping", field: "archiveSegments") {
    $0["archiveSegments"] = ["archive/../../secret.json"]
  },
  BrokenManifest(name: "activeAgentOps path escaping", field: "activeAgentOps") {
    $0["activeAgentOps"] = ["A": "../ops/agent-A-1.jsonl"]
  },
  // A combining mark after a `/` makes one character of both, which hid the `/` from a check
  // by characters; the rule compares bytes, as the backends do.
  BrokenManifest(name: "currentSnapshot absolute behind a combining mark", field: "currentSnapshot") {
    $0["currentSnapshot"] = "/\u{301}etc/passwd"
  },
  BrokenManifest(name: "activeOps with a . component behind a combining mark", field: "activeOps") {
    $0["activeOps"] = "ops/./\u{301}x.jsonl"
  },
]

@Test(arguments: brokenManifests)
func brokenManifestIsCorruptedNamingTheField(_ broken: BrokenManifest) throws {
  var manifest = try JSONValue(parsing: Fixture.bytes("multi-writer", "store/manifest.json"))
  broken.change(&manifest)
  let bytes = PrettyJSON.serialize(manifest)
  #expect {
    try ManifestCodec.decode(bytes)
  } throws: { error in
    guard case OpsLogError.corrupted(let path, let reason) = error else { return false }
    return path == "manifest.json" && reason.contains(broken.field)
  }
}

@Test func manifestThatIsNotJSONIsCorrupted() {
  for text in ["", "{", "not json", "[]", "\"manifest\"", #"{"version":1,}"#] {
    #expect {
      try ManifestCodec.decode(Array(text.utf8))
    } throws: { error in
      if case OpsLogError.corrupted(let path, _) = error { return path == "manifest.json" }
      return false
    }
  }
}

@Test func manifestRoundTripsThroughItsModel() throws {
  let manifest = ManifestInfo(
    version: 3, currentSnapshot: "snapshots/snap-1.jsonl.gz", activeOps: "ops/ops-2.jsonl",
    archiveSegments: ["archive/archive-2025-Q4.json"],
    stats: ManifestStats(
      activeRecords: 4, archivedRecords: 1, opsCount: 7, created: "2026-01-01T00:00:00.000Z",
      lastCheckpoint: "2026-01-02T00:00:00.000Z"),
    activeAgentOps: [("b", "ops/agent-b-1.jsonl"), ("a", "ops/agent-a-1.jsonl")])
  let decoded = try ManifestCodec.decode(ManifestCodec.encode(manifest))
  #expect(decoded == manifest)
  #expect(decoded.activeAgentOps?.map(\.agent) == ["b", "a"])
  let single = ManifestInfo(
    version: 1, currentSnapshot: "s", activeOps: "o", archiveSegments: [],
    stats: ManifestStats(activeRecords: 0, archivedRecords: 0, opsCount: 0, created: "c", lastCheckpoint: "l"))
  #expect(
    String(decoding: ManifestCodec.encode(single), as: UTF8.self) == """
      {
        "version": 1,
        "currentSnapshot": "s",
        "activeOps": "o",
        "archiveSegments": [],
        "stats": {
          "activeRecords": 0,
          "archivedRecords": 0,
          "opsCount": 0,
          "created": "c",
          "lastCheckpoint": "l"
        }
      }
      """)
}

@Test func archivedFixtureSegmentsDecodeAndReencodeByteForByte() throws {
  let manifest = try ManifestCodec.decode(Fixture.bytes("archived", "store/manifest.json"))
  #expect(manifest.archiveSegments.count == 2)
  for path in manifest.archiveSegments {
    let bytes = try Fixture.bytes("archived", "store/" + path)
    let segment = try ArchiveCodec.decode(bytes, path: path)
    #expect(ArchiveCodec.encode(segment) == bytes)
    #expect(try "archive/" + ArchiveCodec.fileName(period: segment.period) == path)
    #expect(!segment.records.isEmpty)
  }
}

@Test func brokenArchiveSegmentIsCorruptedNamingTheField() throws {
  let valid = try JSONValue(parsing: Fixture.bytes("archived", "store/archive/archive-2024.json"))
  let changes: [(String, (inout JSONValue) -> Void)] = [
    ("version", { $0["version"] = nil }), ("version", { $0["version"] = 0 }), ("period", { $0["period"] = "" }),
    ("period", { $0["period"] = 2024 }), ("timestamp", { $0["timestamp"] = nil }),
    ("records", { $0["records"] = nil }), ("records", { $0["records"] = [1] }),
  ]
  for (field, change) in changes {
    var segment = valid
    change(&segment)
    #expect {
      try ArchiveCodec.decode(segment.serialized(), path: "archive/x.json")
    } throws: { error in
      guard case OpsLogError.corrupted(let path, let reason) = error else { return false }
      return path == "archive/x.json" && reason.contains(field)
    }
  }
  #expect(throws: OpsLogError.self) { try ArchiveCodec.decode(Array("{".utf8), path: "a") }
}

@Test func archiveFileNamesAreSafe() throws {
  #expect(try ArchiveCodec.fileName(period: "2025-Q4") == "archive-2025-Q4.json")
  #expect(try ArchiveCodec.fileName(period: "v1.2_x") == "archive-v1.2_x.json")
  for period in ["", ".", "..", "../etc", "a/b", "a\\b", "Q 4", "2025\u{0}", "é"] {
    #expect(throws: OpsLogError.self, "\(period)") { try ArchiveCodec.fileName(period: period) }
    #expect(!PathRules.isSafeFileNameComponent(period), "\(period)")
  }
  #expect(PathRules.isSafeFileNameComponent("agent-A_1.x"))
  #expect(PathRules.isSafeFileNameComponent("..."))
}

@Test func prettyJSONMatchesJavaScript() throws {
  let value = try JSONValue(parsing: #"{"a":[],"b":{},"c":[1,{"d":null,"e":"x\ny"}],"f":1e21,"g":-0.5}"#)
  let expected = """
    {
      "a": [],
      "b": {},
      "c": [
        1,
        {
          "d": null,
          "e": "x\\ny"
        }
      ],
      "f": 1e+21,
      "g": -0.5
    }
    """
  #expect(String(decoding: PrettyJSON.serialize(value), as: UTF8.self) == expected)
  #expect(
    String(decoding: PrettyJSON.serialize([1, [2]], indent: 4), as: UTF8.self)
      == "[\n    1,\n    [\n        2\n    ]\n]")
  #expect(PrettyJSON.serialize("s") == Array(#""s""#.utf8))
  // The legacy snapshot fixture was written by JSON.stringify(…, null, 2).
  let legacy = try Fixture.bytes("legacy-json-snapshot", "store/snapshots/snap-1775037600000.json")
  #expect(PrettyJSON.serialize(try JSONValue(parsing: legacy)) == legacy)
}

@Test func isoTimeMatchesJavaScriptToISOString() {
  #expect(ISOTime.string(millisecondsSince1970: 0) == "1970-01-01T00:00:00.000Z")
  #expect(ISOTime.string(millisecondsSince1970: 1_795_353_326_735) == "2026-11-22T13:15:26.735Z")
  #expect(ISOTime.string(millisecondsSince1970: 1_775_037_600_001) == "2026-04-01T10:00:00.001Z")
  #expect(ISOTime.string(millisecondsSince1970: -1) == "1969-12-31T23:59:59.999Z")
  #expect(ISOTime.string(millisecondsSince1970: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
  #expect(ISOTime.string(millisecondsSince1970: 8_640_000_000_000_000) == "+275760-09-13T00:00:00.000Z")
  #expect(ISOTime.string(millisecondsSince1970: -62_198_755_200_000) == "-000001-01-01T00:00:00.000Z")
  _ = ISOTime.string(millisecondsSince1970: .max)
  _ = ISOTime.string(millisecondsSince1970: .min)
  #expect(ISOTime.quarter(millisecondsSince1970: 1_795_353_326_735) == "2026-Q4")
  #expect(ISOTime.quarter(millisecondsSince1970: 1_775_037_600_001) == "2026-Q2")
  #expect(ISOTime.quarter(millisecondsSince1970: 0) == "1970-Q1")
}

@Test func isoTimeNowIsWellFormed() {
  let before = ISOTime.nowMilliseconds()
  let now = ISOTime.now()
  let after = ISOTime.nowMilliseconds()
  #expect(before > 1_700_000_000_000)
  #expect(now.utf8.count == 24)
  #expect(now.hasSuffix("Z"))
  #expect(now >= ISOTime.string(millisecondsSince1970: before) && now <= ISOTime.string(millisecondsSince1970: after))
  let quarter = ISOTime.currentQuarter()
  #expect(quarter.hasPrefix(String(now.prefix(4)) + "-Q"))
}
