import HTTPServer
import JSONKit
import Testing
@testable import SegmentIngest

/// Events whose bytes in the request are already compact canonical JSON are stored as those
/// bytes; whatever path an event takes, what is stored is `JSON.stringify` of the event.
@Suite struct CompactBytesTests {
    let processor = IngestRequestProcessor(configuration: IngestConfiguration())

    private func compact(_ sample: [UInt8]) throws -> [UInt8] {
        JSONSerializer.serialize(try JSONParser().parse(sample))
    }

    private func expectStoredBytesAreStringify(_ batch: IngestBatch) {
        for event in batch.events {
            #expect(event.json == JSONSerializer.serialize(.object(event.event)))
        }
    }

    @Test func compactBatchElementsKeepTheirOwnBytes() throws {
        let first = try compact(Samples.identify)
        let second = try compact(Samples.track)
        let body = Array("[".utf8) + first + Array(",".utf8) + second + Array("]".utf8)
        let decoded = try processor.decoder.decode(route: .webhook, headers: HTTPHeaders(), body: body)
        #expect(decoded.candidates.map { $0.compactJSON.map(Array.init) } == [first, second])
        let batch = processor.validate(decoded)
        #expect(batch.events.map(\.json) == [first, second])
        expectStoredBytesAreStringify(batch)
    }

    @Test func prettyOrEscapedElementsAreSerialisedAgain() throws {
        let escaped = #"{"type":"track","event":"Caf\u00e9 \/ Bar","userId":"u1","messageId":"m1","n":1.50}"#
        let body = Array("[\n  ".utf8) + Samples.identify + Array(",\(escaped)]".utf8)
        let decoded = try processor.decoder.decode(route: .webhook, headers: HTTPHeaders(), body: body)
        #expect(decoded.candidates.map { $0.compactJSON == nil } == [true, true])
        let batch = processor.validate(decoded)
        #expect(batch.events.count == 2)
        #expect(batch.events[1].json == Array(#"{"type":"track","event":"Café / Bar","userId":"u1","messageId":"m1","n":1.5}"#.utf8))
        expectStoredBytesAreStringify(batch)
    }

    @Test func aSingleCompactEventIsTheWholeBody() throws {
        let body = try compact(Samples.identify)
        let decoded = try processor.decoder.decode(route: .webhook, headers: HTTPHeaders(), body: body)
        #expect(decoded.candidates.first?.compactJSON.map(Array.init) == body)
        let call = try processor.decoder.decode(route: .trackingCall(.identify), headers: HTTPHeaders(), body: body)
        #expect(call.candidates.first?.compactJSON.map(Array.init) == body)
    }

    @Test func aSingleCallWithABatchMemberIsStillOneEvent() throws {
        let body = Array(#"{"type":"identify","userId":"u1","messageId":"m1","batch":[{"a":1}]}"#.utf8)
        let decoded = try processor.decoder.decode(route: .trackingCall(.identify), headers: HTTPHeaders(), body: body)
        #expect(decoded.candidates.first?.compactJSON.map(Array.init) == body)
    }

    @Test func changedEventsAreSerialisedWithTheirChanges() throws {
        let body = Array(#"[{"type":"identify","userId":42,"messageId":"m1","writeKey":"secret"},{"type":"identify","userId":"u2"}]"#.utf8)
        let batch = try processor.process(route: .webhook, headers: HTTPHeaders(), body: body)
        #expect(batch.events.count == 2)
        #expect(batch.events[0].json == Array(#"{"type":"identify","userId":"42","messageId":"m1"}"#.utf8))
        #expect(batch.events[1].messageId.hasPrefix(EventValidator.derivedMessageIdPrefix))
        expectStoredBytesAreStringify(batch)
    }

    @Test func batchSharedFieldsAreApplied() throws {
        let batch = try processor.process(route: .trackingBatch, headers: HTTPHeaders(), body: Samples.trackingApiBatch)
        #expect(!batch.events.isEmpty)
        expectStoredBytesAreStringify(batch)
    }
}
