import AdobeTargetSimulator
import Foundation
import JSONKit
import Testing

/// §4 against the real process: authentication, mapping management, dry runs, dead letters.
@Suite("admin API of serve")
struct AdminAPIEndToEndTests {
    static let adminToken = SegmentFixtures.randomSecret("admin-")

    static var authorization: (String, String) { ("Authorization", "Bearer \(adminToken)") }

    /// A running `serve` with the admin API enabled and its scratch space.
    struct Server {
        let scratch: TemporaryDirectory
        let serve: ServeProcess
        var dataDirectory: String { serve.dataDirectory }

        init(
            config: String = SegmentFixtures.config(), environment: [String: String] = ["ADMIN_TOKEN": AdminAPIEndToEndTests.adminToken],
            scratch: TemporaryDirectory? = nil, dataDirectory: String? = nil
        ) throws {
            let scratch = try scratch ?? TemporaryDirectory()
            self.scratch = scratch
            serve = try ServeProcess.start(
                config: config, dataDirectory: dataDirectory ?? scratch.url.appendingPathComponent("data").path,
                scratch: scratch, environment: environment)
        }

        func admin(_ method: String, _ path: String, json: String? = nil) throws -> HTTPTestResponse {
            var headers = [AdminAPIEndToEndTests.authorization]
            if json != nil { headers.append(("Content-Type", "application/json")) }
            return try serve.client.send(method, path, headers: headers, body: Array((json ?? "").utf8))
        }

        func mappingIDs() throws -> [String] {
            let response = try admin("GET", "/admin/mappings")
            #expect(response.status == 200, "\(response)")
            return response.json["mappings"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        }

        /// Every job the store has made so far, whatever became of it.
        func jobsCreated() throws -> Double {
            let stats = try admin("GET", "/admin/stats")
            #expect(stats.status == 200, "\(stats)")
            let fields = ["queueDepth", "inFlight", "deliveredTotal", "deadLetteredTotal"]
            let values = fields.map { stats.json[$0]?.numberValue }
            #expect(!values.contains(nil), "GET /admin/stats lacks one of \(fields): \(stats)")
            return values.compactMap { $0 }.reduce(0, +)
        }
    }

    static func mapping(subscription: String, userID: String = #"{ "@path": "$.userId" }"#, traits: String = #"{ "@path": "$.traits" }"#) -> String {
        #"{"name":"Test mapping","enabled":true,"subscription":"\#(subscription.replacingOccurrences(of: "\"", with: "\\\""))","action":"updateProfile","mapping":{"user_id":\#(userID),"traits":\#(traits)}}"#
    }

    @Test("without an admin token every /admin route answers 404, even with a bearer")
    func adminIsAbsentWithoutToken() throws {
        let server = try Server(environment: [:])
        defer { server.serve.terminate() }
        let routes = [
            ("GET", "/admin/mappings"), ("PUT", "/admin/mappings/x"), ("DELETE", "/admin/mappings/update-profile"),
            ("POST", "/admin/test"), ("GET", "/admin/dead-letters"), ("POST", "/admin/dead-letters/replay"),
            ("POST", "/admin/queue/retry-now"), ("GET", "/admin/stats"), ("PUT", "/admin/settings/adobe-target"),
        ]
        for (method, path) in routes {
            let bare = try server.serve.client.send(method, path, body: Array("{}".utf8))
            #expect(bare.status == 404, "\(method) \(path): \(bare)")
            let withBearer = try server.admin(method, path, json: "{}")
            #expect(withBearer.status == 404, "\(method) \(path) with a bearer: \(withBearer)")
        }
        // The route that would have been deleted is still there: nothing ran.
        #expect(try server.serve.client.get("/health").status == 200)
    }

    @Test("a missing, wrong or non-bearer Authorization gets 401 and changes nothing")
    func adminNeedsTheRightBearer() throws {
        let server = try Server()
        defer { server.serve.terminate() }
        let wrongHeaders: [[(String, String)]] = [
            [],
            [("Authorization", "Bearer wrong-\(Self.adminToken)")],
            [("Authorization", "Bearer \(Self.adminToken.dropLast())")],
            [("Authorization", "Basic " + Data("\(Self.adminToken):".utf8).base64EncodedString())],
            [("Authorization", Self.adminToken)],
        ]
        for headers in wrongHeaders {
            for (method, path) in [("GET", "/admin/mappings"), ("DELETE", "/admin/mappings/update-profile"), ("GET", "/admin/stats")] {
                let response = try server.serve.client.send(method, path, headers: headers)
                #expect(response.status == 401, "\(method) \(path) with \(headers.map(\.1)): \(response)")
            }
        }
        #expect(try server.mappingIDs() == ["update-profile"])
    }

