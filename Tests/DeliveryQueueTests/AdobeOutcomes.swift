// Builds Adobe Target client outcomes. Kept apart from files that import EventStore, whose
// `AdobeAnswer` shares its name with the client's.
import AdobeTarget
import DeliveryQueue

enum AdobeOutcomes {
    static func notFound(body: String = #"{"message":"profile not found"}"#) -> DeliveryOutcome {
        .profileNotFound(AdobeAnswer(purpose: .profileLookup, status: 404, body: body))
    }

    static func unauthorized(status: Int = 401) -> DeliveryOutcome {
        .unauthorized(AdobeAnswer(purpose: .profileLookup, status: status, body: #"{"message":"invalid token"}"#))
    }

    static func unavailable(status: Int = 503, body: String = "busy", retryAfter: Double? = nil) -> DeliveryOutcome {
        let answer = AdobeAnswer(purpose: .profileUpdate, status: status, body: body)
        return .retryable(TransientFailure(purpose: .profileUpdate, answer: answer, reason: answer.description,
                                           retryAfterSeconds: retryAfter))
    }

    static func timedOut() -> DeliveryOutcome {
        .retryable(TransientFailure(purpose: .profileLookup, answer: nil, reason: "no answer from Adobe Target within 1 s",
                                    retryAfterSeconds: nil))
    }

    static func rejected(status: Int = 400, body: String = #"{"message":"bad attribute"}"#) -> DeliveryOutcome {
        .rejected(AdobeAnswer(purpose: .profileUpdate, status: status, body: body))
    }

    static func tooLarge(name: String) -> DeliveryOutcome {
        .invalidRequest(.attributeTooLarge(name: name, urlBytes: 9000, limit: 8192))
    }

    static func result(_ outcome: DeliveryOutcome, calls: Int = 2, lookupCached: Bool = false) -> DeliveryResult {
        DeliveryResult(outcome: outcome, adobeCalls: calls, updatesDelivered: outcome == .delivered ? 1 : 0,
                       lookupCached: lookupCached)
    }
}
