import AdobeTarget
import EventStore
import Foundation

/// Dead-letter reason for an update that cannot be expressed as Adobe requests at all (an
/// attribute longer than Adobe's URL limit, an empty user ID): nothing was sent.
extension DeadLetterReason {
    public static let invalidRequest = DeadLetterReason(rawValue: "INVALID_REQUEST")
}

/// What scheduling needs to know of a leased job.
public struct JobTiming: Sendable, Equatable {
    public var id: JobID
    /// Attempts made before this one.
    public var attempts: Int
    /// When the job entered the queue (creation or replay): the start of its maximum age.
    public var enqueuedAt: Date
    public var firstProfileNotFoundAt: Date?

    public init(id: JobID, attempts: Int, enqueuedAt: Date, firstProfileNotFoundAt: Date? = nil) {
        self.id = id
        self.attempts = attempts
        self.enqueuedAt = enqueuedAt
        self.firstProfileNotFoundAt = firstProfileNotFoundAt
    }

    public init(_ job: LeasedJob) {
        self.init(id: job.id, attempts: job.attempts, enqueuedAt: job.enqueuedAt,
                  firstProfileNotFoundAt: job.firstProfileNotFoundAt)
    }
}

/// One outcome to record for some of a group's jobs.
public struct RecordedOutcome: Sendable, Equatable {
    public var jobIDs: [JobID]
    public var outcome: JobOutcome

    public init(jobIDs: [JobID], outcome: JobOutcome) {
        self.jobIDs = jobIDs
        self.outcome = outcome
    }

    /// The label of this outcome in metrics and statistics.
    public var outcomeClass: String {
        switch outcome {
        case .delivered: return "delivered"
        case .retry(_, _, _, let profileNotFound): return profileNotFound ? "profile_not_found_retry" : "transient_retry"
        case .deadLetter(let reason, _, _, _): return "dead_" + reason.rawValue.lowercased()
        }
    }
}

/// What the queue does with a group of leased jobs after one delivery attempt.
public enum DeliveryDecision: Sendable, Equatable {
    /// Record these outcomes (older jobs first); each is atomic for its jobs.
    case record([RecordedOutcome])
    /// Adobe refused the credentials: record nothing (no attempt is spent), pause delivery.
    case pause(reason: String)
    /// The coalesced update cannot be sent; one of the jobs is at fault. Deliver them one by
    /// one, in order, so that only the faulty one is dead-lettered.
    case deliverIndividually
}

/// Turns Adobe's answer into outcomes for the jobs of one coalesced update (issue #5, §7).
/// Pure: the time and the random number come in as arguments.
public struct OutcomePolicy: Sendable, Equatable {
    public var schedule: RetrySchedule
    public var maxAgeSeconds: Double
    public var profileNotFoundRetrySeconds: Double

    public init(configuration: DeliveryConfiguration) {
        schedule = RetrySchedule(configuration: configuration)
        maxAgeSeconds = configuration.maxAgeSeconds
        profileNotFoundRetrySeconds = configuration.profileNotFoundRetrySeconds
    }

    /// - Parameters:
    ///   - jobs: the group's jobs, oldest first, as leased (attempts not yet counting this one).
    ///   - unitRandom: a number in `0..<1` for the jitter.
    public func decide(_ outcome: DeliveryOutcome, jobs: [JobTiming], now: Date, unitRandom: Double) -> DeliveryDecision {
        let ids = jobs.map(\.id)
        switch outcome {
        case .delivered:
            return .record([RecordedOutcome(jobIDs: ids, outcome: .delivered(at: now))])

        case .rejected(let answer):
            let message = "Adobe Target refused the profile update and will refuse it again: \(answer). "
                + "Fix the mapping's traits (or the profile ID), then replay the dead letter."
            return .record([RecordedOutcome(jobIDs: ids, outcome: .deadLetter(
                reason: .adobeRejected, message: message, status: answer.status, body: answer.body))])

        case .invalidRequest(let error):
            if jobs.count > 1 { return .deliverIndividually }
            let message = "the profile update cannot be sent to Adobe Target (\(error)); nothing was sent. "
                + "Fix the mapping so that it produces a shorter update or a non-empty user_id, then replay."
            return .record([RecordedOutcome(jobIDs: ids, outcome: .deadLetter(
                reason: .invalidRequest, message: message, status: nil, body: nil))])

        case .unauthorized(let answer):
            return .pause(reason: "Adobe Target answered \(answer.status) (the bearer token is missing, wrong or expired): "
                + "delivery is paused with nothing dropped; replace adobeTarget.bearerToken (ADOBE_TARGET_BEARER_TOKEN) "
                + "and delivery resumes by itself")

        case .profileNotFound(let answer):
            return profileNotFound(jobs, now: now, status: answer.status, body: answer.body, unitRandom: unitRandom)

        case .retryable(let failure):
            // A failure without an answer keeps its reason as the body, so the dead letter
            // says what went wrong (status stays empty: Adobe said nothing).
            let status = failure.answer?.status
            let body = failure.answer?.body ?? failure.reason
            return transient(jobs, now: now, failure: failure.description, status: status, body: body,
                             retryAfterSeconds: failure.retryAfterSeconds, unitRandom: unitRandom)
        }
    }

