import Foundation
import HTTPServer
import JSONKit
import Logging
import MappingKit
import EventStore
import Testing
@testable import SegmentIngest

/// The real HTTP server on 127.0.0.1 (port 0) with the ingest routes and a real SQLite store in
/// a fresh temporary directory.
final class RunningIngestServer {
    let server: HTTPServer
    let store: SQLiteEventStore
    let client: LoopbackHTTPClient
    private let directory: String

    init(configuration: IngestConfiguration, mappings: [ActionMapping], maxQueueDepth: Int = 1_000_000) throws {
        directory = NSTemporaryDirectory() + "ingest-e2e-" + UUID().uuidString
        var storeConfiguration = SQLiteEventStoreConfiguration()
        storeConfiguration.maxQueueDepth = maxQueueDepth
        storeConfiguration.minFreeDiskBytes = 0
        storeConfiguration.automaticPurgeInterval = nil
        store = try SQLiteEventStore(directory: directory, configuration: storeConfiguration)
        let service = IngestService(
            configuration: configuration, mappings: MappingSet(mappings), sink: EventStoreSink(store: store),
            logger: Logger(label: "e2e"))
        var router = Router()
        IngestRoutes.register(on: &router, service: service)
        var serverConfiguration = HTTPServer.Configuration()
        serverConfiguration.host = "127.0.0.1"
        serverConfiguration.port = 0
        serverConfiguration.eventLoopCount = 1
        serverConfiguration.maxBodyBytes = configuration.limits.webhookBodyBytes
        server = HTTPServer(configuration: serverConfiguration, responder: router, logger: Logger(label: "e2e"))
        try server.start()
        client = LoopbackHTTPClient(port: server.port)
    }

    func post(_ path: String, _ body: [UInt8], headers: [(String, String)] = []) throws -> LoopbackHTTPClient.Response {
        try client.post(path, body: body, headers: headers)
    }

    /// Every event the store received, in order.
    func receivedEvents() throws -> [ReceivedEvent] {
        try store.receivedEvents(after: 0, limit: 10_000)
    }