    @Test("PUT validates (422 with JSON paths), creates (201), replaces (200); DELETE removes; GET lists in order")
    func mappingLifecycle() throws {
        let server = try Server()
        defer { server.serve.terminate() }
        #expect(try server.mappingIDs() == ["update-profile"])

        let created = try server.admin("PUT", "/admin/mappings/track-orders", json: Self.mapping(subscription: #"type = "track""#))
        #expect(created.status == 201, "\(created)")
        #expect(created.json["mapping"]?["id"]?.stringValue == "track-orders", "\(created)")
        let replaced = try server.admin(
            "PUT", "/admin/mappings/track-orders", json: Self.mapping(subscription: #"type = "track" and event = "Order Completed""#))
        #expect(replaced.status == 200, "\(replaced)")
        #expect(try server.mappingIDs() == ["update-profile", "track-orders"])

        let invalid: [(String, String)] = [
            (#"{"subscription":"type = \"identify\"","action":"updateProfile","mapping":{"user_id":{"@path":"$.userId"}}}"#, "$.mapping.traits"),
            (#"{"subscription":"type = ","action":"updateProfile","mapping":{"traits":{"@path":"$.traits"}}}"#, "$.subscription"),
            (#"{"subscription":"type = \"identify\"","action":"updateProfile","mapping":{"traits":{"@path":"$.traits","@literal":1}}}"#, "$.mapping.traits"),
            (#"{"id":"other","subscription":"type = \"identify\"","action":"updateProfile","mapping":{"traits":{"@path":"$.traits"}}}"#, "$.id"),
        ]
        for (body, path) in invalid {
            let response = try server.admin("PUT", "/admin/mappings/bad", json: body)
            #expect(response.status == 422, "\(body): \(response)")
            let problems = response.json["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(problems.contains { $0.hasPrefix(path) }, "\(body): no problem at \(path) in \(response)")
        }
        let notJSON = try server.admin("PUT", "/admin/mappings/bad", json: "{not json")
        #expect(notJSON.status == 400, "\(notJSON)")
        #expect(try server.mappingIDs() == ["update-profile", "track-orders"])

        let deleted = try server.admin("DELETE", "/admin/mappings/update-profile")
        #expect(deleted.status == 200, "\(deleted)")
        #expect(try server.mappingIDs() == ["track-orders"])
        let again = try server.admin("DELETE", "/admin/mappings/update-profile")
        #expect(again.status == 404, "\(again)")
    }

    @Test("at most 50 mappings: the 51st is refused with 422, replacing one still works")
    func fiftyMappingLimit() throws {
        let server = try Server()
        defer { server.serve.terminate() }
        for index in 2...50 {
            let response = try server.admin(
                "PUT", "/admin/mappings/m\(index)", json: Self.mapping(subscription: #"event = "E\#(index)""#))
            #expect(response.status == 201, "mapping \(index): \(response)")
        }
        #expect(try server.mappingIDs().count == 50)
        let tooMany = try server.admin("PUT", "/admin/mappings/m51", json: Self.mapping(subscription: #"event = "E51""#))
        #expect(tooMany.status == 422, "\(tooMany)")
        #expect(tooMany.text.contains("50"), "the refusal does not name the limit: \(tooMany)")
        let replace = try server.admin("PUT", "/admin/mappings/m50", json: Self.mapping(subscription: #"event = "E50b""#))
        #expect(replace.status == 200, "\(replace)")
        let ids = try server.mappingIDs()
        #expect(ids.count == 50 && !ids.contains("m51"))
    }

    @Test("mappings changed through the admin API survive a restart on the same data dir")
    func mappingsPersistAcrossRestart() throws {
        let scratch = try TemporaryDirectory()
        let dataDirectory = scratch.url.appendingPathComponent("data").path
        do {
            let first = try Server(scratch: scratch, dataDirectory: dataDirectory)
            #expect(try first.admin("PUT", "/admin/mappings/track-orders", json: Self.mapping(subscription: #"type = "track""#)).status == 201)
            #expect(try first.admin("DELETE", "/admin/mappings/update-profile").status == 200)
            #expect(first.serve.terminate() == .success, "log:\n\(first.serve.log)")
        }
        let second = try Server(scratch: scratch, dataDirectory: dataDirectory)
        defer { second.serve.terminate() }
        #expect(try second.mappingIDs() == ["track-orders"])
        let mapping = try second.admin("GET", "/admin/mappings").json["mappings"]?[0]
        #expect(mapping?["subscription"]?.stringValue == #"type = "track""#, "\(String(describing: mapping))")
    }

    @Test("a PUT takes effect for the next event: jobs appear for the new mapping, and /admin/test shows it matching")
    func putTakesEffectForNextEvent() throws {
        let server = try Server()
        defer { server.serve.terminate() }
        let trackEvent = { (id: String) in SegmentFixtures.track(messageId: id, userId: "effect-user") }

        let baseline = try server.jobsCreated()
        #expect(try server.serve.client.post("/webhook", json: trackEvent("effect-before")).status == 200)
        #expect(try server.jobsCreated() == baseline, "a track event made a job before any mapping subscribed to it")

        let dryRunBefore = try server.admin("POST", "/admin/test", json: trackEvent("effect-dry-1"))
        #expect(dryRunBefore.status == 200, "\(dryRunBefore)")
        #expect(Self.matchedIDs(dryRunBefore).isEmpty, "\(dryRunBefore)")

        #expect(try server.admin("PUT", "/admin/mappings/track-orders", json: Self.mapping(subscription: #"type = "track""#)).status == 201)

        let dryRunAfter = try server.admin("POST", "/admin/test", json: trackEvent("effect-dry-2"))
        #expect(Self.matchedIDs(dryRunAfter) == ["track-orders"], "\(dryRunAfter)")
        let answer = try server.serve.client.post("/webhook", json: trackEvent("effect-after"))
        #expect(answer.status == 200 && answer.json["accepted"]?.numberValue == 1, "\(answer)")
        #expect(try server.jobsCreated() == baseline + 1, "the event after the PUT did not get a job for the new mapping")
    }

    @Test("POST /admin/test shows matches, resolved payloads and the exact Adobe requests, token REDACTED, sending nothing")
    func dryRunShowsAdobeRequests() throws {
        let bearer = SegmentFixtures.randomSecret("bearer-")
        var simulatorConfiguration = AdobeTargetSimulator.Configuration()
        simulatorConfiguration.clientCode = "acme"
        simulatorConfiguration.bearerToken = bearer
        let simulator = AdobeTargetSimulator(configuration: simulatorConfiguration, logger: .quiet)
        try simulator.start()
        defer { simulator.shutdown() }

        let server = try Server(environment: [
            "ADMIN_TOKEN": Self.adminToken, "ADOBE_TARGET_CLIENT_CODE": "acme", "ADOBE_TARGET_BASE_URL": simulator.baseURL,
            "ADOBE_TARGET_BEARER_TOKEN": bearer,
        ])
        defer { server.serve.terminate() }
        let event = #"{"type":"identify","messageId":"dry-1","userId":"123-test","traits":{"city":"New York City","name":"Rajul"}}"#
        let response = try server.admin("POST", "/admin/test", json: event)
        #expect(response.status == 200, "\(response)")
        #expect(!response.text.contains(bearer), "the dry run shows the bearer token")
        #expect(response.json["sent"] == .bool(false), "\(response)")

        let entry = response.json["mappings"]?.arrayValue?.first { $0["mappingId"]?.stringValue == "update-profile" }
        #expect(entry?["matched"] == .bool(true), "\(response)")
        #expect(entry?["payload"] == (try JSONParser().parse(#"{"user_id":"123-test","traits":{"city":"New York City","name":"Rajul"}}"#)))
        let requests = entry?["requests"]?.arrayValue ?? []
        let urls = requests.compactMap { $0["url"]?.stringValue }
        #expect(urls.contains("\(simulator.baseURL)/rest/v1/profiles/thirdPartyId/123-test?client=acme"), "\(urls)")
        #expect(urls.contains(
            "\(simulator.baseURL)/m2/acme/profile/update?mbox3rdPartyId=123-test&profile.city=New%20York%20City&profile.name=Rajul"),
            "\(urls)")
        for request in requests {
            let authorization = request["headers"]?["Authorization"]?.stringValue
            #expect(authorization?.contains("REDACTED") == true, "a planned request does not show the token as REDACTED: \(request)")
        }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(simulator.statistics.lookups == 0 && simulator.statistics.updates == 0, "the dry run reached Adobe")
    }

    @Test("an event whose user_id resolves to nothing becomes a MAPPING_ERROR dead letter with Segment's reason")
    func unresolvableUserIDIsDeadLettered() throws {
        let server = try Server()
        defer { server.serve.terminate() }
        let put = try server.admin(
            "PUT", "/admin/mappings/broken", json: Self.mapping(subscription: #"type = "identify""#, userID: #"{"@path":"$.nope"}"#))
        #expect(put.status == 201, "\(put)")

        let messageId = "dead-\(UUID().uuidString)"
        let answer = try server.serve.client.post("/webhook", json: SegmentFixtures.identify(messageId: messageId, userId: "dl-user"))
        #expect(answer.status == 200, "\(answer)")

        let letters = try server.admin("GET", "/admin/dead-letters")
        #expect(letters.status == 200, "\(letters)")
        let letter = letters.json["deadLetters"]?.arrayValue?.first { $0["messageId"]?.stringValue == messageId }
        try #require(letter != nil, "no dead letter for \(messageId): \(letters)")
        #expect(letter?["mappingId"]?.stringValue == "broken")
        #expect(letter?["reason"]?.stringValue == "MAPPING_ERROR")
        #expect(letter?["message"]?.stringValue == "The root value is missing the required field 'user_id'.", "\(String(describing: letter))")
        #expect(letter?["event"]?["messageId"]?.stringValue == messageId)
        for field in ["id", "attempts", "lastAdobeAnswer"] {
            #expect(letter?[field] != nil, "the dead letter lacks \(field)")
        }
        let stats = try server.admin("GET", "/admin/stats")
        #expect((stats.json["deadLetters"]?.numberValue ?? 0) >= 1, "\(stats)")

        // Replaying cannot deliver a mapping error as it is: it stays a dead letter, and says so.
        let replay = try server.admin("POST", "/admin/dead-letters/replay", json: "{}")
        #expect(replay.status == 200, "\(replay)")
        let after = try server.admin("GET", "/admin/dead-letters")
        #expect(after.json["deadLetters"]?.arrayValue?.contains { $0["messageId"]?.stringValue == messageId } == true,
            "a MAPPING_ERROR dead letter vanished on replay: \(replay) then \(after)")
    }

    @Test("a disabled mapping matches in /admin/test but makes no job for a real event")
    func disabledMappingMakesNoJob() throws {
        let server = try Server()
        defer { server.serve.terminate() }
        var disabled = Self.mapping(subscription: #"type = "track""#)
        disabled = disabled.replacingOccurrences(of: #""enabled":true"#, with: #""enabled":false"#)
        #expect(try server.admin("PUT", "/admin/mappings/off", json: disabled).status == 201)
        let baseline = try server.jobsCreated()
        let event = SegmentFixtures.track(messageId: "disabled-1", userId: "off-user")
        #expect(try server.serve.client.post("/webhook", json: event).status == 200)
        #expect(try server.jobsCreated() == baseline, "a disabled mapping made a job")
        let dryRun = try server.admin("POST", "/admin/test", json: event)
        let entry = dryRun.json["mappings"]?.arrayValue?.first { $0["mappingId"]?.stringValue == "off" }
        #expect(entry?["enabled"] == .bool(false), "\(dryRun)")
    }

    @Test("PUT /admin/settings/adobe-target replaces the token: delivery paused by 401 resumes with the new one", .tags(.needsDelivery))
    func tokenReplacementResumesDelivery() throws {
        let newToken = SegmentFixtures.randomSecret("new-")
        let oldToken = SegmentFixtures.randomSecret("old-")
        var simulatorConfiguration = AdobeTargetSimulator.Configuration()
        simulatorConfiguration.clientCode = "acme"
        simulatorConfiguration.bearerToken = newToken
        simulatorConfiguration.profileCreation = .afterFirstLookup(seconds: 0)
        let simulator = AdobeTargetSimulator(configuration: simulatorConfiguration, logger: .quiet)
        try simulator.start()
        defer { simulator.shutdown() }

        let server = try Server(environment: [
            "ADMIN_TOKEN": Self.adminToken, "ADOBE_TARGET_CLIENT_CODE": "acme", "ADOBE_TARGET_BASE_URL": simulator.baseURL,
            "ADOBE_TARGET_BEARER_TOKEN": oldToken,
        ])
        defer { server.serve.terminate() }
        let answer = try server.serve.client.post(
            "/webhook", json: SegmentFixtures.identify(messageId: "token-1", userId: "token-user", traits: #"{"plan":"gold"}"#))
        #expect(answer.status == 200, "\(answer)")

        let refused = waitUntil(timeout: 10) { simulator.statistics.unauthorized > 0 }
        try #require(refused, "delivery never reached the simulator with the old token (is delivery wired?)")
        let ready = waitUntil(timeout: 5) { (try? server.serve.client.get("/ready").status) == 503 }
        #expect(ready, "/ready does not report the paused delivery after a 401")

        let put = try server.admin("PUT", "/admin/settings/adobe-target", json: #"{"bearerToken":"\#(newToken)"}"#)
        #expect(put.status == 200, "\(put)")
        #expect(!put.text.contains(newToken), "the answer echoes the new token")
        _ = try? server.admin("POST", "/admin/queue/retry-now")

        let delivered = waitUntil(timeout: 15) {
            simulator.receivedUpdates.contains { $0.status == 200 && $0.target.contains("mbox3rdPartyId=token-user") }
        }
        #expect(delivered, "no update arrived with the new token; simulator: \(simulator.statistics.jsonValue)")
        #expect(waitUntil(timeout: 5) { (try? server.serve.client.get("/ready").status) == 200 })
    }

    static func matchedIDs(_ response: HTTPTestResponse) -> [String] {
        (response.json["mappings"]?.arrayValue ?? []).filter { $0["matched"] == .bool(true) }.compactMap { $0["mappingId"]?.stringValue }
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}
