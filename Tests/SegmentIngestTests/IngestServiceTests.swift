import Foundation
import HTTPServer
import JSONKit
import Logging
import Testing
@testable import SegmentIngest

/// An in-memory sink with the store's contract: dedup by messageId, completion on another thread.
final class RecordingSink: IngestEventSink, @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private(set) var submissions: [IngestSubmission] = []
    var capacityError: IngestStoreError?
    var refuseMessageIds: Set<String> = []

    func store(
        _ submission: IngestSubmission,
        completion: @escaping @Sendable (Result<[IngestEventReceipt], IngestStoreError>) -> Void
    ) {
        lock.lock()
        if let capacityError {
            lock.unlock()
            DispatchQueue.global().async { completion(.failure(capacityError)) }
            return
        }
        submissions.append(submission)
        let receipts = submission.events.map { planned -> IngestEventReceipt in
            let id = planned.event.messageId
            if refuseMessageIds.contains(id) { return .refused("the store refused \(id)") }
            return seen.insert(id).inserted ? .stored : .duplicate
        }
        lock.unlock()
        DispatchQueue.global().async { completion(.success(receipts)) }
    }

    var storedSubmissions: [IngestSubmission] {
        lock.lock()
        defer { lock.unlock() }
        return submissions
    }
}

struct ServiceHarness {
    let sink = RecordingSink()
    let service: IngestService

    init(configuration: IngestConfiguration = IngestConfiguration()) {
        service = IngestService(
            configuration: configuration, mappings: MappingSet(), sink: sink, logger: Logger(label: "test"))
    }

    func post(_ path: String, _ body: [UInt8], headers: HTTPHeaders = HTTPHeaders()) async -> HTTPResponse {
        let request = HTTPRequest(method: .POST, target: path, headers: headers, body: body)
        let route = IngestRoute(path: path)!
        return await withCheckedContinuation { continuation in
            service.handle(request, route: route, writer: HTTPResponseWriter { continuation.resume(returning: $0) })
        }
    }
}

@Suite struct IngestServiceTests {
    @Test func acceptedEventsAreStoredAndCounted() async throws {
        let harness = ServiceHarness()
        let response = await harness.post("/webhook", Samples.webhookActionsBatch)
        #expect(response.status.code == 200)
        #expect(try json(response.body) == ["success": true, "accepted": 3, "rejected": []])
        #expect(harness.sink.storedSubmissions.first?.events.count == 3)
    }

    @Test func duplicatesAreAcceptedAgain() async throws {
        let harness = ServiceHarness()
        _ = await harness.post("/v1/batch", Samples.trackingApiBatch)
        let again = await harness.post("/v1/batch", Samples.trackingApiBatch)
        #expect(try json(again.body)["accepted"] == 3)
    }

    @Test func rejectionsAreAnsweredAndRecorded() async throws {
        let harness = ServiceHarness()
        let body = bytes(#"[{"type":"identify","userId":"u1","messageId":"ok-1"},{"type":"identify","messageId":"bad-1"},7]"#)
        let response = await harness.post("/", body)
        let answer = try json(response.body)
        #expect(answer["accepted"] == 1)
        #expect(answer["rejected"]?.arrayValue?.map { $0["index"] } == [1, 2])
        #expect(answer["rejected"]?.arrayValue?.first?["messageId"] == "bad-1")
        #expect(harness.sink.storedSubmissions.first?.rejections.count == 2)
    }

    @Test func storeRefusalsJoinTheRejections() async throws {
        let harness = ServiceHarness()
        harness.sink.refuseMessageIds = ["ajs-anon-0001"]
        let answer = try json(await harness.post("/webhook", Samples.webhookActionsBatch).body)
        #expect(answer["accepted"] == 2)
        #expect(answer["rejected"]?.arrayValue?.first?["index"] == 1)
        #expect(answer["rejected"]?.arrayValue?.first?["error"] == "the store refused ajs-anon-0001")
    }

    @Test func capacityGets503WithRetryAfter() async throws {
        let harness = ServiceHarness()
        harness.sink.capacityError = .atCapacity(reason: "the delivery queue is at capacity", retryAfterSeconds: 30)
        let response = await harness.post("/v1/track", bytes(#"{"userId":"u","event":"E"}"#))
        #expect(response.status.code == 503)
        #expect(response.headers["Retry-After"] == "30")
        #expect(try json(response.body)["success"] == false)
        #expect(try json(response.body)["error"]?.stringValue?.contains("at capacity") == true)
    }

    @Test func refusedRequestsNeverReachTheStore() async throws {
        let harness = ServiceHarness(configuration: IngestConfiguration(sharedSecret: "s", writeKeys: ["k"]))
        #expect(await harness.post("/webhook", Samples.identify).status.code == 401)
        #expect(await harness.post("/v1/identify", Samples.identify).status.code == 401)
        let gzipped = await harness.post(
            "/webhook", Samples.identify, headers: headers(("Content-Encoding", "br")))
        #expect(gzipped.status.code == 415)
        #expect(harness.sink.storedSubmissions.isEmpty)
    }

    @Test func emptyBatchIsAnsweredWithoutTheStore() async throws {
        let harness = ServiceHarness()
        let response = await harness.post("/webhook", bytes("[]"))
        #expect(try json(response.body) == ["success": true, "accepted": 0, "rejected": []])
        #expect(harness.sink.storedSubmissions.isEmpty)
    }

    @Test func misalignedReceiptsAreTreatedAsAFailure() {
        let event = IngestEvent(
            index: 0, messageId: "m", type: .identify, userId: "u", anonymousId: nil, event: JSONObject(), json: [])
        let submission = IngestSubmission(
            route: .webhook, events: [PlannedEvent(event: event, plan: DeliveryPlan())], rejections: [])
        #expect(IngestService.answer(for: submission, receipts: []).status.code == 503)
    }
}