    private func profileNotFound(
        _ jobs: [JobTiming], now: Date, status: Int, body: String, unitRandom: Double
    ) -> DeliveryDecision {
        var expired: [JobID] = []
        var waiting: [JobTiming] = []
        for job in jobs {
            let first = job.firstProfileNotFoundAt ?? now
            if now.timeIntervalSince(first) >= profileNotFoundRetrySeconds {
                expired.append(job.id)
            } else {
                waiting.append(job)
            }
        }
        var records: [RecordedOutcome] = []
        if !expired.isEmpty {
            let message = "Adobe Target still had no profile for this mbox3rdPartyId \(format(profileNotFoundRetrySeconds)) s "
                + "after the first lookup (profileNotFoundRetrySeconds). at.js creates the profile on the visitor's first "
                + "hit with this ID: check that the site sends it, then replay the dead letter."
            records.append(RecordedOutcome(jobIDs: expired, outcome: .deadLetter(
                reason: .profileNotFound, message: message, status: status, body: body)))
        }
        if !waiting.isEmpty {
            let firsts = waiting.map { $0.firstProfileNotFoundAt ?? now }
            let waited = now.timeIntervalSince(firsts.min()!)
            let windowEnd = firsts.min()!.addingTimeInterval(profileNotFoundRetrySeconds)
            let delay = schedule.profileNotFoundDelay(waitedSeconds: waited, unitRandom: unitRandom)
            // The last lookup happens when the window closes, not a whole delay after it.
            let next = min(now.addingTimeInterval(delay), windowEnd)
            records.append(RecordedOutcome(jobIDs: waiting.map(\.id), outcome: .retry(
                nextAttemptAt: next, status: status, body: body, profileNotFound: true)))
        }
        return .record(records)
    }

    private func transient(
        _ jobs: [JobTiming], now: Date, failure: String, status: Int?, body: String,
        retryAfterSeconds: Double?, unitRandom: Double
    ) -> DeliveryDecision {
        var expired: [JobTiming] = []
        var waiting: [JobTiming] = []
        for job in jobs {
            if now.timeIntervalSince(job.enqueuedAt) >= maxAgeSeconds {
                expired.append(job)
            } else {
                waiting.append(job)
            }
        }
        var records: [RecordedOutcome] = []
        if !expired.isEmpty {
            let attempts = expired.map(\.attempts).max()! + 1
            let message = "not delivered within maxAgeSeconds (\(format(maxAgeSeconds)) s) after \(attempts) attempts; "
                + "last failure: \(failure). Replay the dead letter once Adobe Target answers again."
            records.append(RecordedOutcome(jobIDs: expired.map(\.id), outcome: .deadLetter(
                reason: .expired, message: message, status: status, body: body)))
        }
        if !waiting.isEmpty {
            let attempts = waiting.map(\.attempts).max()! + 1
            let delay = schedule.transientDelay(afterAttempts: attempts, retryAfterSeconds: nil, unitRandom: unitRandom)
            let deadline = waiting.map { $0.enqueuedAt.addingTimeInterval(maxAgeSeconds) }.min()!
            // One last attempt at the deadline rather than none; but never before Retry-After.
            var next = min(now.addingTimeInterval(delay), deadline)
            // An absurd Retry-After is capped at the maximum age: past it the job expires anyway.
            if let retryAfterSeconds, !retryAfterSeconds.isNaN {
                next = max(next, now.addingTimeInterval(min(max(0, retryAfterSeconds), maxAgeSeconds)))
            }
            records.append(RecordedOutcome(jobIDs: waiting.map(\.id), outcome: .retry(
                nextAttemptAt: next, status: status, body: body, profileNotFound: false)))
        }
        return .record(records)
    }

    private func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }
}