    deinit {
        server.shutdown(gracePeriodSeconds: 1)
        server.waitUntilStopped()
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

extension LoopbackHTTPClient.Response {
    var json: JSONValue? { try? JSONValue(parsing: body) }
}

@Suite(.serialized) struct EndToEndTests {
    let secret = "e2e-shared-secret"
    let writeKey = "wk_e2e_1"
    let updateProfile = #"""
        {"id":"update-profile","subscription":"type = \"identify\"","action":"updateProfile",
         "mapping":{"traits":{"@path":"$.traits"}}}
        """#

    func makeServer(
        sharedSecret: String? = nil, writeKeys: [String] = [], limits: IngestLimits = IngestLimits(),
        mappings: [ActionMapping]? = nil, maxQueueDepth: Int = 1_000_000
    ) throws -> RunningIngestServer {
        try RunningIngestServer(
            configuration: IngestConfiguration(sharedSecret: sharedSecret, writeKeys: writeKeys, limits: limits),
            mappings: mappings ?? [try actionMapping(updateProfile)], maxQueueDepth: maxQueueDepth)
    }

    @Test func everyBodyShapeIsAcceptedAndStored() throws {
        let server = try makeServer()
        let cases: [(String, [UInt8], Int)] = [
            ("/", Samples.identify, 1),
            ("/webhook", Samples.webhookActionsBatch, 3),
            ("/webhook", bytes(#"{"batch":[{"type":"page","anonymousId":"a9","messageId":"shape-1"}]}"#), 1),
            ("/v1/batch", Samples.trackingApiBatch, 3),
            ("/v1/identify", bytes(#"{"userId":"u1","traits":{"a":1}}"#), 1),
            ("/v1/track", bytes(#"{"userId":"u1","event":"Signed Up"}"#), 1),
            ("/v1/page", bytes(#"{"anonymousId":"a1","name":"Home"}"#), 1),
            ("/v1/screen", bytes(#"{"anonymousId":"a1","name":"Home"}"#), 1),
            ("/v1/group", bytes(#"{"userId":"u1","groupId":"g1"}"#), 1),
            ("/v1/alias", bytes(#"{"userId":"u1","previousId":"a1"}"#), 1),
        ]
        for (path, body, count) in cases {
            let response = try server.post(path, body, headers: [("Content-Type", "application/json")])
            #expect(response.status == 200, "\(path): \(String(decoding: response.body, as: UTF8.self))")
            #expect(response.json == ["success": true, "accepted": .number(Double(count)), "rejected": []], "\(path)")
            #expect(response.header("Content-Type") == "application/json")
        }
        let events = try server.receivedEvents()
        // The sample files share messageIds, so some later copies are duplicates; all are kept.
        #expect(events.count == cases.map(\.2).reduce(0, +))
        let single = try #require(events.first { $0.body.contains(subsequence: bytes(#""Signed Up""#)) })
        #expect(try json(single.body)["type"] == "track")
        #expect(single.status == .accepted)
    }

    @Test func matchingMappingsBecomeJobs() throws {
        let server = try makeServer()
        #expect(try server.post("/webhook", Samples.identify).status == 200)
        let event = try #require(try server.receivedEvents().first)
        let jobs = try server.store.jobs(forEvent: event.sequence)
        #expect(jobs.map(\.mappingID) == ["update-profile"])
        #expect(jobs.first?.userID == "97980cfea0067")
        #expect(jobs.first?.payload == (try json(Samples.identify))["traits"])
    }

    @Test func userIdResolvingToNothingIsRecordedAsAMappingError() throws {
        let byCRM = try actionMapping(#"""
            {"id":"by-crm","subscription":"type = \"identify\"",
             "mapping":{"user_id":{"@path":"$.traits.crmId"},"traits":{"@path":"$.traits"}}}
            """#)
        let server = try makeServer(mappings: [byCRM])
        #expect(try server.post("/webhook", Samples.identify).json?["accepted"] == 1)
        let deadLetters = try server.store.deadLetters(limit: 10, offset: 0)
        #expect(deadLetters.map(\.reason) == [.mappingError])
        #expect(deadLetters.first?.message == "The root value is missing the required field 'user_id'.")
    }

    /// The store reads user ids back as C strings: one holding U+0000 would be delivered to the
    /// profile named by its first part. It is a mapping error instead.
    @Test func userIdWithANulCharacterIsAMappingError() throws {
        let server = try makeServer()
        let event = #"{"type":"identify","messageId":"nul-1","userId":"ann\u0000bob","traits":{"plan":"pro"}}"#
        #expect(try server.post("/webhook", Array(event.utf8)).json?["accepted"] == 1)
        let deadLetters = try server.store.deadLetters(limit: 10, offset: 0)
        #expect(deadLetters.map(\.reason) == [.mappingError])
        #expect(deadLetters.first?.message.contains("NUL character") == true, "\(deadLetters)")
        #expect(try server.store.stats().queueDepth == 0)
    }

    @Test func webhookSignaturesAreChecked() throws {
        let server = try makeServer(sharedSecret: secret)
        let verifier = SignatureVerifier(sharedSecret: secret)
        let whole = try server.post("/webhook", Samples.webhookActionsBatch,
            headers: [("X-Signature", verifier.signature(of: Samples.webhookActionsBatch))])
        #expect(whole.status == 200)
        let firstEvent = JSONSerializer.serialize(try json(Samples.webhookActionsBatch).arrayValue![0])
        let first = try server.post("/webhook", Samples.webhookActionsBatch,
            headers: [("X-Signature", verifier.signature(of: firstEvent))])
        #expect(first.status == 200)
        let wrong = try server.post("/webhook", Samples.webhookActionsBatch,
            headers: [("X-Signature", String(repeating: "0", count: 40))])
        #expect(wrong.status == 401)
        #expect(wrong.json?["error"]?.stringValue?.contains(secret) == false)
        #expect(try server.post("/", Samples.identify).status == 401)
        // The signature covers the inflated body, whatever the transfer compression.
        let gzipped = try server.post("/webhook", gzip(Samples.identify), headers: [
            ("Content-Encoding", "gzip"), ("X-Signature", verifier.signature(of: Samples.identify)),
        ])
        #expect(gzipped.status == 200)
        #expect(try server.receivedEvents().count == 7)
    }

    @Test func writeKeysAreChecked() throws {
        let server = try makeServer(writeKeys: [writeKey])
        #expect(try server.post("/v1/batch", Samples.trackingApiBatch,
            headers: [("Authorization", basicAuthorization(user: writeKey))]).status == 200)
        #expect(try server.post("/v1/track", bytes(#"{"userId":"u","event":"E","writeKey":"\#(writeKey)"}"#)).status == 200)
        let refused = try server.post("/v1/batch", Samples.trackingApiBatch,
            headers: [("Authorization", basicAuthorization(user: "wk_other"))])
        #expect(refused.status == 401)
        #expect(refused.json?["success"] == false)
        #expect(try server.post("/v1/identify", Samples.identify).status == 401)
        let stored = try server.receivedEvents()
        #expect(stored.count == 4)
        #expect(!stored.contains { $0.body.contains(subsequence: bytes(writeKey)) }, "write keys are not stored")
    }

    @Test func gzipBodiesAreInflatedWithinTheLimit() throws {
        let server = try makeServer(limits: IngestLimits(webhookBodyBytes: 1024 * 1024))
        let ok = try server.post("/webhook", gzip(Samples.webhookActionsBatch), headers: [("Content-Encoding", "gzip")])
        #expect(ok.json?["accepted"] == 3)
        let bomb = gzip([UInt8](repeating: 0x20, count: 10 * 1024 * 1024), level: 9)
        let tooBig = try server.post("/webhook", bomb, headers: [("Content-Encoding", "gzip")])
        #expect(tooBig.status == 413)
        #expect(tooBig.json?["success"] == false)
        #expect(try server.post("/webhook", Samples.identify, headers: [("Content-Encoding", "br")]).status == 415)
        let truncated = try server.post("/webhook", Array(gzip(Samples.identify).dropLast(12)),
            headers: [("Content-Encoding", "gzip")])
        #expect(truncated.status == 400)
        #expect(truncated.json?["error"]?.stringValue?.contains("truncated") == true)
        #expect(try server.receivedEvents().count == 3)
    }

    @Test func oversizedAndMalformedBodiesAreRefused() throws {
        let server = try makeServer(limits: IngestLimits(webhookBodyBytes: 2048))
        let big = bytes(#"{"type":"identify","userId":"u","traits":{"x":""# + String(repeating: "a", count: 4096) + #""}}"#)
        #expect(try server.post("/webhook", big).status == 413)
        let notJSON = try server.post("/webhook", bytes("{nope"))
        #expect(notJSON.status == 400)
        #expect(notJSON.json?["error"]?.stringValue?.contains("byte 1") == true)
        #expect(try server.post("/webhook", bytes(#""a string""#)).status == 400)
        #expect(try server.post("/v1/batch", bytes(#"[{"type":"identify","userId":"u"}]"#)).status == 400)
        #expect(try server.receivedEvents().isEmpty)
    }

    @Test func invalidEventsAreListedRecordedAndTheRestAccepted() throws {
        let server = try makeServer()
        let body = bytes(#"[{"type":"identify","userId":"u1","messageId":"a"},{"type":"identify","messageId":"b"},"x",{"type":"track","userId":"u","messageId":"c"}]"#)
        let response = try server.post("/webhook", body)
        #expect(response.status == 200)
        #expect(response.json?["accepted"] == 1)
        #expect(response.json?["rejected"]?.arrayValue?.map { $0["index"] } == [1, 2, 3])
        #expect(response.json?["rejected"]?.arrayValue?.first?["messageId"] == "b")
        let stored = try server.receivedEvents()
        #expect(stored.map(\.status) == [.accepted, .rejected, .rejected, .rejected])
        #expect(stored.map(\.messageId).first == "a")
        #expect(stored[1].rejectionReason?.contains("'userId' or an 'anonymousId'") == true)
    }

    @Test func retriedBatchesAreAcceptedAgainButNotQueuedTwice() throws {
        let server = try makeServer()
        let body = bytes(#"[{"type":"identify","userId":"u1","traits":{"a":1}},{"type":"identify","userId":"u2","messageId":"m2","traits":{}}]"#)
        #expect(try server.post("/webhook", body).json?["accepted"] == 2)
        #expect(try server.post("/webhook", body).json?["accepted"] == 2)
        let stored = try server.receivedEvents()
        #expect(stored.map(\.status) == [.accepted, .accepted, .duplicate, .duplicate])
        #expect(stored[0].messageId == stored[2].messageId, "derived messageIds are stable across retries")
        #expect(try server.store.stats().queueDepth == 2)
    }

    @Test func fullQueueGets503WithRetryAfterAndStoresNothing() throws {
        let server = try makeServer(maxQueueDepth: 1)
        let response = try server.post("/webhook", bytes(#"[{"type":"identify","userId":"u1","traits":{}},{"type":"identify","userId":"u2","traits":{}}]"#))
        #expect(response.status == 503)
        #expect(response.header("Retry-After").flatMap(Int.init) ?? 0 > 0)
        #expect(response.json?["success"] == false)
        #expect(response.json?["error"]?.stringValue?.contains("unfinished jobs") == true)
        #expect(try server.receivedEvents().isEmpty)
        // Events that create no jobs do not fill the queue.
        #expect(try server.post("/webhook", Samples.track).status == 200)
    }

    @Test func trackingBatchOverSegmentsSizeLimitGets413() throws {
        let server = try makeServer()
        let event = #"{"type":"track","userId":"u","event":"E","properties":{"x":""# + String(repeating: "a", count: 20_000) + #""}}"#
        let body = bytes(#"{"batch":["# + Array(repeating: event, count: 30).joined(separator: ",") + "]}")
        #expect(body.count > 500 * 1024)
        let response = try server.post("/v1/batch", body)
        #expect(response.status == 413)
        #expect(try server.receivedEvents().isEmpty)
    }

    @Test func concurrentRequestsAreAllStoredOnce() throws {
        let server = try makeServer()
        let requestCount = 24
        let failures = FailureCounter()
        let client = server.client
        DispatchQueue.concurrentPerform(iterations: requestCount) { index in
            let body = bytes(#"[{"type":"identify","userId":"u\#(index)","messageId":"c-\#(index)-a","traits":{"n":\#(index)}},{"type":"track","userId":"u\#(index)","event":"E","messageId":"c-\#(index)-b"}]"#)
            let response = try? client.post("/webhook", body: body)
            if response?.status != 200 || (response?.json?["accepted"]) != 2 { failures.increment() }
        }
        #expect(failures.value == 0)
        let stored = try server.receivedEvents()
        #expect(stored.count == requestCount * 2)
        #expect(Set(stored.compactMap(\.messageId)).count == requestCount * 2)
        #expect(try server.store.stats().queueDepth == requestCount, "one job per identify")
    }

    @Test func otherMethodsGet405() throws {
        let server = try makeServer()
        #expect(try server.client.send(method: "GET", path: "/webhook").status == 405)
    }
}

final class FailureCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return subsequence.isEmpty }
        return (0...(count - subsequence.count)).contains { self[$0..<$0 + subsequence.count].elementsEqual(subsequence) }
    }
}
