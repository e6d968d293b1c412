/// The six Segment call types.
public enum SegmentCallType: String, Sendable, Hashable, CaseIterable {
    case identify, track, page, screen, group, alias

    static let listForMessages = "identify, track, page, screen, group or alias"
}

/// Which ingest endpoint a request came to; it decides the body shapes, limits and auth.
public enum IngestRoute: Sendable, Hashable {
    /// `POST /` and `POST /webhook`: Segment's Webhooks destinations; `X-Signature` auth.
    case webhook
    /// `POST /v1/batch`: the Tracking API batch; write-key auth.
    case trackingBatch
    /// `POST /v1/identify` … `/v1/alias`: one Tracking API call whose type the path names.
    case trackingCall(SegmentCallType)

    /// The routes and their paths. analytics.js posts to one-letter paths (`/v1/t`, `/v1/b`…),
    /// so those are served too, so the browser SDK can be pointed here unchanged.
    public static let pathsByRoute: [(path: String, route: IngestRoute)] = {
        var table: [(String, IngestRoute)] = [("/", .webhook), ("/webhook", .webhook), ("/v1/batch", .trackingBatch),
                                              ("/v1/b", .trackingBatch)]
        for type in SegmentCallType.allCases {
            table.append(("/v1/\(type.rawValue)", .trackingCall(type)))
            table.append(("/v1/\(type.rawValue.prefix(1))", .trackingCall(type)))
        }
        return table
    }()

    public init?(path: String) {
        guard let match = Self.pathsByRoute.first(where: { $0.path == path }) else { return nil }
        self = match.route
    }

    var isTrackingAPI: Bool {
        if case .webhook = self { return false }
        return true
    }
}

/// Size limits of ingest. The `/v1/*` limits are Segment's own, so a body Segment's API would
/// take is taken here too; the webhook limits come from the config.
public struct IngestLimits: Sendable, Hashable {
    /// `server.maxBodyBytes`: `/` and `/webhook` bodies, after gzip inflation.
    public var webhookBodyBytes: Int
    /// `server.maxEventBytes`: one event, serialised compactly.
    public var eventBytes: Int
    /// Segment: 500 KB per `/v1/batch` request.
    public var trackingBatchBytes: Int
    /// Segment: 32 KB per single `/v1/<call>` request.
    public var trackingCallBytes: Int
    /// Segment: 2,500 events per `/v1/batch` request; the rest are rejected one by one.
    public var trackingBatchEvents: Int

    public init(
        webhookBodyBytes: Int = 4 * 1024 * 1024, eventBytes: Int = 32 * 1024, trackingBatchBytes: Int = 500 * 1024,
        trackingCallBytes: Int = 32 * 1024, trackingBatchEvents: Int = 2_500
    ) {
        self.webhookBodyBytes = webhookBodyBytes
        self.eventBytes = eventBytes
        self.trackingBatchBytes = trackingBatchBytes
        self.trackingCallBytes = trackingCallBytes
        self.trackingBatchEvents = trackingBatchEvents
    }

    /// The cap on the (decoded) body of a route; routers use it to refuse uploads early too.
    public func bodyLimit(for route: IngestRoute) -> Int {
        switch route {
        case .webhook: return webhookBodyBytes
        case .trackingBatch: return trackingBatchBytes
        case .trackingCall: return trackingCallBytes
        }
    }
}

/// What ingest needs from the config: the secrets and the limits.
public struct IngestConfiguration: Sendable, CustomStringConvertible {
    /// `segment.sharedSecret`; `nil` or empty leaves `/` and `/webhook` unauthenticated.
    public var sharedSecret: String?
    /// `segment.writeKeys`; empty leaves `/v1/*` unauthenticated.
    public var writeKeys: [String]
    public var limits: IngestLimits

    public init(sharedSecret: String? = nil, writeKeys: [String] = [], limits: IngestLimits = IngestLimits()) {
        self.sharedSecret = sharedSecret
        self.writeKeys = writeKeys
        self.limits = limits
    }

    /// Says whether secrets are set, never what they are, so the value can be logged.
    public var description: String {
        let secret = (sharedSecret?.isEmpty ?? true) ? "not set" : "set"
        return "IngestConfiguration(sharedSecret: \(secret), writeKeys: \(writeKeys.count) configured, limits: \(limits))"
    }
}
