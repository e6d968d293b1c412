import Foundation
import Testing

@Suite struct MatchCommandTests {
    var identify: String { get throws { try Repository.samplePath("identify.json") } }

    @Test(arguments: [
        (#"type = "identify""#, "true"),
        (#"type = "track""#, "false"),
        (#"type = "identify" and traits.plan = "premium""#, "true"),
        (#"traits.logins > 4 and contains(traits.email, "@example")"#, "true"),
        (#"traits.missing != null"#, "false"),
        (#"match(userId, "9798*")"#, "true"),
    ])
    func printsTrueOrFalse(subscription: String, expected: String) throws {
        let result = try Executable.run(["match", "--subscription", subscription, "--event", try identify])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected + "\n")
    }

    @Test func readsTheEventFromStandardInput() throws {
        let result = try Executable.run(["match", "--subscription", #"event = "Order Completed""#, "--event", "-"],
            stdin: #"{"type": "track", "event": "Order Completed"}"#)
        #expect(result.stdout == "true\n")
    }

    @Test func unparsableSubscriptionExitsOneWithThePosition() throws {
        let result = try Executable.run(["match", "--subscription", #"type = "identify" and"#, "--event", try identify])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("position"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
