import Foundation
import HTTPServer
import JSONKit
import Testing

@testable import AdobeTarget
@testable import AdobeTargetSimulator

/// Collects the answer a responder sends, possibly from another thread.
final class AnswerBox: @unchecked Sendable {
    private let lock = NSLock()
    private var response: HTTPResponse?

    var writer: HTTPResponseWriter {
        HTTPResponseWriter { [self] answer in lock.withLock { response = answer } }
    }

    var answer: HTTPResponse? { lock.withLock { response } }

    func wait(seconds: Double) async -> HTTPResponse? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let answer { return answer }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return answer
    }
}

extension AdobeTargetSimulator {
    /// Sends one request in process and returns the immediate answer.
    func call(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: String = ""
    ) -> HTTPResponse? {
        let box = AnswerBox()
        respond(
            to: HTTPRequest(method: method, target: target, headers: HTTPHeaders(headers), body: Array(body.utf8)),
            writer: box.writer)
        return box.answer
    }
}

extension HTTPResponse {
    var json: JSONValue? { try? JSONValue(parsing: body) }
}

private func simulator(_ configure: (inout AdobeTargetSimulator.Configuration) -> Void = { _ in }) -> AdobeTargetSimulator {
    var configuration = AdobeTargetSimulator.Configuration()
    configuration.clientCode = "acme"
    configure(&configuration)
    return AdobeTargetSimulator(configuration: configuration)
}

@Suite("Simulator in process")
struct SimulatorInProcessTests {
    @Test func lookupFindsOnlyExistingProfiles() throws {
        let sim = simulator()
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/u1?client=acme")?.status.code == 404)
        sim.createProfile(thirdPartyID: "u 1", attributes: JSONObject([("plan", "pro"), ("age", 30)]))
        let answer = try #require(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/u%201?client=acme"))
        #expect(answer.status.code == 200)
        let document = try #require(answer.json)
        #expect(document["thirdPartyId"] == "u 1")
        #expect(document["tntId"]?.stringValue?.isEmpty == false)
        #expect(document["profileAttributes"]?["plan"]?["value"] == "pro")
        #expect(document["profileAttributes"]?["age"]?["value"] == "30")
        #expect(sim.statistics.lookups == 2 && sim.statistics.profilesNotFound == 1)
    }

    @Test func wrongClientCodeIsRefused() {
        let sim = simulator()
        sim.createProfile(thirdPartyID: "u")
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/u?client=other")?.status.code == 400)
        #expect(sim.call(.POST, "/m2/other/profile/update?mbox3rdPartyId=u&profile.a=1")?.status.code == 400)
    }

    @Test func updateDecodesAndAppliesProfileParametersInOrder() throws {
        let sim = simulator()
        let answer = sim.call(.POST, "/m2/acme/profile/update?mbox3rdPartyId=u%C3%BC&profile.city=New%20York&other=x&profile.a%2Bb=1%262")
        #expect(answer?.status.code == 200)
        let attributes = try #require(sim.profileAttributes(thirdPartyID: "uü"))
        #expect(attributes == JSONObject([("city", "New York"), ("a+b", "1&2")]))
        #expect(sim.receivedUpdates.map(\.status) == [200])
        #expect(sim.call(.POST, "/m2/acme/profile/update?profile.a=1")?.status.code == 400)
        #expect(sim.call(.POST, "/m2/acme/profile/update?mbox3rdPartyId=u&profile.a=%E0")?.status.code == 400)
    }

    @Test func encodedURLsRoundTripThroughTheSimulator() throws {
        let sim = simulator()
        let traits = try #require(try JSONValue(parsing: #"{"name":"José Ñ","q":"a&b=c#d?e/f%g+h","emoji":"😀","n":{"x":[1,true]}}"#).objectValue)
        let endpoint = try AdobeTargetEndpoint(clientCode: "acme", baseURL: "http://sim")
        let attributes = ProfileAttributes(flattening: traits)
        for url in try endpoint.profileUpdateURLs(userID: "user/ü 1", attributes: attributes) {
            #expect(sim.call(.POST, String(url.dropFirst("http://sim".count)))?.status.code == 200)
        }
        let stored = try #require(sim.profileAttributes(thirdPartyID: "user/ü 1"))
        #expect(stored.map(\.key) == attributes.map(\.name))
        #expect(stored.map(\.value) == attributes.map { .string($0.value) })
    }

