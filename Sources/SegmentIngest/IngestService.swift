import Foundation
import HTTPServer
import JSONKit
import Logging
import Metrics

/// An event accepted by ingest, with what the mappings in force made of it.
public struct PlannedEvent: Sendable, Equatable {
    public var event: IngestEvent
    public var plan: DeliveryPlan

    public init(event: IngestEvent, plan: DeliveryPlan) {
        self.event = event
        self.plan = plan
    }
}

/// One request's worth of work for the store: events to keep (and deliver) and rejections to
/// record. Order is request order.
public struct IngestSubmission: Sendable, Equatable {
    public var route: IngestRoute
    public var events: [PlannedEvent]
    public var rejections: [EventRejection]

    public init(route: IngestRoute, events: [PlannedEvent], rejections: [EventRejection]) {
        self.route = route
        self.events = events
        self.rejections = rejections
    }
}

/// The store's answer for one event of a submission.
public enum IngestEventReceipt: Sendable, Equatable {
    /// Stored durably for the first time.
    case stored
    /// Its `messageId` was seen within the dedup window: accepted again, not delivered twice.
    case duplicate
    /// Refused by the store on its own (the rest of the batch goes on), with the reason.
    case refused(String)
}

/// Why a whole submission could not be stored; nothing of it was kept.
public enum IngestStoreError: Error, Sendable, Equatable {
    /// Queue at capacity or disk (nearly) full: 503 with `Retry-After`.
    case atCapacity(reason: String, retryAfterSeconds: Int)
    /// Any other failure to commit: 503 too, since Segment retries 5xx and the data is not lost.
    case failed(reason: String)
}

/// What the answer to a stored submission and its metrics need: each event's position and
/// `messageId`, and the rejections without the elements they quote.
struct SubmissionSummary: Sendable {
    struct Event: Sendable {
        var index: Int
        var messageId: String
    }

    var events: [Event]
    var rejections: [EventRejection]

    init(_ submission: IngestSubmission) {
        events = submission.events.map { Event(index: $0.event.index, messageId: $0.event.messageId) }
        rejections = submission.rejections.map { rejection in
            var light = rejection
            light.value = .null
            return light
        }
    }
}

/// Where ingest puts accepted events: the durable store, in production.
public protocol IngestEventSink: Sendable {
    /// Stores the submission and calls `completion` once, from any thread, only after the
    /// events are durable (fsync'd). Receipts are one per event, in submission order.
    func store(
        _ submission: IngestSubmission,
        completion: @escaping @Sendable (Result<[IngestEventReceipt], IngestStoreError>) -> Void)
}

/// The ingest endpoints: decode, authenticate, validate, map, store, and answer after fsync.
public struct IngestService: Sendable {
    public let processor: IngestRequestProcessor
    private let mappings: any MappingProvider
    private let sink: any IngestEventSink
    private let logger: Logger
    private let metrics = IngestMetrics()

    public init(
        configuration: IngestConfiguration, mappings: any MappingProvider, sink: any IngestEventSink, logger: Logger
    ) {
        processor = IngestRequestProcessor(configuration: configuration)
        self.mappings = mappings
        self.sink = sink
        self.logger = logger
    }

    public func handle(_ request: HTTPRequest, route: IngestRoute, writer: HTTPResponseWriter) {
        let batch: IngestBatch
        do {
            batch = try processor.process(route: route, headers: request.headers, body: request.body)
        } catch {
            logger.notice("ingest request refused", metadata: [
                "path": "\(request.path)", "status": "\(error.status.code)", "reason": "\(error.message)",
                "remote": "\(request.remoteAddress)",
            ])
            metrics.requests(path: request.path, status: error.status.code)
            writer.send(error.response)
            return
        }

        let mappingsInForce = mappings.currentMappings
        var planned: [PlannedEvent] = []
        planned.reserveCapacity(batch.events.count)
        for event in batch.events {
            planned.append(PlannedEvent(event: event, plan: DeliveryPlanner.plan(.object(event.event), mappings: mappingsInForce)))
        }
        if planned.isEmpty && batch.rejections.isEmpty {
            metrics.requests(path: request.path, status: 200)
            writer.send(IngestAnswer.success(accepted: 0, rejected: []))
            return
        }
        let submission = IngestSubmission(route: route, events: planned, rejections: batch.rejections)
        // The completion keeps only what the answer needs: it runs on the store's single writer
        // thread, which would otherwise also free every event's parsed tree (a fifth of its
        // work, per callgrind) while the next group waits.
        let summary = SubmissionSummary(submission)

        let logger = self.logger
        let metrics = self.metrics
        let path = request.path
        sink.store(submission) { result in
            switch result {
            case .success(let receipts):
                let response = Self.answer(for: summary, receipts: receipts)
                metrics.stored(summary: summary, receipts: receipts)
                metrics.requests(path: path, status: response.status.code)
                writer.send(response)
            case .failure(let error):
                let failure = Self.failure(for: error)
                logger.warning("ingest batch not stored", metadata: [
                    "path": "\(path)", "events": "\(summary.events.count)", "reason": "\(failure.message)",
                ])
                metrics.requests(path: path, status: failure.status.code)
                writer.send(failure.response)
            }
        }
    }

