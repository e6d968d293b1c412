import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HTTPServer
import JSONKit
import Testing

@testable import AdobeTarget
@testable import AdobeTargetSimulator

/// The HTTP tests need the real server; the skeleton's placeholder router answers 404 to every
/// route, which tells the two apart without starting anything.
enum ServerAvailability {
    static let isReal: Bool = {
        var router = Router()
        router.add(.GET, "/probe") { _, writer in writer.send(.text(.ok, "yes")) }
        let box = AnswerBox()
        router.respond(to: HTTPRequest(method: .GET, target: "/probe"), writer: box.writer)
        return box.answer?.status.code == 200
    }()
}

/// A started simulator and a client pointed at it; stops the simulator when done.
private func withSimulator(
    bearerToken: String? = nil, clientToken: String? = nil, timeout: Double = 5,
    _ body: (AdobeTargetSimulator, AdobeTargetClient, BearerTokenProvider) async throws -> Void
) async throws {
    var configuration = AdobeTargetSimulator.Configuration()
    configuration.clientCode = "acme"
    configuration.bearerToken = bearerToken
    let simulator = AdobeTargetSimulator(configuration: configuration)
    try simulator.start()
    defer { simulator.shutdown() }
    var clientConfiguration = AdobeTargetClient.Configuration(clientCode: "acme", baseURL: simulator.baseURL)
    clientConfiguration.requestTimeoutSeconds = timeout
    let tokens = BearerTokenProvider(token: clientToken)
    let client = try AdobeTargetClient(configuration: clientConfiguration, tokenProvider: tokens)
    defer { client.shutdown() }
    try await body(simulator, client, tokens)
}

private func traits(_ json: String) throws -> JSONObject {
    try #require(try JSONValue(parsing: json).objectValue)
}