    @Test func bearerTokenIsEnforcedAndReplaceable() {
        let sim = simulator { $0.bearerToken = "one" }
        sim.createProfile(thirdPartyID: "u")
        let target = "/rest/v1/profiles/thirdPartyId/u?client=acme"
        #expect(sim.call(.GET, target)?.status.code == 401)
        #expect(sim.call(.GET, target, headers: [("Authorization", "Bearer two")])?.status.code == 401)
        #expect(sim.call(.GET, target, headers: [("Authorization", "Bearer one")])?.status.code == 200)
        sim.setBearerToken("two")
        #expect(sim.call(.GET, target, headers: [("Authorization", "Bearer one")])?.status.code == 401)
        #expect(sim.call(.GET, target, headers: [("authorization", "Bearer two")])?.status.code == 200)
        #expect(sim.statistics.unauthorized == 3)
    }

    @Test func profilesAppearAfterTheConfiguredDelay() async throws {
        let sim = simulator { $0.profileCreation = .afterFirstLookup(seconds: 0.3) }
        let target = "/rest/v1/profiles/thirdPartyId/late?client=acme"
        #expect(sim.call(.GET, target)?.status.code == 404)
        #expect(sim.call(.GET, target)?.status.code == 404)
        try await Task.sleep(for: .milliseconds(350))
        #expect(sim.call(.GET, target)?.status.code == 200)
        sim.setProfileCreation(.afterFirstLookup(seconds: 0))
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/now?client=acme")?.status.code == 200)
    }

    @Test func countedFaultsApplyThenRunOut() {
        let sim = simulator()
        sim.createProfile(thirdPartyID: "u")
        sim.addFault(.init(.status(503, retryAfter: "7"), endpoint: .lookup, count: 2))
        let target = "/rest/v1/profiles/thirdPartyId/u?client=acme"
        let first = sim.call(.GET, target)
        #expect(first?.status.code == 503 && first?.headers["Retry-After"] == "7")
        // Update is not targeted by this fault.
        #expect(sim.call(.POST, "/m2/acme/profile/update?mbox3rdPartyId=u&profile.a=1")?.status.code == 200)
        #expect(sim.call(.GET, target)?.status.code == 503)
        #expect(sim.call(.GET, target)?.status.code == 200)
        #expect(sim.statistics.faultsInjected == 2)
    }

    @Test func ratioFaultsApplyToAboutThatShare() {
        let sim = simulator()
        sim.createProfile(thirdPartyID: "u")
        sim.addFault(.init(.status(500), ratio: 0.25))
        var failures = 0
        for _ in 0..<2000 where sim.call(.GET, "/rest/v1/profiles/thirdPartyId/u?client=acme")?.status.code == 500 {
            failures += 1
        }
        #expect((400...600).contains(failures))
    }

    @Test func latencyDelaysTheAnswer() async throws {
        let sim = simulator()
        sim.createProfile(thirdPartyID: "u")
        sim.addFault(.init(.latencyOnly, count: 1, latencySeconds: 0.2))
        let box = AnswerBox()
        let start = Date()
        sim.respond(to: HTTPRequest(method: .GET, target: "/rest/v1/profiles/thirdPartyId/u?client=acme"), writer: box.writer)
        #expect(box.answer == nil)
        let answer = await box.wait(seconds: 2)
        #expect(answer?.status.code == 200)
        #expect(Date().timeIntervalSince(start) >= 0.19)
    }

