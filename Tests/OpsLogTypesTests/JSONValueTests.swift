import Testing

@testable import OpsLogTypes

@Suite("JSONValue and JSONObject")
struct JSONValueTests {
  @Test func numbersCompareAndHashNumerically() {
    #expect(JSONValue.int(1) == .double(1.0))
    #expect(JSONValue.int(1).hashValue == JSONValue.double(1.0).hashValue)
    #expect(JSONValue.int(1) != .double(1.5))
    // 2^53 + 1 has no exact double: it must not equal the nearest double.
    #expect(JSONValue.int(9_007_199_254_740_993) != .double(9_007_199_254_740_992))
    #expect(JSONValue.double(0) == .double(-0.0))
    #expect(Set<JSONValue>([.int(2), .double(2), .int(3)]).count == 2)
    #expect(JSONValue.string("1") != .int(1))
  }

  @Test func objectsKeepInsertionOrderAndCompareWithoutIt() {
    var object: JSONObject = ["b": 1, "a": 2]
    object["c"] = 3
    object["b"] = 10  // an update keeps its place
    #expect(object.keys == ["b", "a", "c"])
    #expect(object.map(\.value) == [10, 2, 3])
    let reordered: JSONObject = ["c": 3, "a": 2, "b": 10]
    #expect(object == reordered)
    #expect(object.hashValue == reordered.hashValue)
    #expect(!JSONValue.object(object).isIdentical(to: .object(reordered)), "byte-exact sameness sees order")
    object["a"] = nil
    #expect(object.keys == ["b", "c"])
    #expect(object["a"] == nil)
  }

  @Test func largeObjectsKeepTheirIndexExact() {
    var object = JSONObject()
    for index in 0..<100 { object["k\(index)"] = .int(Int64(index)) }
    #expect(object.count == 100)
    #expect(object["k57"] == 57)
    object["k10"] = nil
    #expect(object["k11"] == 11, "positions after a removal are still found")
    #expect(object["k10"] == nil)
    #expect(object.keys.first == "k0" && object.keys.last == "k99")
    object["k10"] = 1000
    #expect(object.keys.last == "k10", "a re-added key goes to the end")
  }

  @Test func literalsAndAccessors() {
    let value: JSONValue = ["name": "x", "n": 3, "pi": 3.5, "ok": true, "none": nil, "list": [1, "two"]]
    #expect(value["name"]?.stringValue == "x")
    #expect(value["n"]?.intValue == 3)
    #expect(value["pi"]?.doubleValue == 3.5)
    #expect(value["pi"]?.intValue == nil)
    #expect(value["ok"]?.boolValue == true)
    #expect(value["none"]?.isNull == true)
    #expect(value["list"]?[1] == "two")
    #expect(value["missing"] == nil)
    #expect(value.objectValue?.keys == ["name", "n", "pi", "ok", "none", "list"])
  }

  @Test func errorsDescribeWhatToDo() {
    #expect(OpsLogError.locked(holder: "process 42").description.contains("process 42"))
    #expect(OpsLogError.notFound(id: "t1").description.contains("\"t1\""))
    let io = OpsLogError.io(path: "/data/ops/ops-1.jsonl", errno: 28, reason: "write failed")
    #expect(io.description.contains("/data/ops/ops-1.jsonl") && io.description.contains("ENOSPC"))
    #expect(OpsLogError.corrupted(path: "manifest.json", reason: "x").description.contains("manifest.json"))
  }
}
