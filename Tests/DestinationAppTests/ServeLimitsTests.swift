import Foundation
import Testing

/// The config's limits reach the running server (§2, §3), and dedup survives a restart.
@Suite("serve applies its configured limits")
struct ServeLimitsTests {
    static let limits = #""server": { "maxBodyBytes": 4096, "maxEventBytes": 1024, "requestTimeoutSeconds": 1 }"#

    static func start(_ scratch: TemporaryDirectory, environment: [String: String] = [:]) throws -> ServeProcess {
        try ServeProcess.start(
            config: SegmentFixtures.config(extraSections: limits), dataDirectory: scratch.url.appendingPathComponent("data").path,
            scratch: scratch, environment: environment)
    }

    @Test("over maxBodyBytes is 413, raw or gzip-inflated; the server keeps serving")
    func bodyLimit() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        defer { serve.terminate() }
        let events = (0..<40).map { SegmentFixtures.identify(messageId: "big-\($0)", userId: "big-user") }
        let body = Array(("[" + events.joined(separator: ",") + "]").utf8)
        #expect(body.count > 4096)
        let raw = try serve.client.send("POST", "/webhook", headers: [("Content-Type", "application/json")], body: body)
        #expect(raw.status == 413, "\(raw)")
        let compressed = try gzipped(body)
        #expect(compressed.count < 4096)
        let inflated = try serve.client.send("POST", "/webhook", headers: [("Content-Encoding", "gzip")], body: compressed)
        #expect(inflated.status == 413, "\(inflated)")
        #expect(try serve.client.post("/webhook", json: events[0]).status == 200)
    }

    @Test("an event over maxEventBytes is rejected alone; the rest of the batch is accepted")
    func eventLimit() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        defer { serve.terminate() }
        let bigTraits = #"{"bio":"\#(String(repeating: "x", count: 1500))"}"#
        let batch = "[" + SegmentFixtures.identify(messageId: "ev-1", userId: "u") + ","
            + SegmentFixtures.identify(messageId: "ev-2", userId: "u", traits: bigTraits) + "]"
        let answer = try serve.client.post("/webhook", json: batch)
        #expect(answer.status == 200, "\(answer)")
        #expect(answer.json["accepted"]?.numberValue == 1, "\(answer)")
        let rejected = answer.json["rejected"]?.arrayValue ?? []
        #expect(rejected.count == 1 && rejected.first?["index"]?.numberValue == 1 && rejected.first?["messageId"]?.stringValue == "ev-2",
            "\(answer)")
    }

    @Test("a request whose head does not arrive within requestTimeoutSeconds gets 408")
    func requestTimeout() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        defer { serve.terminate() }
        let connection = try HTTPTestConnection(port: serve.port, timeout: 5)
        let started = Date()
        try connection.write("POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len")
        let response = try connection.readResponse()
        #expect(response.status == 408, "\(response)")
        #expect(Date().timeIntervalSince(started) < 3.5)
        #expect(try serve.client.get("/health").status == 200)
    }

    @Test("a full delivery queue: 503 with Retry-After, nothing of the request stored, /ready 503 with the reason")
    func queueAtCapacity() throws {
        let scratch = try TemporaryDirectory()
        // Adobe is unreachable (port 9, discard), so every job stays unfinished.
        let sections = #""storage": { "minFreeDiskBytes": 0, "maxQueueDepth": 2 }, "adobeTarget": { "clientCode": "acme", "baseURL": "http://127.0.0.1:9" }"#
        let config = SegmentFixtures.config(extraSections: sections)
        let serve = try ServeProcess.start(config: config, dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch)
        for index in 0..<2 {
            let answer = try serve.client.post("/webhook", json: SegmentFixtures.identify(messageId: "full-\(index)", userId: "u\(index)"))
            #expect(answer.status == 200, "\(answer)")
        }
        let batch = "[" + SegmentFixtures.identify(messageId: "full-2", userId: "u2") + "," + SegmentFixtures.track(messageId: "full-3", userId: "u3") + "]"
        let refused = try serve.client.post("/webhook", json: batch)
        #expect(refused.status == 503, "\(refused)")
        #expect(Int(refused.header("Retry-After") ?? "") ?? 0 > 0, "no Retry-After: \(refused.headers)")
        let ready = try serve.client.get("/ready")
        #expect(ready.status == 503, "\(ready)")
        #expect(ready.text.contains("queue"), "/ready does not say why: \(ready)")

        #expect(serve.terminate() == .success)
        let stored = try CrashRecoveryTests.storedMessageIdCounts(dataDirectory: serve.dataDirectory)
        #expect(stored == ["full-0": 1, "full-1": 1], "\(stored)")
    }

    @Test("a messageId accepted before a restart is a duplicate after it: counted, no new job")
    func dedupSurvivesRestart() throws {
        let scratch = try TemporaryDirectory()
        let environment = ["ADMIN_TOKEN": AdminAPIEndToEndTests.adminToken]
        let event = SegmentFixtures.identify(messageId: "dedup-\(UUID().uuidString)", userId: "dedup-user")
        let first = try Self.start(scratch, environment: environment)
        #expect(try first.client.post("/webhook", json: event).status == 200)
        #expect(first.terminate() == .success)

        let second = try Self.start(scratch, environment: environment)
        defer { second.terminate() }
        let admin = [AdminAPIEndToEndTests.authorization]
        let jobsBefore = AdminStats(try second.client.get("/admin/stats", headers: admin)).jobsCreated
        let again = try second.client.post("/webhook", json: event)
        #expect(again.status == 200 && again.json["accepted"]?.numberValue == 1, "\(again)")
        let samples = PrometheusText(try second.client.get("/metrics").text)
        #expect(samples.value(#"segment_ingest_events_total{outcome="duplicate"}"#) == 1)
        #expect(samples.value(#"segment_ingest_events_total{outcome="stored"}"#) ?? 0 == 0)
        let jobsAfter = AdminStats(try second.client.get("/admin/stats", headers: admin)).jobsCreated
        #expect(jobsBefore != nil && jobsAfter == jobsBefore, "the repeated messageId made a new job: \(String(describing: jobsBefore)) → \(String(describing: jobsAfter))")
    }
}

/// The job counts of `GET /admin/stats`.
struct AdminStats {
    var jobsCreated: Double?

    init(_ response: HTTPTestResponse) {
        let values = ["queueDepth", "inFlight", "deliveredTotal", "deadLetteredTotal"].map { response.json[$0]?.numberValue }
        jobsCreated = values.contains(nil) ? nil : values.compactMap { $0 }.reduce(0, +)
    }
}
