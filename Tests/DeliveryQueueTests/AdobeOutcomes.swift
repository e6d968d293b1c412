// Builds Adobe Target client outcomes. Kept apart from files that import EventStore, whose
// `AdobeAnswer` shares its name with the client's.
import AdobeTarget
import DeliveryQueue
import Foundation

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

/// A stand-in for the Adobe Target client that answers from a script and records every call,
/// for the scheduling tests; the simulator tests use the real client over HTTP.
final class ScriptedSender: ProfileUpdateSending, @unchecked Sendable {
    struct Call: Sendable {
        var userID: String
        var attributes: ProfileAttributes
        var generation: Int
        /// Calls for this user before this one.
        var indexForUser: Int
        var at: Date
    }

    typealias Responder = @Sendable (Call) -> DeliveryResult

    private let lock = NSLock()
    private var recorded: [Call] = []
    private var generation = 0
    private var inFlightByUser: [String: Int] = [:]
    private var overlaps = 0
    private var responder: Responder
    private let delaySeconds: Double

    init(delaySeconds: Double = 0, responder: @escaping Responder = { _ in AdobeOutcomes.result(.delivered) }) {
        self.delaySeconds = delaySeconds
        self.responder = responder
    }

    func deliver(userID: String, attributes: ProfileAttributes) async -> DeliveryResult {
        let call: Call = lock.withLock {
            let call = Call(userID: userID, attributes: attributes, generation: generation,
                            indexForUser: recorded.count { $0.userID == userID }, at: Date())
            recorded.append(call)
            inFlightByUser[userID, default: 0] += 1
            if inFlightByUser[userID]! > 1 { overlaps += 1 }
            return call
        }
        if delaySeconds > 0 { try? await Task.sleep(nanoseconds: UInt64(delaySeconds * 1e9)) }
        let respond = lock.withLock { responder }
        let result = respond(call)
        lock.withLock { inFlightByUser[userID]! -= 1 }
        return result
    }

    var credentialsGeneration: Int { lock.withLock { generation } }

    func rotateCredentials() { lock.withLock { generation += 1 } }

    func respond(with responder: @escaping Responder) { lock.withLock { self.responder = responder } }

    var calls: [Call] { lock.withLock { recorded } }

    func calls(for userID: String) -> [Call] { calls.filter { $0.userID == userID } }

    /// Deliveries that started for a user while another one for the same user was in flight.
    var overlappingUserCalls: Int { lock.withLock { overlaps } }
}
