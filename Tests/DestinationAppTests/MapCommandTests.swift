import Foundation
import Testing

@Suite struct MapCommandTests {
    @Test func resolvesTheDefaultUpdateProfileMappingPretty() throws {
        let directory = try TemporaryDirectory()
        let mapping = try directory.write("m.json", #"{"user_id": {"@path": "$.userId"}, "traits": {"name": {"@path": "$.traits.name"}, "n": 1.5}}"#)
        let event = try directory.write("e.json", #"{"type": "identify", "userId": "u1", "traits": {"name": "Ann"}}"#)
        let result = try Executable.run(["map", "--mapping", mapping, "--event", event])
        #expect(result.status == 0)
        #expect(result.stdout == "{\n  \"user_id\": \"u1\",\n  \"traits\": {\n    \"name\": \"Ann\",\n    \"n\": 1.5\n  }\n}\n")
    }

    @Test func compactKeepsKeyOrder() throws {
        let directory = try TemporaryDirectory()
        let mapping = try directory.write("m.json", #"{"z": {"@path": "$.b"}, "a": {"@path": "$.a"}, "m": "raw"}"#)
        let result = try Executable.run(["map", "--mapping", mapping, "--event", "-", "--compact"], stdin: #"{"a": 1, "b": [true, null]}"#)
        #expect(result.status == 0)
        #expect(result.stdout == #"{"z":[true,null],"a":1,"m":"raw"}"# + "\n")
    }

    @Test func nothingResolvedPrintsNothing() throws {
        let directory = try TemporaryDirectory()
        let mapping = try directory.write("m.json", #"{"@path": "$.missing"}"#)
        let result = try Executable.run(["map", "--mapping", mapping, "--event", "-"], stdin: "{}")
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
    }

    @Test func invalidMappingIsOneLineOnStandardError() throws {
        let directory = try TemporaryDirectory()
        let mapping = try directory.write("m.json", #"{"a": {"@path": "$.x", "@template": "y"}, "b": {"@nope": 1}}"#)
        let result = try Executable.run(["map", "--mapping", mapping, "--event", "-"], stdin: "{}")
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.contains("$.a"))
        #expect(result.stderr.contains("$.b"))
    }

    @Test func invalidEventJSONNamesTheProblem() throws {
        let directory = try TemporaryDirectory()
        let mapping = try directory.write("m.json", #"{"@path": "$.a"}"#)
        let result = try Executable.run(["map", "--mapping", mapping, "--event", "-"], stdin: #"{"a": "#)
        #expect(result.status == 1)
        #expect(result.stderr.contains("event"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func sampleIdentifyThroughTheShippedMapping() throws {
        let directory = try TemporaryDirectory()
        let mapping = try directory.write("m.json", #"{"user_id": {"@if": {"exists": {"@path": "$.userId"}, "then": {"@path": "$.userId"}, "else": {"@path": "$.anonymousId"}}}, "traits": {"@path": "$.traits"}}"#)
        let anonymous = try Repository.samplePath("identify-anonymous.json")
        let result = try Executable.run(["map", "--mapping", mapping, "--event", anonymous, "--compact"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix(#"{"user_id":""#))
        #expect(!result.stdout.contains(#""user_id":null"#))
    }
}