@Suite("Client against the simulator over HTTP", .serialized, .enabled(if: ServerAvailability.isReal))
struct ClientOverHTTPTests {
    @Test func deliversWithLookupThenUpdateAndExactURL() async throws {
        try await withSimulator { simulator, client, _ in
            simulator.createProfile(thirdPartyID: "123-test")
            let result = await client.deliver(userID: "123-test", traits: try traits(#"{"city":"New York City","name":"Rajul"}"#))
            #expect(result.outcome == .delivered)
            #expect(result.adobeCalls == 2 && result.updatesDelivered == 1 && !result.lookupCached)
            #expect(
                simulator.receivedUpdates
                    == [.init(target: "/m2/acme/profile/update?mbox3rdPartyId=123-test&profile.city=New%20York%20City&profile.name=Rajul", status: 200)])
            #expect(simulator.profileAttributes(thirdPartyID: "123-test") == JSONObject([("city", "New York City"), ("name", "Rajul")]))
        }
    }

    @Test func reservedAndNonASCIICharactersSurviveTheWire() async throws {
        try await withSimulator { simulator, client, _ in
            let userID = "ü/'(x)!*~ +&"
            simulator.createProfile(thirdPartyID: userID)
            let payload = try traits(#"{"q":"a&b=c#d?e/f%g+h 'x'(1)!*~","名前":"東京 😀","n":{"v":[1.5,true]}}"#)
            let result = await client.deliver(userID: userID, traits: payload)
            #expect(result.outcome == .delivered)
            let attributes = ProfileAttributes(flattening: payload)
            let stored = try #require(simulator.profileAttributes(thirdPartyID: userID))
            #expect(stored.map(\.key) == attributes.map(\.name))
            #expect(stored.map(\.value) == attributes.map { .string($0.value) })
            let expected = try client.endpoint.profileUpdateURLs(userID: userID, attributes: attributes)
            #expect(simulator.receivedUpdates.map { simulator.baseURL + $0.target } == expected)
        }
    }

    @Test func lookupCacheSkipsRepeatLookups() async throws {
        try await withSimulator { simulator, client, _ in
            simulator.createProfile(thirdPartyID: "u")
            let first = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
            let second = await client.deliver(userID: "u", traits: try traits(#"{"a":2}"#))
            #expect(first.adobeCalls == 2 && second.adobeCalls == 1 && second.lookupCached)
            #expect(simulator.statistics.lookups == 1 && simulator.statistics.updates == 2)
            #expect(simulator.profileAttributes(thirdPartyID: "u")?["a"] == "2")
        }
    }

    @Test func missingProfileIsNotFoundAndNotCached() async throws {
        try await withSimulator { simulator, client, _ in
            let result = await client.deliver(userID: "nobody", traits: try traits(#"{"a":1}"#))
            guard case .profileNotFound(let answer) = result.outcome else {
                Issue.record("expected profileNotFound, got \(result.outcome)")
                return
            }
            #expect(answer.status == 404 && answer.purpose == .profileLookup)
            #expect(result.adobeCalls == 1 && simulator.statistics.updates == 0)
            simulator.createProfile(thirdPartyID: "nobody")
            let retry = await client.deliver(userID: "nobody", traits: try traits(#"{"a":1}"#))
            #expect(retry.outcome == .delivered && retry.adobeCalls == 2)
        }
    }

    @Test func profileThatAppearsLaterIsDeliveredOnRetry() async throws {
        try await withSimulator { simulator, client, _ in
            simulator.setProfileCreation(.afterFirstLookup(seconds: 0.3))
            let early = await client.deliver(userID: "late", traits: try traits(#"{"a":1}"#))
            #expect(early.outcome.isProfileNotFound)
            try await Task.sleep(for: .milliseconds(350))
            #expect(await client.deliver(userID: "late", traits: try traits(#"{"a":1}"#)).outcome == .delivered)
        }
    }

    @Test func bearerTokenIsSentAndReplaceable() async throws {
        try await withSimulator(bearerToken: "good", clientToken: "stale-token-7f3a") { simulator, client, tokens in
            simulator.createProfile(thirdPartyID: "u")
            let refused = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
            guard case .unauthorized(let answer) = refused.outcome else {
                Issue.record("expected unauthorized, got \(refused.outcome)")
                return
            }
            #expect(answer.status == 401)
            #expect(!"\(refused)".contains("stale-token-7f3a"))
            tokens.replace(with: "good")
            #expect(await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#)).outcome == .delivered)
            // The token is checked on the update too (lookup now cached).
            simulator.setBearerToken("rotated")
            let update = await client.deliver(userID: "u", traits: try traits(#"{"a":2}"#))
            guard case .unauthorized(let updateAnswer) = update.outcome else {
                Issue.record("expected unauthorized, got \(update.outcome)")
                return
            }
            #expect(updateAnswer.purpose == .profileUpdate && update.adobeCalls == 1)
        }
    }

    @Test func serverErrorsAreRetryableWithRetryAfterSeconds() async throws {
        try await withSimulator { simulator, client, _ in
            simulator.createProfile(thirdPartyID: "u")
            simulator.addFault(.init(.status(503, retryAfter: "17"), endpoint: .lookup, count: 1))
            let result = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
            guard case .retryable(let failure) = result.outcome else {
                Issue.record("expected retryable, got \(result.outcome)")
                return
            }
            #expect(failure.answer?.status == 503 && failure.retryAfterSeconds == 17)
            #expect(await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#)).outcome == .delivered)
        }
    }

    @Test func rateLimitWithHTTPDateRetryAfterOnTheUpdate() async throws {
        var configuration = AdobeTargetSimulator.Configuration()
        configuration.clientCode = "acme"
        let simulator = AdobeTargetSimulator(configuration: configuration)
        try simulator.start()
        defer { simulator.shutdown() }
        // The client's wall clock is pinned to 1994-11-06T08:49:37Z.
        let client = try AdobeTargetClient(
            configuration: .init(clientCode: "acme", baseURL: simulator.baseURL), wallClockNow: { 784_111_777 })
        simulator.createProfile(thirdPartyID: "u")
        simulator.addFault(.init(.status(429, retryAfter: "Sun, 06 Nov 1994 08:50:22 GMT"), endpoint: .update, count: 1))
        let result = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
        guard case .retryable(let failure) = result.outcome else {
            Issue.record("expected retryable, got \(result.outcome)")
            return
        }
        #expect(failure.purpose == .profileUpdate && failure.answer?.status == 429 && failure.retryAfterSeconds == 45)
        #expect(result.adobeCalls == 2 && result.updatesDelivered == 0)
    }

    @Test func otherClientErrorsAreRejectedWithAdobesAnswer() async throws {
        try await withSimulator { simulator, client, _ in
            simulator.createProfile(thirdPartyID: "u")
            simulator.addFault(.init(.status(400, body: #"{"message":"invalid attribute"}"#), endpoint: .update, count: 1))
            let result = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
            #expect(result.outcome == .rejected(AdobeAnswer(purpose: .profileUpdate, status: 400, body: #"{"message":"invalid attribute"}"#)))
        }
    }

    @Test func hangEndsAsARetryableTimeout() async throws {
        try await withSimulator(timeout: 1) { simulator, client, _ in
            simulator.createProfile(thirdPartyID: "u")
            simulator.addFault(.init(.hang, endpoint: .lookup, count: 1))
            let start = ContinuousClock.now
            let result = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
            let elapsed = ContinuousClock.now - start
            guard case .retryable(let failure) = result.outcome else {
                Issue.record("expected retryable, got \(result.outcome)")
                return
            }
            #expect(failure.answer == nil && failure.reason.contains("within"))
            // Only the deadline can end a hung request (the reason says so); no upper bound on
            // the time, which a loaded test machine could exceed.
            #expect(elapsed >= .milliseconds(900))
            simulator.releaseHungRequests()
            #expect(await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#)).outcome == .delivered)
        }
    }

    @Test func largeUpdatesAreSplitAndAllArrive() async throws {
        try await withSimulator { simulator, client, _ in
            simulator.createProfile(thirdPartyID: "u")
            var payload = JSONObject()
            for index in 0..<400 { payload["field\(index)"] = .string("value with spaces \(index) " + String(repeating: "é", count: 20)) }
            let result = await client.deliver(userID: "u", traits: payload)
            #expect(result.outcome == .delivered)
            #expect(result.updatesDelivered > 1 && result.adobeCalls == 1 + result.updatesDelivered)
            #expect(simulator.receivedUpdates.allSatisfy { $0.status == 200 })
            let stored = try #require(simulator.profileAttributes(thirdPartyID: "u"))
            #expect(stored.map(\.key) == payload.map(\.key))
            #expect(stored == payload)
        }
    }

    @Test func concurrentDeliveriesAllArrive() async throws {
        try await withSimulator { simulator, client, _ in
            for index in 0..<40 { simulator.createProfile(thirdPartyID: "user\(index)") }
            let calls = await withTaskGroup(of: DeliveryResult.self) { group in
                for index in 0..<40 {
                    group.addTask { await client.deliver(userID: "user\(index)", traits: JSONObject([("n", .number(Double(index)))])) }
                }
                var total = 0
                for await result in group {
                    #expect(result.outcome == .delivered)
                    total += result.adobeCalls
                }
                return total
            }
            #expect(calls == 80 && simulator.statistics.updates == 40)
            #expect(simulator.profileAttributes(thirdPartyID: "user7")?["n"] == "7")
        }
    }

    @Test func controlEndpointsWorkOverHTTP() async throws {
        try await withSimulator { simulator, client, _ in
            let session = URLSession(configuration: .ephemeral)
            var put = URLRequest(url: URL(string: simulator.baseURL + "/_sim/profiles/remote")!)
            put.httpMethod = "PUT"
            put.httpBody = Data(#"{"plan":"gold"}"#.utf8)
            let (_, putResponse) = try await session.data(for: put)
            #expect((putResponse as? HTTPURLResponse)?.statusCode == 200)
            #expect(await client.deliver(userID: "remote", traits: JSONObject([("tier", 2)])).outcome == .delivered)
            let (statsData, _) = try await session.data(from: URL(string: simulator.baseURL + "/_sim/stats")!)
            let stats = try JSONValue(parsing: Array(statsData))
            #expect(stats["lookups"] == 1 && stats["updates"] == 1)
            let (profileData, _) = try await session.data(from: URL(string: simulator.baseURL + "/_sim/profiles/remote")!)
            #expect(try JSONValue(parsing: Array(profileData))["attributes"] == .object(JSONObject([("plan", "gold"), ("tier", "2")])))
        }
    }
}

@Suite("Client without a server")
struct ClientWithoutServerTests {
    @Test func connectionRefusedIsRetryable() async throws {
        var configuration = AdobeTargetClient.Configuration(clientCode: "acme", baseURL: "http://127.0.0.1:1")
        configuration.requestTimeoutSeconds = 2
        let client = try AdobeTargetClient(configuration: configuration)
        let result = await client.deliver(userID: "u", traits: try traits(#"{"a":1}"#))
        guard case .retryable(let failure) = result.outcome else {
            Issue.record("expected retryable, got \(result.outcome)")
            return
        }
        #expect(failure.answer == nil && result.adobeCalls == 1)
    }
}

extension DeliveryOutcome {
    var isProfileNotFound: Bool {
        if case .profileNotFound = self { return true }
        return false
    }
}
