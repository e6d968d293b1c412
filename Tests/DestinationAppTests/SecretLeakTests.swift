import AdobeTargetSimulator
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// §1: secrets never appear in logs, metrics, answers or `check-config` output, on the error
/// paths least of all.
@Suite("serve never reveals its secrets")
struct SecretLeakTests {
    struct Secrets {
        let sharedSecret = SegmentFixtures.randomSecret("shared")
        let writeKey = SegmentFixtures.randomSecret("writekey")
        let otherWriteKey = SegmentFixtures.randomSecret("writekeytwo")
        let bearerToken = SegmentFixtures.randomSecret("bearer")
        let replacementBearerToken = SegmentFixtures.randomSecret("newbearer")
        let adminToken = SegmentFixtures.randomSecret("admintoken")
        /// Too short to be accepted (16 characters at least), still a secret in the refusal.
        let shortAdminToken = "short" + String(UUID().uuidString.filter(\.isLetter).prefix(6)) + "tok9"

        var all: [(name: String, value: String)] {
            [("shared secret", sharedSecret), ("write key", writeKey), ("second write key", otherWriteKey),
             ("bearer token", bearerToken), ("replacement bearer token", replacementBearerToken), ("admin token", adminToken), ("short admin token", shortAdminToken)]
        }

        /// The segment section, so the file carries secrets as well as the environment.
        var segmentSection: String {
            #""segment": { "sharedSecret": "\#(sharedSecret)", "writeKeys": ["\#(writeKey)", "\#(otherWriteKey)"] }"#
        }

        func environment(simulatorURL: String) -> [String: String] {
            ["ADOBE_TARGET_CLIENT_CODE": "acme", "ADOBE_TARGET_BASE_URL": simulatorURL, "ADOBE_TARGET_BEARER_TOKEN": bearerToken,
             "ADMIN_TOKEN": adminToken]
        }
    }

    /// Texts to search, each with where it came from.
    final class Exposure {
        var texts: [(source: String, text: String)] = []

        func record(_ source: String, _ response: HTTPTestResponse?) {
            guard let response else { return }
            let headers = response.headers.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
            texts.append((source, "\(response.status)\n\(headers)\n\(response.text)"))
        }

        func leaks(of secrets: Secrets) -> [String] {
            var found: [String] = []
            for (source, text) in texts {
                for (name, value) in secrets.all where text.contains(value) {
                    found.append("the \(name) appears in \(source)")
                }
            }
            return found
        }
    }

    @Test("error paths, admin answers, /metrics and the whole log never show a secret", arguments: ["text", "json"])
    func secretsStayHidden(logFormat: String) throws {
        let secrets = Secrets()
        var simulatorConfiguration = AdobeTargetSimulator.Configuration()
        simulatorConfiguration.clientCode = "acme"
        // Another token than the one serve has: every delivery attempt gets 401.
        simulatorConfiguration.bearerToken = SegmentFixtures.randomSecret("simulatoronly")
        simulatorConfiguration.profileCreation = .afterFirstLookup(seconds: 0)
        let simulator = AdobeTargetSimulator(configuration: simulatorConfiguration, logger: .quiet)
        try simulator.start()
        defer { simulator.shutdown() }

        let scratch = try TemporaryDirectory()
        var environment = secrets.environment(simulatorURL: simulator.baseURL)
        environment["LOG_FORMAT"] = logFormat
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(extraSections: secrets.segmentSection),
            dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch, environment: environment,
            logLevel: "trace")
        let exposure = Exposure()
        let client = serve.client
        let event = Array(SegmentFixtures.identify(messageId: "leak-1", userId: "leak-user").utf8)

