import AdobeTargetSimulator
import Foundation
import Testing

/// §7 and §8 through the real process: accepted identifies reach Adobe Target (the
/// simulator), also across `kill -9`, and a repeated messageId is not delivered twice.
@Suite("serve delivers to Adobe Target", .tags(.needsDelivery))
struct DeliveryEndToEndTests {
    static let adminToken = AdminAPIEndToEndTests.adminToken

    static func simulator(token: String) throws -> AdobeTargetSimulator {
        var configuration = AdobeTargetSimulator.Configuration()
        configuration.clientCode = "acme"
        configuration.bearerToken = token
        configuration.profileCreation = .afterFirstLookup(seconds: 0)
        let simulator = AdobeTargetSimulator(configuration: configuration, logger: .quiet)
        try simulator.start()
        return simulator
    }

    static func environment(_ simulator: AdobeTargetSimulator, token: String) -> [String: String] {
        ["ADOBE_TARGET_CLIENT_CODE": "acme", "ADOBE_TARGET_BASE_URL": simulator.baseURL, "ADOBE_TARGET_BEARER_TOKEN": token,
         "ADMIN_TOKEN": adminToken]
    }

    static func updates(_ simulator: AdobeTargetSimulator, user: String) -> [AdobeTargetSimulator.UpdateRecord] {
        simulator.receivedUpdates.filter { $0.status == 200 && $0.target.contains("mbox3rdPartyId=\(user)&") }
    }

    @Test("an identify becomes the profile update of §7, with the bearer token")
    func identifyReachesAdobe() throws {
        let token = SegmentFixtures.randomSecret("bearer")
        let simulator = try Self.simulator(token: token)
        defer { simulator.shutdown() }
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch,
            environment: Self.environment(simulator, token: token))
        defer { serve.terminate() }

        let event = SegmentFixtures.identify(messageId: "deliver-1", userId: "123-test", traits: #"{"city":"New York City","name":"Rajul"}"#)
        #expect(try serve.client.post("/webhook", json: event).status == 200)
        let expected = "/m2/acme/profile/update?mbox3rdPartyId=123-test&profile.city=New%20York%20City&profile.name=Rajul"
        let arrived = waitUntil(timeout: 10) { simulator.receivedUpdates.contains { $0.target == expected && $0.status == 200 } }
        #expect(arrived, "updates seen: \(simulator.receivedUpdates.map(\.target)); simulator \(simulator.statistics.jsonValue)")
        #expect(simulator.statistics.unauthorized == 0, "a request went without the bearer token")
        let stats = try serve.client.get("/admin/stats", headers: [AdminAPIEndToEndTests.authorization])
        #expect((stats.json["deliveredTotal"]?.numberValue ?? 0) >= 1, "\(stats)")
    }

    @Test("a burst of identifies for one profile within coalesceSeconds reaches Adobe as one update, last values winning")
    func burstIsCoalesced() throws {
        let token = SegmentFixtures.randomSecret("bearer")
        let simulator = try Self.simulator(token: token)
        defer { simulator.shutdown() }
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(extraSections: #""delivery": { "coalesceSeconds": 3 }"#),
            dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch,
            environment: Self.environment(simulator, token: token))
        defer { serve.terminate() }

        for round in 1...3 {
            let event = SegmentFixtures.identify(
                messageId: "burst-\(round)", userId: "burst-user", traits: #"{"round":\#(round),"tier":"t\#(round)"}"#)
            #expect(try serve.client.post("/webhook", json: event).status == 200)
        }
        let arrived = waitUntil(timeout: 15) { !Self.updates(simulator, user: "burst-user").isEmpty }
        #expect(arrived)
        // A moment for any second update to show up, were the burst not coalesced.
        Thread.sleep(forTimeInterval: 0.5)
        let updates = Self.updates(simulator, user: "burst-user").map(\.target)
        #expect(updates == ["/m2/acme/profile/update?mbox3rdPartyId=burst-user&profile.round=3&profile.tier=t3"])
    }

    @Test("events acknowledged just before kill -9 are delivered after the restart; a repeated messageId is not")
    func deliveryResumesAfterKill9() throws {
        let token = SegmentFixtures.randomSecret("bearer")
        let simulator = try Self.simulator(token: token)
        defer { simulator.shutdown() }
        // Adobe is slow, so most jobs are still queued when the process dies.
        simulator.addFault(AdobeTargetSimulator.Fault(.latencyOnly, latencySeconds: 0.2))
        let scratch = try TemporaryDirectory()
        let dataDirectory = scratch.url.appendingPathComponent("data").path
        let environment = Self.environment(simulator, token: token)
        let users = (0..<30).map { "crash-user-\($0)" }

        let first = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: dataDirectory, scratch: scratch, environment: environment)
        let batch = "[" + users.enumerated().map { SegmentFixtures.identify(messageId: "kd-\($0.offset)", userId: $0.element) }
            .joined(separator: ",") + "]"
        let answer = try first.client.post("/webhook", json: batch)
        #expect(answer.status == 200 && answer.json["accepted"]?.numberValue == 30, "\(answer)")
        first.kill()
        simulator.clearFaults()

        let second = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: dataDirectory, scratch: scratch, environment: environment)
        defer { second.terminate() }
        let allDelivered = waitUntil(timeout: 20) { users.allSatisfy { !Self.updates(simulator, user: $0).isEmpty } }
        let missing = users.filter { Self.updates(simulator, user: $0).isEmpty }
        try #require(allDelivered, "never delivered after the restart: \(missing)")

        let again = try second.client.post("/webhook", json: SegmentFixtures.identify(messageId: "kd-after", userId: "repeat-user"))
        #expect(again.status == 200)
        try #require(waitUntil(timeout: 10) { !Self.updates(simulator, user: "repeat-user").isEmpty }, "a new event was not delivered")
        let repeated = try second.client.post("/webhook", json: SegmentFixtures.identify(messageId: "kd-after", userId: "repeat-user"))
        #expect(repeated.status == 200 && repeated.json["accepted"]?.numberValue == 1, "a repeat must be accepted: \(repeated)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(Self.updates(simulator, user: "repeat-user").count == 1, "the repeated messageId was delivered again")
    }

    @Test("sandbox mode (no client code) delivers to the built-in simulator")
    func sandboxModeDelivers() throws {
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch,
            environment: ["ADMIN_TOKEN": Self.adminToken])
        defer { serve.terminate() }
        #expect(serve.log.contains("SANDBOX"), "the log does not say it runs in sandbox mode:\n\(serve.log)")
        #expect(try serve.client.post("/webhook", json: SegmentFixtures.identify(messageId: "sandbox-1", userId: "sandbox-user")).status == 200)
        let delivered = waitUntil(timeout: 10) {
            let stats = try? serve.client.get("/admin/stats", headers: [AdminAPIEndToEndTests.authorization])
            return (stats?.json["deliveredTotal"]?.numberValue ?? 0) >= 1
        }
        #expect(delivered, "no delivery in sandbox mode; stats: \(String(describing: try? serve.client.get("/admin/stats", headers: [AdminAPIEndToEndTests.authorization])))")
    }
}
