import HTTPServer
import JSONKit

/// One element of a request body that may be an event, before validation.
public struct IncomingEventCandidate: Sendable, Equatable {
    /// Position in the request (0 for a single event), as reported in `rejected`.
    public var index: Int
    /// The element as received; not necessarily an object.
    public var value: JSONValue
    /// The element's own bytes in the request, when they are exactly `JSONSerializer`'s
    /// compact form of `value` (as Segment and most senders write events): validation then
    /// keeps them instead of serialising the event again.
    public var compactJSON: ArraySlice<UInt8>?

    public init(index: Int, value: JSONValue, compactJSON: ArraySlice<UInt8>? = nil) {
        self.index = index
        self.value = value
        self.compactJSON = compactJSON
    }
}

/// Fields a Tracking API batch states once for all its calls. Segment applies the batch's
/// `context` and `integrations` to every call in it; an event's own keys win over them.
public struct SharedBatchFields: Sendable, Equatable {
    public var context: JSONObject?
    public var integrations: JSONObject?
    public var sentAt: JSONValue?

    public init(context: JSONObject? = nil, integrations: JSONObject? = nil, sentAt: JSONValue? = nil) {
        self.context = context
        self.integrations = integrations
        self.sentAt = sentAt
    }

    public var isEmpty: Bool { context == nil && integrations == nil && sentAt == nil }
}

/// A request body taken apart: the candidates and what the batch shares.
public struct DecodedIngestRequest: Sendable, Equatable {
    public var route: IngestRoute
    public var candidates: [IncomingEventCandidate]
    public var shared: SharedBatchFields

    public init(route: IngestRoute, candidates: [IncomingEventCandidate], shared: SharedBatchFields = SharedBatchFields()) {
        self.route = route
        self.candidates = candidates
        self.shared = shared
    }
}

/// Decodes (gzip), authenticates and takes apart ingest request bodies, in that order:
/// size limits are enforced on the decoded bytes, and the signature is checked on them too.
public struct IngestRequestDecoder: Sendable {
    public let limits: IngestLimits
    private let signatureVerifier: SignatureVerifier?
    private let writeKeyAuthenticator: WriteKeyAuthenticator
    private let parser = JSONParser()

    public init(configuration: IngestConfiguration) {
        limits = configuration.limits
        if let secret = configuration.sharedSecret, !secret.isEmpty {
            signatureVerifier = SignatureVerifier(sharedSecret: secret)
        } else {
            signatureVerifier = nil
        }
        writeKeyAuthenticator = WriteKeyAuthenticator(writeKeys: configuration.writeKeys)
    }

    public func decode(route: IngestRoute, headers: HTTPHeaders, body: [UInt8]) throws(IngestFailure) -> DecodedIngestRequest {
        let bytes = try RequestBodyDecoder.decode(
            body, contentEncoding: headers["Content-Encoding"], limit: limits.bodyLimit(for: route))
        let parsed: Result<JSONValue, JSONParseError>
        var spans: JSONSpannedDocument?
        do throws(JSONParseError) {
            let document = try parser.parseWithSpans(bytes, elementsMember: "batch")
            parsed = .success(document.value)
            spans = document
        } catch {
            parsed = .failure(error)
        }

        // Authenticate before reporting anything about the body's content to the caller.
        if case .webhook = route, let signatureVerifier {
            try signatureVerifier.verify(
                header: headers[SignatureVerifier.headerName], body: bytes, parsedBody: { try? parsed.get() })
        }
        if route.isTrackingAPI, writeKeyAuthenticator.isEnabled {
            let value = try? parsed.get()
            try writeKeyAuthenticator.authenticate(
                authorization: headers["Authorization"], bodyWriteKey: value?["writeKey"]?.stringValue,
                eventWriteKeys: Self.eventWriteKeys(in: value, route: route))
        }

        let value: JSONValue
        switch parsed {
        case .success(let parsedValue): value = parsedValue
        case .failure(let error):
            throw .badRequest(
                "the body is not valid JSON: \(error.description); send \(Self.expectedShape(for: route))")
        }
        var (candidates, shared) = try Self.split(value, route: route)
        if let spans { Self.attachCompactJSON(to: &candidates, from: spans, body: bytes, route: route) }
        return DecodedIngestRequest(route: route, candidates: candidates, shared: shared)
    }

