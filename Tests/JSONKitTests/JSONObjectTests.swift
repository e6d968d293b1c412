import Testing
@testable import JSONKit

@Suite struct JSONObjectTests {
    @Test func settingAnExistingKeyKeepsItsPosition() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = "two"
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["b"] == "two")
        #expect(object.updateValue(4, forKey: "d") == nil)
        #expect(object.updateValue(5, forKey: "a") == 1)
        #expect(object.keys == ["a", "b", "c", "d"])
        #expect(object.values == [5, "two", 3, 4])
    }

    @Test func removingThenSettingMovesToTheEnd() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        #expect(object.removeValue(forKey: "a") == 1)
        #expect(object.removeValue(forKey: "missing") == nil)
        object["a"] = 9
        object["c"] = nil
        #expect(object.keys == ["b", "a"])
        #expect(object.count == 2 && !object.isEmpty)
        #expect(object.index(forKey: "a") == 1)
        #expect(object[1].key == "a")
    }

    @Test func pairsInitialiserKeepsFirstPositionAndLastValue() {
        let object = JSONObject([("x", 1), ("y", 2), ("x", 3)])
        #expect(object.keys == ["x", "y"])
        #expect(object["x"] == 3)
    }

    @Test func iteratesInOrder() {
        let object: JSONObject = ["q": 1, "p": 2]
        var seen: [String] = []
        for (key, _) in object { seen.append(key) }
        #expect(seen == ["q", "p"])
        #expect(object.map(\.key) == ["q", "p"])
    }

    /// Large objects switch to a hash index; it must stay in step with every mutation.
    @Test func largeObjectsStayConsistentThroughMutations() {
        var object = JSONObject()
        var reference: [(String, Int)] = []
        var random = SeededRandom(seed: 99)
        for step in 0..<3_000 {
            let key = "key\(random.below(60))"
            if random.below(3) == 0 {
                object.removeValue(forKey: key)
                reference.removeAll { $0.0 == key }
            } else {
                object[key] = .number(Double(step))
                if let position = reference.firstIndex(where: { $0.0 == key }) {
                    reference[position].1 = step
                } else {
                    reference.append((key, step))
                }
            }
            if step % 97 == 0 || step == 2_999 {
                #expect(object.keys == reference.map(\.0))
                for (position, (key, value)) in reference.enumerated() {
                    #expect(object.index(forKey: key) == position)
                    #expect(object[key] == .number(Double(value)))
                }
                #expect(object["absent"] == nil)
            }
        }
    }

    @Test func equalityIsOrderSensitive() {
        let first: JSONObject = ["a": 1, "b": 2]
        let second: JSONObject = ["b": 2, "a": 1]
        #expect(first != second)
        #expect(first == ["a": 1, "b": 2])
        #expect(JSONValue.object(first) != JSONValue.object(second))
    }

    @Test func valueAccessors() throws {
        let value = try JSONValue(parsing: #"{"s":"x","n":2,"b":true,"a":[1],"o":{"k":null}}"#)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["n"]?.numberValue == 2)
        #expect(value["b"]?.boolValue == true)
        #expect(value["a"]?[0] == 1)
        #expect(value["a"]?[1] == nil)
        #expect(value["o"]?["k"]?.isNull == true)
        #expect(value["missing"] == nil)
        #expect(value["s"]?["k"] == nil)
        #expect(value.description == value.jsonString)
    }
}