    static func answer(for submission: IngestSubmission, receipts: [IngestEventReceipt]) -> HTTPResponse {
        answer(for: SubmissionSummary(submission), receipts: receipts)
    }

    static func answer(for summary: SubmissionSummary, receipts: [IngestEventReceipt]) -> HTTPResponse {
        guard receipts.count == summary.events.count else {
            // A receipt list that does not line up cannot say which events are safe: let the
            // sender retry the whole request (dedup makes that harmless).
            return failure(for: .failed(reason: "the store answered \(receipts.count) receipts for \(summary.events.count) events"))
                .response
        }
        var accepted = 0
        var rejected = summary.rejections
        for (event, receipt) in zip(summary.events, receipts) {
            switch receipt {
            case .stored, .duplicate:
                accepted += 1
            case .refused(let reason):
                rejected.append(EventRejection(
                    index: event.index, messageId: event.messageId, error: reason, value: .null, reason: .storeRefused))
            }
        }
        if rejected.isEmpty { return IngestAnswer.success(accepted: accepted, rejected: []) }
        rejected.sort { $0.index < $1.index }
        return IngestAnswer.success(accepted: accepted, rejected: rejected)
    }

    static func failure(for error: IngestStoreError) -> IngestFailure {
        switch error {
        case .atCapacity(let reason, let retryAfterSeconds):
            return .serviceUnavailable(
                "\(reason); nothing of this request was stored; retry after \(retryAfterSeconds) seconds",
                retryAfterSeconds: retryAfterSeconds)
        case .failed(let reason):
            return .serviceUnavailable(
                "the events could not be stored (\(reason)); nothing of this request was kept; retry later",
                retryAfterSeconds: 5)
        }
    }
}

/// Registers the ingest endpoints on the app's router.
public enum IngestRoutes {
    public static func register(on router: inout Router, service: IngestService) {
        let limits = service.processor.limits
        for (path, route) in IngestRoute.pathsByRoute {
            // The router refuses an oversized upload from its head; gzip bodies are capped again
            // after inflation.
            router.add(.POST, path, maxBodyBytes: limits.bodyLimit(for: route)) { request, writer in
                service.handle(request, route: route, writer: writer)
            }
        }
    }
}

/// The ingest counters, each made on first use (as before, so they register with whatever
/// metrics system is bootstrapped by then) and kept: building a `Counter` asks the metrics
/// factory (a registry lookup under its lock) every time, and the answers are sent from the
/// store's single writer thread, where every request's cost delays the next group commit.
final class IngestMetrics: @unchecked Sendable {
    private let lock = NSLock()
    /// Guarded by `lock`.
    private var counters: [CounterKey: Counter] = [:]

    private struct CounterKey: Hashable {
        var label: String
        var name: String
        var value: String
        var status: Int
    }

    private func counter(_ label: String, _ dimensions: [(String, String)], key: CounterKey) -> Counter {
        lock.lock()
        defer { lock.unlock() }
        if let counter = counters[key] { return counter }
        let counter = Counter(label: label, dimensions: dimensions)
        counters[key] = counter
        return counter
    }

    func requests(path: String, status: Int) {
        counter("segment_ingest_requests_total", [("path", path), ("status", String(status))],
                key: CounterKey(label: "requests", name: "path", value: path, status: status)).increment()
    }

    func stored(summary: SubmissionSummary, receipts: [IngestEventReceipt]) {
        var stored = 0
        var duplicates = 0
        var refused = summary.rejections.count
        for receipt in receipts {
            switch receipt {
            case .stored: stored += 1
            case .duplicate: duplicates += 1
            case .refused: refused += 1
            }
        }
        for (outcome, count) in [("stored", stored), ("duplicate", duplicates), ("rejected", refused)] {
            counter("segment_ingest_events_total", [("outcome", outcome)],
                    key: CounterKey(label: "events", name: "outcome", value: outcome, status: 0)).increment(by: count)
        }
        var byReason: [RejectionReason: Int] = [:]
        for rejection in summary.rejections { byReason[rejection.reason, default: 0] += 1 }
        let storeRefusals = refused - summary.rejections.count
        if storeRefusals > 0 { byReason[.storeRefused, default: 0] += storeRefusals }
        for (reason, count) in byReason {
            counter("segment_ingest_rejected_total", [("reason", reason.rawValue)],
                    key: CounterKey(label: "rejected", name: "reason", value: reason.rawValue, status: 0)).increment(by: count)
        }
    }
}
