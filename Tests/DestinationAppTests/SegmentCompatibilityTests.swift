import Foundation
import JSONKit
import Testing

/// Segment's SDKs and webhooks pointed at the real process (§3).
@Suite("Segment SDK and webhook compatibility of serve")
struct SegmentCompatibilityTests {
    static let writeKey = SegmentFixtures.randomSecret("wk-")
    static let sharedSecret = SegmentFixtures.randomSecret("ss-")

    static func start(_ scratch: TemporaryDirectory) throws -> ServeProcess {
        try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch,
            environment: ["SEGMENT_WRITE_KEYS": "other-key,\(writeKey)", "SEGMENT_SHARED_SECRET": sharedSecret])
    }

    @Test("/v1/batch with the SDK sample body and HTTP Basic write-key auth stores every event")
    func trackingAPIBatch() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        let body = try SegmentFixtures.sample("tracking-api-batch.json")
        let headers = [("Content-Type", "application/json"), SegmentFixtures.basicAuthorization(writeKey: Self.writeKey)]

        let unauthenticated = try serve.client.send("POST", "/v1/batch", headers: [("Content-Type", "application/json")], body: body)
        #expect(unauthenticated.status == 401, "\(unauthenticated)")
        let wrongKey = try serve.client.send(
            "POST", "/v1/batch", headers: [SegmentFixtures.basicAuthorization(writeKey: "wk-not-the-key")], body: body)
        #expect(wrongKey.status == 401, "\(wrongKey)")

        let answer = try serve.client.send("POST", "/v1/batch", headers: headers, body: body)
        #expect(answer.status == 200, "\(answer)")
        #expect(answer.json["success"] == .bool(true), "\(answer)")
        #expect(answer.json["accepted"]?.numberValue == 3, "\(answer)")
        #expect(answer.json["rejected"]?.arrayValue?.isEmpty == true, "\(answer)")

        #expect(serve.terminate() == .success, "log:\n\(serve.log)")
        let stored = try CrashRecoveryTests.storedMessageIdCounts(dataDirectory: serve.dataDirectory)
        for id in ["ajs-next-8b8d5e7e2c1f4c0b9f1c6a3a6b7c8d9e", "node-next-1a2b3c4d5e6f", "ajs-anon-0001"] {
            #expect(stored[id] == 1, "\(id) is not stored once: \(stored)")
        }
        #expect(stored.count == 3, "the refused requests stored something: \(stored)")
    }

    @Test("/v1/identify single call: Basic auth, or writeKey in the body; the path gives the type")
    func trackingAPISingleCall() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        let call = #"{"userId":"single-user","messageId":"single-1","traits":{"plan":"pro"},"timestamp":"2026-11-28T10:00:00.000Z"}"#
        let basic = try serve.client.post("/v1/identify", json: call, headers: [SegmentFixtures.basicAuthorization(writeKey: Self.writeKey)])
        #expect(basic.status == 200, "\(basic)")
        #expect(basic.json["accepted"]?.numberValue == 1, "\(basic)")

        let bodyKey = #"{"writeKey":"\#(Self.writeKey)","userId":"single-user","messageId":"single-2","traits":{"plan":"pro"}}"#
        let inBody = try serve.client.post("/v1/identify", json: bodyKey)
        #expect(inBody.status == 200 && inBody.json["accepted"]?.numberValue == 1, "\(inBody)")
        let none = try serve.client.post("/v1/identify", json: #"{"userId":"single-user","messageId":"single-3","traits":{}}"#)
        #expect(none.status == 401, "\(none)")

        #expect(serve.terminate() == .success)
        let stored = try CrashRecoveryTests.storedMessageIdCounts(dataDirectory: serve.dataDirectory)
        #expect(stored["single-1"] == 1 && stored["single-2"] == 1 && stored["single-3"] == nil, "\(stored)")
    }

    @Test("gzip bodies: /v1/batch and a signed /webhook (signature over the inflated body); other encodings 415")
    func gzipBodies() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        let batch = Array(#"{"batch":[\#(SegmentFixtures.identify(messageId: "gz-1", userId: "gz-user")),\#(SegmentFixtures.track(messageId: "gz-2", userId: "gz-user"))]}"#.utf8)
        let compressedBatch = try gzipped(batch)
        let batchAnswer = try serve.client.send(
            "POST", "/v1/batch",
            headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip"), SegmentFixtures.basicAuthorization(writeKey: Self.writeKey)],
            body: compressedBatch)
        #expect(batchAnswer.status == 200 && batchAnswer.json["accepted"]?.numberValue == 2, "\(batchAnswer)")

        let event = Array(SegmentFixtures.identify(messageId: "gz-3", userId: "gz-user").utf8)
        let compressedEvent = try gzipped(event)
        let signed = try serve.client.send(
            "POST", "/webhook",
            headers: [("Content-Encoding", "gzip"), SegmentFixtures.signature(event, secret: Self.sharedSecret)], body: compressedEvent)
        #expect(signed.status == 200 && signed.json["accepted"]?.numberValue == 1, "\(signed)")

        let signedOverCompressed = try serve.client.send(
            "POST", "/webhook",
            headers: [("Content-Encoding", "gzip"), SegmentFixtures.signature(compressedEvent, secret: Self.sharedSecret)],
            body: compressedEvent)
        #expect(signedOverCompressed.status == 401, "\(signedOverCompressed)")
        let unsigned = try serve.client.send("POST", "/webhook", headers: [("Content-Encoding", "gzip")], body: compressedEvent)
        #expect(unsigned.status == 401, "\(unsigned)")
        let brotli = try serve.client.send(
            "POST", "/v1/batch", headers: [("Content-Encoding", "br"), SegmentFixtures.basicAuthorization(writeKey: Self.writeKey)],
            body: compressedBatch)
        #expect(brotli.status == 415, "\(brotli)")

        #expect(serve.terminate() == .success)
        let stored = try CrashRecoveryTests.storedMessageIdCounts(dataDirectory: serve.dataDirectory)
        #expect(stored == ["gz-1": 1, "gz-2": 1, "gz-3": 1], "\(stored)")
    }

    @Test("a Webhooks (Actions) batch signed over its first event, as Segment signs it, is accepted")
    func webhookActionsBatchSignedOverFirstEvent() throws {
        let scratch = try TemporaryDirectory()
        let serve = try Self.start(scratch)
        defer { serve.terminate() }
        let body = try SegmentFixtures.sample("webhook-actions-batch.json")
        let events = try #require(try JSONParser().parse(body).arrayValue)
        // JSON.stringify of the first event: compact, keys in their order.
        let firstEvent = JSONSerializer.serialize(events[0])
        let answer = try serve.client.send(
            "POST", "/webhook", headers: [("Content-Type", "application/json"), SegmentFixtures.signature(firstEvent, secret: Self.sharedSecret)],
            body: body)
        #expect(answer.status == 200, "\(answer)")
        #expect(answer.json["accepted"]?.numberValue == Double(events.count), "\(answer)")
        let whole = try serve.client.send(
            "POST", "/webhook", headers: [SegmentFixtures.signature(body, secret: Self.sharedSecret)], body: body)
        #expect(whole.status == 200, "\(whole)")
    }
}