    /// Gives each candidate its bytes from the body when they are already compact canonical
    /// JSON. A single event is the whole document; the events of a batch are the spans of its
    /// elements, used only when they line up one to one with the candidates.
    private static func attachCompactJSON(
        to candidates: inout [IncomingEventCandidate], from spans: JSONSpannedDocument, body: [UInt8],
        route: IngestRoute
    ) {
        // The same reading of the body's shape as `split`.
        let isBatch: Bool
        switch (route, spans.value) {
        case (_, .array): isBatch = true
        case (.trackingCall, _): isBatch = false
        case (_, .object(let object)): isBatch = object["batch"] != nil
        default: return
        }
        if !isBatch {
            if candidates.count == 1, spans.document.isCanonical {
                candidates[0].compactJSON = body[spans.document.range]
            }
            return
        }
        guard spans.elements.count == candidates.count else { return }
        for position in candidates.indices where spans.elements[position].isCanonical {
            candidates[position].compactJSON = body[spans.elements[position].range]
        }
    }

    private static func eventWriteKeys(in value: JSONValue?, route: IngestRoute) -> [String?] {
        guard case .trackingBatch = route, let batch = value?["batch"]?.arrayValue else { return [] }
        return batch.map { $0["writeKey"]?.stringValue }
    }

    static func expectedShape(for route: IngestRoute) -> String {
        switch route {
        case .webhook: return "one Segment event object, a JSON array of events, or {\"batch\": [...]}"
        case .trackingBatch: return "a Tracking API batch: {\"batch\": [...events...]}"
        case .trackingCall(let type): return "one \(type.rawValue) call as a JSON object"
        }
    }

    private static func split(_ value: JSONValue, route: IngestRoute) throws(IngestFailure) -> (
        [IncomingEventCandidate], SharedBatchFields
    ) {
        func batchParts(_ object: JSONObject) throws(IngestFailure) -> ([IncomingEventCandidate], SharedBatchFields) {
            guard case .array(let events)? = object["batch"] else {
                throw .badRequest(
                    "'batch' is \(describe(object["batch"] ?? .null)), not an array; send {\"batch\": [...events...]}")
            }
            var shared = SharedBatchFields()
            shared.context = object["context"]?.objectValue
            shared.integrations = object["integrations"]?.objectValue
            shared.sentAt = object["sentAt"].flatMap { $0.isNull ? nil : $0 }
            return (events.enumerated().map { IncomingEventCandidate(index: $0.offset, value: $0.element) }, shared)
        }

        switch (route, value) {
        case (.webhook, .array(let events)):
            return (events.enumerated().map { IncomingEventCandidate(index: $0.offset, value: $0.element) },
                    SharedBatchFields())
        case (.webhook, .object(let object)):
            if object["batch"] != nil { return try batchParts(object) }
            return ([IncomingEventCandidate(index: 0, value: value)], SharedBatchFields())
        case (.trackingBatch, .object(let object)):
            guard object["batch"] != nil else {
                throw .badRequest("the body has no 'batch' member; send \(expectedShape(for: route))")
            }
            return try batchParts(object)
        case (.trackingCall, .object):
            return ([IncomingEventCandidate(index: 0, value: value)], SharedBatchFields())
        default:
            throw .badRequest("the body is \(describe(value)); send \(expectedShape(for: route))")
        }
    }

    static func describe(_ value: JSONValue) -> String {
        value.kindDescription
    }
}
