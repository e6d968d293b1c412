import HTTPServer
import JSONKit

/// The pure outcome of one ingest request: what to store and what to report as rejected.
public struct IngestBatch: Sendable, Equatable {
    public var route: IngestRoute
    /// Valid events in request order.
    public var events: [IngestEvent]
    /// Elements refused on their own, in request order.
    public var rejections: [EventRejection]

    public init(route: IngestRoute, events: [IngestEvent], rejections: [EventRejection]) {
        self.route = route
        self.events = events
        self.rejections = rejections
    }
}

/// Everything ingest does before touching the store: decoding, authentication, body shapes,
/// and per-event validation. Thread-safe and free of I/O.
public struct IngestRequestProcessor: Sendable {
    public let decoder: IngestRequestDecoder
    /// For webhook events: `maxEventBytes` from the config.
    public let webhookValidator: EventValidator
    /// For Tracking API calls: Segment's own 32 KB per call, whatever the config says, so a
    /// call Segment's API would take is taken here too.
    public let trackingValidator: EventValidator

    public init(configuration: IngestConfiguration) {
        decoder = IngestRequestDecoder(configuration: configuration)
        webhookValidator = EventValidator(maxEventBytes: configuration.limits.eventBytes)
        trackingValidator = EventValidator(maxEventBytes: configuration.limits.trackingCallBytes)
    }

    public var limits: IngestLimits { decoder.limits }

    /// - Throws: `IngestFailure` (400, 401, 413, 415) when the request as a whole is refused.
    public func process(route: IngestRoute, headers: HTTPHeaders, body: [UInt8]) throws(IngestFailure) -> IngestBatch {
        let decoded = try decoder.decode(route: route, headers: headers, body: body)
        return validate(decoded)
    }

    public func validate(_ decoded: DecodedIngestRequest) -> IngestBatch {
        var events: [IngestEvent] = []
        var rejections: [EventRejection] = []
        events.reserveCapacity(decoded.candidates.count)
        let eventLimit: Int? = decoded.route == .trackingBatch ? limits.trackingBatchEvents : nil
        let validator = decoded.route.isTrackingAPI ? trackingValidator : webhookValidator
        for candidate in decoded.candidates {
            if let eventLimit, candidate.index >= eventLimit {
                // Segment answers 200 for an over-long batch and drops the surplus; here each
                // surplus event is reported, so the sender can resend exactly those.
                var value = candidate.value
                if case .object(var object) = value, object.removeValue(forKey: "writeKey") != nil {
                    value = .object(object)
                }
                let messageId = value["messageId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
                    ?? EventValidator.derivedMessageId(JSONSerializer.serialize(value))
                rejections.append(EventRejection(
                    index: candidate.index, messageId: messageId,
                    error: "the batch holds \(decoded.candidates.count) events, over the limit of \(eventLimit) per batch; events from index \(eventLimit) on were not accepted; send them in another batch",
                    value: value, reason: .batchOverflow))
                continue
            }
            switch validator.validate(candidate, route: decoded.route, shared: decoded.shared) {
            case .success(let event): events.append(event)
            case .failure(let rejection): rejections.append(rejection)
            }
        }
        return IngestBatch(route: decoded.route, events: events, rejections: rejections)
    }
}

/// The JSON answers of the ingest endpoints (interface §3).
public enum IngestAnswer {
    /// 200 `{"success":true,"accepted":N,"rejected":[{"index","messageId","error"}]}`.
    public static func success(accepted: Int, rejected: [EventRejection]) -> HTTPResponse {
        HTTPResponse.json(.ok, successBody(accepted: accepted, rejected: rejected))
    }

    public static func successBody(accepted: Int, rejected: [EventRejection]) -> [UInt8] {
        if rejected.isEmpty {
            // The answer to nearly every request, written directly.
            return Array(#"{"success":true,"accepted":"#.utf8) + Array(String(accepted).utf8)
                + Array(#","rejected":[]}"#.utf8)
        }
        var body = JSONObject()
        body["success"] = true
        body["accepted"] = .number(Double(accepted))
        body["rejected"] = .array(rejected.map { rejection in
            var entry = JSONObject()
            entry["index"] = .number(Double(rejection.index))
            entry["messageId"] = .string(rejection.messageId)
            entry["error"] = .string(rejection.error)
            return .object(entry)
        })
        return JSONSerializer.serialize(.object(body))
    }

    /// `{"success":false,"error":"…"}` for the 4xx/5xx answers.
    public static func failureBody(message: String) -> [UInt8] {
        var body = JSONObject()
        body["success"] = false
        body["error"] = .string(message)
        return JSONSerializer.serialize(.object(body))
    }
}
