import HTTPServer
import JSONKit
import Testing
@testable import SegmentIngest

@Suite struct BodyShapeTests {
    let processor = IngestRequestProcessor(configuration: IngestConfiguration())

    func process(_ route: IngestRoute, _ body: [UInt8]) throws(IngestFailure) -> IngestBatch {
        try processor.process(route: route, headers: HTTPHeaders(), body: body)
    }

    @Test func webhookTakesOneEventObject() throws {
        let batch = try process(.webhook, Samples.identify)
        #expect(batch.events.map(\.index) == [0])
        #expect(batch.events[0].type == .identify)
        #expect(batch.rejections.isEmpty)
    }

    @Test func webhookTakesAnArrayOfEvents() throws {
        let batch = try process(.webhook, Samples.webhookActionsBatch)
        #expect(batch.events.map(\.messageId) == [
            "ajs-next-8b8d5e7e2c1f4c0b9f1c6a3a6b7c8d9e", "ajs-anon-0001", "personas_2kXyzAudienceEnteredIdentify",
        ])
        #expect(batch.events.map(\.anonymousId) == ["507f191e810c19729de860ea", "anon-7f3c", nil])
    }

    @Test func webhookTakesABatchObject() throws {
        let batch = try process(.webhook, Samples.trackingApiBatch)
        #expect(batch.events.map(\.type) == [.identify, .track, .identify])
    }

    @Test func unchangedEventsKeepTheirBytesAndKeyOrder() throws {
        let batch = try process(.webhook, Samples.track)
        let original = try json(Samples.track)
        #expect(batch.events[0].event == original.objectValue)
        #expect(batch.events[0].json == JSONSerializer.serialize(original))
    }

    @Test func trackingBatchAppliesTheBatchContextAndSentAt() throws {
        let batch = try process(.trackingBatch, Samples.trackingApiBatch)
        #expect(batch.events.count == 3)
        let libraries = batch.events.map { JSONValue.object($0.event)["context"]?["library"]?["name"]?.stringValue }
        // Events' own context keys win; an event without context gets the batch's.
        #expect(libraries == ["analytics.js", "analytics-node", "analytics-python"])
        #expect(batch.events[1].event["context"]?["ip"] == nil)
        #expect(batch.events[2].event["sentAt"] == "2026-11-28T10:06:01.000Z")
        #expect(batch.events[0].event["sentAt"] == "2026-11-28T10:00:00.301Z")
        #expect(try json(batch.events[2].json) == .object(batch.events[2].event))
    }

    @Test func batchContextFillsOnlyMissingKeys() throws {
        let body = bytes(#"{"batch":[{"type":"track","userId":"u","event":"E","messageId":"m","context":{"ip":"1.1.1.1"}}],"context":{"ip":"9.9.9.9","locale":"de-DE"},"integrations":{"All":false}}"#)
        let event = try process(.trackingBatch, body).events[0].event
        #expect(event["context"] == ["ip": "1.1.1.1", "locale": "de-DE"])
        #expect(event["integrations"] == ["All": false])
    }

    @Test func singleCallTakesItsTypeFromThePath() throws {
        let batch = try process(.trackingCall(.track), bytes(#"{"userId":"u1","event":"Signed Up","type":"identify"}"#))
        #expect(batch.events[0].type == .track)
        #expect(batch.events[0].event["type"] == "track")
        let page = try process(.trackingCall(.page), bytes(#"{"anonymousId":"a1","name":"Home"}"#))
        #expect(page.events[0].event["type"] == "page")
    }

    @Test func routesAreFoundByPath() {
        #expect(IngestRoute(path: "/") == .webhook)
        #expect(IngestRoute(path: "/webhook") == .webhook)
        #expect(IngestRoute(path: "/v1/batch") == .trackingBatch)
        #expect(IngestRoute(path: "/v1/identify") == .trackingCall(.identify))
        #expect(IngestRoute(path: "/v1/alias") == .trackingCall(.alias))
        #expect(IngestRoute(path: "/v1/t") == .trackingCall(.track))
        #expect(IngestRoute(path: "/v1/nope") == nil)
    }

    @Test func routeLimitsFollowSegment() {
        let limits = IngestLimits(webhookBodyBytes: 1234)
        #expect(limits.bodyLimit(for: .webhook) == 1234)
        #expect(limits.bodyLimit(for: .trackingBatch) == 512_000)
        #expect(limits.bodyLimit(for: .trackingCall(.identify)) == 32_768)
    }

    @Test func singleCallOverItsLimitGets413() {
        let big = #"{"userId":"u","traits":{"x":""# + String(repeating: "a", count: 33_000) + #""}}"#
        #expect(failure { try process(.trackingCall(.identify), bytes(big)) }?.status.code == 413)
    }

    @Test func nonJSONBodyGets400WithTheOffset() {
        let error = failure { try process(.webhook, bytes(#"{"type":"identify","userId":}"#)) }
        #expect(error?.status.code == 400)
        #expect(error?.message.contains("not valid JSON") == true)
        #expect(error?.message.contains("byte 28") == true)
    }

    @Test(arguments: [#""just a string""#, "42", "null", "true"])
    func scalarTopLevelGets400(body: String) {
        let error = failure { try process(.webhook, bytes(body)) }
        #expect(error?.status.code == 400)
        #expect(error?.message.contains("{\"batch\": [...]}") == true)
    }

    @Test func batchMemberMustBeAnArray() {
        #expect(failure { try process(.webhook, bytes(#"{"batch":{"type":"identify"}}"#)) }?.status.code == 400)
        #expect(failure { try process(.trackingBatch, bytes(#"{"batch":5}"#)) }?.status.code == 400)
    }

    @Test func trackingBatchNeedsTheBatchObject() {
        #expect(failure { try process(.trackingBatch, Samples.webhookActionsBatch) }?.status.code == 400)
        #expect(failure { try process(.trackingBatch, Samples.identify) }?.status.code == 400)
        #expect(failure { try process(.trackingCall(.identify), Samples.webhookActionsBatch) }?.status.code == 400)
    }

    @Test func nonObjectElementsAreRejectedOneByOne() throws {
        let batch = try process(.webhook, bytes(#"[{"type":"identify","userId":"u1"},"oops",7,{"type":"track","userId":"u2","event":"E"}]"#))
        #expect(batch.events.map(\.index) == [0, 3])
        #expect(batch.rejections.map(\.index) == [1, 2])
        #expect(batch.rejections[0].error.contains("a string, not an event"))
        #expect(batch.rejections[0].messageId.hasPrefix("atd-"))
    }

    @Test func emptyArrayAcceptsNothing() throws {
        let batch = try process(.webhook, bytes("[]"))
        #expect(batch.events.isEmpty && batch.rejections.isEmpty)
    }

    @Test func trackingBatchOverTheEventLimitRejectsTheSurplus() throws {
        let processor = IngestRequestProcessor(
            configuration: IngestConfiguration(limits: IngestLimits(trackingBatchEvents: 3)))
        let events = (0..<5).map { #"{"type":"track","userId":"u","event":"E","messageId":"m\#($0)"}"# }
        let body = bytes(#"{"batch":["# + events.joined(separator: ",") + "]}")
        let batch = try processor.process(route: .trackingBatch, headers: HTTPHeaders(), body: body)
        #expect(batch.events.map(\.messageId) == ["m0", "m1", "m2"])
        #expect(batch.rejections.map(\.index) == [3, 4])
        #expect(batch.rejections.map(\.messageId) == ["m3", "m4"])
        #expect(batch.rejections[0].error.contains("another batch"))
        // Webhook bodies are bounded by bytes only.
        let webhook = try processor.process(route: .webhook, headers: HTTPHeaders(), body: body)
        #expect(webhook.events.count == 5)
    }

    @Test func eventSizeLimitDependsOnTheRoute() throws {
        let processor = IngestRequestProcessor(
            configuration: IngestConfiguration(limits: IngestLimits(eventBytes: 100, trackingCallBytes: 200)))
        let event = #"{"type":"identify","userId":"u","messageId":"m","traits":{"bio":""# + String(repeating: "x", count: 100) + #""}}"#
        let webhook = try processor.process(route: .webhook, headers: HTTPHeaders(), body: bytes(event))
        #expect(webhook.rejections.map(\.messageId) == ["m"])
        let tracking = try processor.process(route: .trackingBatch, headers: HTTPHeaders(), body: bytes(#"{"batch":["# + event + "]}"))
        #expect(tracking.events.map(\.messageId) == ["m"])
    }

    @Test func defaultTrackingBatchLimitIs2500Events() throws {
        let event = #"{"type":"track","userId":"u","event":"E"}"#
        let body = bytes(#"{"batch":["# + Array(repeating: event, count: 2_501).joined(separator: ",") + "]}")
        let batch = try processor.process(route: .trackingBatch, headers: HTTPHeaders(), body: body)
        #expect(batch.events.count == 2_500)
        #expect(batch.rejections.map(\.index) == [2_500])
    }
}
