/// What Adobe Target answered to one request (the body cut to a few KB).
public struct AdobeAnswer: Sendable, Hashable, CustomStringConvertible {
    /// Bodies longer than this are cut: they are kept for dead letters, not for replay.
    public static let maximumBodyCharacters = 4096

    public var purpose: AdobeTargetRequest.Purpose
    public var status: Int
    public var body: String

    public init(purpose: AdobeTargetRequest.Purpose, status: Int, body: String) {
        self.purpose = purpose
        self.status = status
        self.body = body.count > Self.maximumBodyCharacters
            ? String(body.prefix(Self.maximumBodyCharacters)) + "…" : body
    }

    public var description: String {
        let step = purpose == .profileLookup ? "profile lookup" : "profile update"
        return body.isEmpty
            ? "Adobe Target answered \(status) to the \(step)"
            : "Adobe Target answered \(status) to the \(step): \(body)"
    }
}

/// A failure worth retrying later: 408, 429, 5xx, a timeout or a connection error.
public struct TransientFailure: Sendable, Hashable, CustomStringConvertible {
    public var purpose: AdobeTargetRequest.Purpose
    /// Adobe's answer, or `nil` when none arrived (timeout, connection error).
    public var answer: AdobeAnswer?
    /// For failures without an answer: what went wrong.
    public var reason: String
    /// Seconds to wait from `Retry-After` (delta-seconds or an HTTP-date, already turned into
    /// a delay), when Adobe sent one.
    public var retryAfterSeconds: Double?

    public init(purpose: AdobeTargetRequest.Purpose, answer: AdobeAnswer?, reason: String, retryAfterSeconds: Double?) {
        self.purpose = purpose
        self.answer = answer
        self.reason = reason
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String {
        var text = answer?.description ?? reason
        if let retryAfterSeconds { text += " (Retry-After \(retryAfterSeconds) s)" }
        return text
    }
}

/// How one delivery ended; the delivery queue maps each case to an action.
public enum DeliveryOutcome: Sendable, Hashable, CustomStringConvertible {
    /// Every update was accepted (2xx).
    case delivered
    /// The lookup answered 404: at.js has not created the profile yet; retry slowly.
    case profileNotFound(AdobeAnswer)
    /// 401 or 403: the bearer token is missing, wrong or expired; pause until it is replaced.
    case unauthorized(AdobeAnswer)
    /// 408, 429, 5xx, timeouts, connection errors: retry with backoff.
    case retryable(TransientFailure)
    /// Any other 4xx: Adobe will never accept this request; dead-letter it with the answer.
    case rejected(AdobeAnswer)
    /// The update cannot be expressed as Adobe requests (empty user ID, an attribute over the
    /// URL limit); nothing was sent. Permanent.
    case invalidRequest(AdobeTargetRequestError)

    public var description: String {
        switch self {
        case .delivered: return "delivered"
        case .profileNotFound(let answer):
            return "profile not found in Adobe Target yet (at.js creates it on the visitor's first hit; "
                + "retrying): \(answer)"
        case .unauthorized(let answer):
            return "Adobe Target refused the bearer token; replace adobeTarget.bearerToken: \(answer)"
        case .retryable(let failure): return "transient failure, retrying: \(failure)"
        case .rejected(let answer): return "rejected: \(answer)"
        case .invalidRequest(let error): return "invalid request: \(error)"
        }
    }
}

/// The outcome of a delivery and the number of HTTP requests it cost.
public struct DeliveryResult: Sendable, Hashable {
    public var outcome: DeliveryOutcome
    /// Requests sent to Adobe (lookups and updates, answered or not), for accounting and
    /// the calls-per-event figure.
    public var adobeCalls: Int
    /// Update requests that Adobe accepted before the outcome; a split update that fails
    /// part-way is safe to resend whole (the same values are set again, in order).
    public var updatesDelivered: Int
    /// Whether the lookup was answered from the cache.
    public var lookupCached: Bool

    public init(outcome: DeliveryOutcome, adobeCalls: Int, updatesDelivered: Int = 0, lookupCached: Bool = false) {
        self.outcome = outcome
        self.adobeCalls = adobeCalls
        self.updatesDelivered = updatesDelivered
        self.lookupCached = lookupCached
    }
}
