import Testing
@testable import JSONKit

/// `JSONObject` shares its members between copies until one of them is mutated (copy on write):
/// copies must never see each other's changes, whichever way they were built (parsed, literal,
/// grown one member at a time), with or without a hash index.
@Suite struct ObjectStorageTests {
    private func parsedObject() throws -> JSONObject {
        try #require(try JSONValue(parsing: #"{"a":1,"b":"two","c":[3],"d":{"e":null}}"#).objectValue)
    }

    @Test func mutatingACopyLeavesTheOriginalAlone() throws {
        let original = try parsedObject()
        var updated = original
        updated["a"] = 10
        var grown = original
        grown["z"] = true
        var shrunk = original
        shrunk["b"] = nil
        #expect(original.keys == ["a", "b", "c", "d"])
        #expect(original["a"] == 1 && original["b"] == "two" && original["z"] == nil)
        #expect(updated.keys == ["a", "b", "c", "d"] && updated["a"] == 10)
        #expect(grown.keys == ["a", "b", "c", "d", "z"] && grown["z"] == true)
        #expect(shrunk.keys == ["a", "c", "d"] && shrunk["b"] == nil)
        #expect(original == (try parsedObject()))
    }

    @Test func copiesOfLargeIndexedObjectsStayIndependent() {
        var original = JSONObject()
        for number in 0..<40 { original["k\(number)"] = .number(Double(number)) }
        var copy = original
        copy["k3"] = nil
        copy["new"] = "x"
        #expect(original.count == 40 && original.index(forKey: "k3") == 3 && original["new"] == nil)
        #expect(original.index(forKey: "k39") == 39)
        #expect(copy.count == 40 && copy["k3"] == nil && copy.index(forKey: "k4") == 3)
        #expect(copy.index(forKey: "new") == 39)
        // Shrinking below the threshold drops the index; lookups must still work.
        for number in 0..<30 { copy["k\(number)"] = nil }
        #expect(copy.keys == (30..<40).map { "k\($0)" } + ["new"])
        #expect(copy.count < JSONObject.indexThreshold)
        #expect(copy["k35"] == 35 && copy.index(forKey: "new") == 10 && copy["k5"] == nil)
        #expect(original["k5"] == 5)
    }

    @Test func emptyObjectsAndEmptiedOnesBehaveAlike() {
        var emptied: JSONObject = ["only": 1]
        emptied["only"] = nil
        let fresh = JSONObject()
        #expect(emptied == fresh && fresh == emptied)
        #expect(emptied.hashValue == fresh.hashValue)
        #expect(emptied.isEmpty && emptied.keys.isEmpty && emptied.index(forKey: "only") == nil)
        #expect(JSONValue.object(emptied).jsonString == "{}")
        #expect(Array(fresh).isEmpty)
    }

    @Test func valuesSurviveTheirObjectAndSharedObjectsTheirCopies() throws {
        var inner: JSONValue?
        do {
            let object = try parsedObject()
            inner = object["d"]
        }
        #expect(inner == ["e": nil])
        var outer: [JSONObject] = []
        do {
            let object = try parsedObject()
            outer = [object, object]
        }
        outer[0]["a"] = "changed"
        #expect(outer[1]["a"] == 1 && outer[0]["a"] == "changed")
    }

    @Test func growingOneMemberAtATimeKeepsOrderAndValues() {
        var object = JSONObject()
        var expected: [String] = []
        for number in 0..<100 {
            object.updateValue(.string(String(repeating: "v", count: number)), forKey: "key number \(number)")
            expected.append("key number \(number)")
        }
        #expect(object.keys == expected)
        #expect(object["key number 99"] == .string(String(repeating: "v", count: 99)))
        #expect(object[50].key == "key number 50")
    }
}