        // Segment auth, wrong then right. The signature the server expects for a refused body
        // is as good as the secret to an attacker (a signing oracle): it must not show either.
        let forged = Array(SegmentFixtures.identify(messageId: "leak-forged", userId: "attacker").utf8)
        let expectedSignature = SegmentFixtures.signature(forged, secret: secrets.sharedSecret).1
        exposure.record("a badly signed webhook answer", try? client.send(
            "POST", "/webhook", headers: [SegmentFixtures.signature(forged, secret: "not-the-secret")], body: forged))
        exposure.record("an unsigned webhook answer", try? client.send("POST", "/webhook", body: event))
        exposure.record("a signed webhook answer", try? client.send(
            "POST", "/webhook", headers: [SegmentFixtures.signature(event, secret: secrets.sharedSecret)], body: event))
        exposure.record("a wrong write key answer", try? client.send(
            "POST", "/v1/identify", headers: [SegmentFixtures.basicAuthorization(writeKey: "wrong-key")], body: event))
        exposure.record("a wrong writeKey-in-body answer", try? client.post(
            "/v1/identify", json: #"{"writeKey":"wrong","userId":"u","messageId":"leak-2"}"#))
        exposure.record("a good write key answer", try? client.send(
            "POST", "/v1/identify", headers: [SegmentFixtures.basicAuthorization(writeKey: secrets.otherWriteKey)],
            body: Array(#"{"userId":"leak-user","messageId":"leak-3","traits":{"a":1}}"#.utf8)))
        exposure.record("a not-JSON answer", try? client.send(
            "POST", "/webhook", headers: [SegmentFixtures.signature(Array("{oops".utf8), secret: secrets.sharedSecret)],
            body: Array("{oops".utf8)))

        // Admin API, wrong then right.
        exposure.record("a wrong admin token answer", try? client.get("/admin/mappings", headers: [("Authorization", "Bearer wrong")]))
        let admin = [("Authorization", "Bearer \(secrets.adminToken)")]
        for path in ["/admin/mappings", "/admin/stats", "/admin/dead-letters"] {
            exposure.record("GET \(path)", try? client.get(path, headers: admin))
        }
        exposure.record("POST /admin/test", try? client.send("POST", "/admin/test", headers: admin, body: event))
        exposure.record("a bad settings answer", try? client.send(
            "PUT", "/admin/settings/adobe-target", headers: admin, body: Array(#"{"bearerToken":42}"#.utf8)))

        // Delivery against a simulator that refuses the token (only once delivery is wired).
        _ = waitUntil(timeout: 3) { simulator.statistics.unauthorized > 0 }
        exposure.record("/ready while Adobe refuses the token", try? client.get("/ready"))
        exposure.record("PUT /admin/settings/adobe-target", try? client.send(
            "PUT", "/admin/settings/adobe-target", headers: admin,
            body: Array(#"{"bearerToken":"\#(secrets.replacementBearerToken)"}"#.utf8)))
        exposure.record("POST /admin/test after the token change", try? client.send("POST", "/admin/test", headers: admin, body: event))
        serve.send(signal: SIGHUP)
        Thread.sleep(forTimeInterval: 0.3)
        exposure.record("/metrics", try? client.get("/metrics"))
        exposure.record("/ready", try? client.get("/ready"))

        #expect(serve.terminate() == .success, "log:\n\(serve.log)")
        exposure.texts.append(("the serve log (LOG_FORMAT=\(logFormat))", serve.log))
        #expect(exposure.texts.count >= 18, "some requests got no answer: \(exposure.texts.map(\.source))")
        if logFormat == "json" {
            let lines = serve.log.split(separator: "\n")
            #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("{") }, "LOG_FORMAT=json wrote a non-JSON line")
        }
        var leaks = exposure.leaks(of: secrets)
        for (source, text) in exposure.texts where text.contains(expectedSignature) {
            leaks.append("the signature expected for a refused body appears in \(source)")
        }
        #expect(leaks.isEmpty, "\(leaks)")
    }

    @Test("check-config and a refused serve never print a secret, valid config or not")
    func checkConfigHidesSecrets() throws {
        let secrets = Secrets()
        let scratch = try TemporaryDirectory()
        let environment = secrets.environment(simulatorURL: "http://127.0.0.1:9")
        let valid = try scratch.write("valid.json", SegmentFixtures.config(extraSections: secrets.segmentSection))
        // Broken around the secrets: the problems name their paths, never their values.
        let invalid = try scratch.write("invalid.json", """
            {
              "server": { "port": "eighty" },
              "segment": { "sharedSecret": "\(secrets.sharedSecret)", "writeKeys": ["\(secrets.writeKey)", 42, ""] },
              "adobeTarget": { "bearerToken": "\(secrets.bearerToken)", "clientCode": "not a code!" },
              "admin": { "token": "\(secrets.shortAdminToken)" },
              "mappings": [ { "id": "x", "subscription": "type = ", "action": "updateProfile", "mapping": {} } ]
            }
            """)
        let exposure = Exposure()
        let good = try Executable.run(["check-config", "--config", valid], environment: environment)
        #expect(good.status == 0, "\(good.stderr)")
        exposure.texts.append(("check-config of a valid config", good.stdout + good.stderr))
        let bad = try Executable.run(["check-config", "--config", invalid], environment: environment)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("$.server.port") && bad.stderr.contains("$.segment.writeKeys[1]"), "\(bad.stderr)")
        exposure.texts.append(("check-config of an invalid config", bad.stdout + bad.stderr))
        let badEnvironment = try Executable.run(
            ["check-config", "--config", valid],
            environment: environment.merging(["SEGMENT_WRITE_KEYS": "\(secrets.writeKey),,", "LOG_LEVEL": "loud"]) { $1 })
        #expect(badEnvironment.status == 1, "\(badEnvironment.stdout)")
        exposure.texts.append(("check-config with a bad environment", badEnvironment.stdout + badEnvironment.stderr))
        let refused = try Executable.run(
            ["serve", "--config", invalid, "--port", "1", "--data-dir", scratch.url.appendingPathComponent("data").path],
            environment: environment)
        #expect(refused.status == 1)
        exposure.texts.append(("serve refusing an invalid config", refused.stdout + refused.stderr))
        let leaks = exposure.leaks(of: secrets)
        #expect(leaks.isEmpty, "\(leaks)")
    }
}