    @Test func hungRequestsWaitUntilReleased() async {
        let sim = simulator()
        sim.addFault(.init(.hang, endpoint: .update, count: 1))
        let box = AnswerBox()
        sim.respond(to: HTTPRequest(method: .POST, target: "/m2/acme/profile/update?mbox3rdPartyId=u&profile.a=1"), writer: box.writer)
        try? await Task.sleep(for: .milliseconds(50))
        #expect(box.answer == nil)
        #expect(sim.receivedUpdates == [.init(target: "/m2/acme/profile/update?mbox3rdPartyId=u&profile.a=1", status: 0)])
        sim.releaseHungRequests()
        #expect(box.answer?.status.code == 503)
        #expect(sim.profileAttributes(thirdPartyID: "u") == nil)
    }

    @Test func overlongURLsGet414() {
        let sim = simulator { $0.maximumURLBytes = 300 }
        let long = "/m2/acme/profile/update?mbox3rdPartyId=u&profile.a=" + String(repeating: "x", count: 300)
        #expect(sim.call(.POST, long)?.status.code == 414)
    }

    @Test func controlEndpoints() throws {
        let sim = simulator()
        #expect(sim.call(.PUT, "/_sim/profiles/a%20b", body: #"{"plan":"pro","n":{"x":1}}"#)?.status.code == 200)
        let profile = try #require(sim.call(.GET, "/_sim/profiles/a%20b")?.json)
        #expect(profile["attributes"] == .object(JSONObject([("plan", "pro"), ("n.x", "1")])))
        #expect(sim.call(.GET, "/_sim/profiles/missing")?.status.code == 404)

        #expect(sim.call(.PUT, "/_sim/faults", body: #"{"faults":[{"status":429,"retryAfter":3,"endpoint":"lookup","count":1}]}"#)?.status.code == 200)
        let faulted = sim.call(.GET, "/rest/v1/profiles/thirdPartyId/a%20b?client=acme")
        #expect(faulted?.status.code == 429 && faulted?.headers["Retry-After"] == "3")
        #expect(sim.call(.POST, "/_sim/faults", body: #"{"status":999}"#)?.status.code == 400)
        #expect(sim.call(.POST, "/_sim/faults", body: #"{"hang":true,"endpoint":"nowhere"}"#)?.status.code == 400)
        #expect(sim.call(.POST, "/_sim/faults", body: #"{"status":500,"endpoint":"update"}"#)?.status.code == 200)
        #expect(sim.call(.POST, "/m2/acme/profile/update?mbox3rdPartyId=x&profile.a=1")?.status.code == 500)
        #expect(sim.call(.DELETE, "/_sim/faults")?.status.code == 200)
        #expect(sim.call(.POST, "/m2/acme/profile/update?mbox3rdPartyId=x&profile.a=1")?.status.code == 200)

        #expect(sim.call(.PUT, "/_sim/token", body: #"{"token":"t"}"#)?.status.code == 200)
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/x?client=acme")?.status.code == 401)
        #expect(sim.call(.PUT, "/_sim/token", body: #"{"token":null}"#)?.status.code == 200)
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/x?client=acme")?.status.code == 200)

        #expect(sim.call(.PUT, "/_sim/profile-creation", body: #"{"mode":"afterFirstLookup","delaySeconds":0}"#)?.status.code == 200)
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/fresh?client=acme")?.status.code == 200)

        let stats = try #require(sim.call(.GET, "/_sim/stats")?.json)
        #expect(stats["lookups"] == 4 && stats["updates"] == 2 && stats["unauthorized"] == 1 && stats["faultsInjected"] == 2)
        let updates = try #require(sim.call(.GET, "/_sim/updates")?.json?["updates"]?.arrayValue)
        #expect(updates.map { $0["status"] } == [500, 200])

        #expect(sim.call(.POST, "/_sim/reset")?.status.code == 200)
        #expect(sim.statistics == .init() && sim.receivedUpdates.isEmpty && sim.profileAttributes(thirdPartyID: "a b") == nil)
        #expect(sim.call(.GET, "/rest/v1/profiles/thirdPartyId/other?client=acme")?.status.code == 404)
        #expect(sim.call(.GET, "/_sim/nothing")?.status.code == 404)
        #expect(sim.call(.PUT, "/_sim/faults", body: "not json")?.status.code == 400)
    }
}
