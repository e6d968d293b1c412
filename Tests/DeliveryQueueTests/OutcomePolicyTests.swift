import EventStore
import Foundation
import Testing
@testable import DeliveryQueue

@Suite struct OutcomePolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    var policy: OutcomePolicy {
        var configuration = DeliveryConfiguration()
        configuration.initialBackoffSeconds = 1
        configuration.maxBackoffSeconds = 60
        configuration.maxAgeSeconds = 3_600
        configuration.profileNotFoundRetrySeconds = 7_200
        configuration.profileNotFoundInitialDelaySeconds = 60
        configuration.profileNotFoundMaxDelaySeconds = 600
        configuration.profileNotFoundJitterFraction = 0
        return OutcomePolicy(configuration: configuration)
    }

    func job(_ id: JobID, attempts: Int = 0, age: Double = 10, profileMissingFor: Double? = nil) -> JobTiming {
        JobTiming(id: id, attempts: attempts, enqueuedAt: now.addingTimeInterval(-age),
                  firstProfileNotFoundAt: profileMissingFor.map { now.addingTimeInterval(-$0) })
    }

    @Test func deliveredRecordsEveryJob() {
        let decision = policy.decide(.delivered, jobs: [job(1), job(2)], now: now, unitRandom: 0.5)
        #expect(decision == .record([RecordedOutcome(jobIDs: [1, 2], outcome: .delivered(at: now))]))
    }

    @Test func otherClientErrorsAreDeadLetteredAtOnceWithAdobesAnswer() {
        let decision = policy.decide(AdobeOutcomes.rejected(status: 400, body: "bad"), jobs: [job(1), job(2)], now: now, unitRandom: 0.5)
        guard case .record(let outcomes) = decision, outcomes.count == 1,
              case .deadLetter(let reason, let message, let status, let body) = outcomes[0].outcome
        else { Issue.record("expected one dead letter, got \(decision)"); return }
        #expect(outcomes[0].jobIDs == [1, 2])
        #expect(reason == .adobeRejected)
        #expect(status == 400)
        #expect(body == "bad")
        #expect(message.contains("400"))
        #expect(outcomes[0].outcomeClass == "dead_adobe_rejected")
    }

    @Test func unauthorizedPausesWithoutRecordingAnything() {
        for status in [401, 403] {
            let decision = policy.decide(AdobeOutcomes.unauthorized(status: status), jobs: [job(1)], now: now, unitRandom: 0.5)
            guard case .pause(let reason) = decision else { Issue.record("expected a pause, got \(decision)"); continue }
            #expect(reason.contains("\(status)"))
            #expect(reason.contains("bearerToken"))
        }
    }

    @Test func transientFailuresBackOffWithinTheCeiling() {
        for attempts in 0..<10 {
            let decision = policy.decide(AdobeOutcomes.unavailable(), jobs: [job(1, attempts: attempts)], now: now, unitRandom: 0.999)
            guard case .record(let outcomes) = decision, outcomes.count == 1,
                  case .retry(let next, let status, let body, let profileNotFound) = outcomes[0].outcome
            else { Issue.record("expected a retry, got \(decision)"); return }
            let ceiling = min(60, pow(2, Double(attempts)))
            #expect(next.timeIntervalSince(now) <= ceiling && next.timeIntervalSince(now) > ceiling * 0.99)
            #expect(status == 503 && body == "busy" && !profileNotFound)
        }
    }

    @Test func retryAfterIsNeverAnticipated() {
        let decision = policy.decide(AdobeOutcomes.unavailable(status: 429, retryAfter: 120), jobs: [job(1)], now: now, unitRandom: 0.1)
        guard case .record(let outcomes) = decision, case .retry(let next, let status, _, _) = outcomes[0].outcome
        else { Issue.record("expected a retry, got \(decision)"); return }
        #expect(next == now.addingTimeInterval(120))
        #expect(status == 429)
        // Even past the job's deadline: Adobe asked not to be called before.
        let late = policy.decide(AdobeOutcomes.unavailable(retryAfter: 900), jobs: [job(1, age: 3_000)], now: now, unitRandom: 0.1)
        guard case .record(let lateOutcomes) = late, case .retry(let lateNext, _, _, _) = lateOutcomes[0].outcome
        else { Issue.record("expected a retry, got \(late)"); return }
        #expect(lateNext == now.addingTimeInterval(900))
        // An absurd Retry-After is capped at the maximum age instead of overflowing a date.
        let absurd = policy.decide(AdobeOutcomes.unavailable(retryAfter: 9e18), jobs: [job(1)], now: now, unitRandom: 0.1)
        guard case .record(let absurdOutcomes) = absurd, case .retry(let absurdNext, _, _, _) = absurdOutcomes[0].outcome
        else { Issue.record("expected a retry, got \(absurd)"); return }
        #expect(absurdNext == now.addingTimeInterval(3_600))
    }

    @Test func theLastAttemptHappensAtTheDeadline() {
        let decision = policy.decide(AdobeOutcomes.unavailable(), jobs: [job(1, attempts: 12, age: 3_590)], now: now, unitRandom: 0.999)
        guard case .record(let outcomes) = decision, case .retry(let next, _, _, _) = outcomes[0].outcome
        else { Issue.record("expected a retry, got \(decision)"); return }
        #expect(next == now.addingTimeInterval(10))
    }

    @Test func expiredJobsAreDeadLetteredAndTheRestRetried() {
        let decision = policy.decide(AdobeOutcomes.timedOut(), jobs: [job(1, attempts: 9, age: 3_600), job(2, age: 5)], now: now, unitRandom: 0.5)
        guard case .record(let outcomes) = decision, outcomes.count == 2,
              case .deadLetter(let reason, let message, let status, let body) = outcomes[0].outcome,
              case .retry = outcomes[1].outcome
        else { Issue.record("expected a dead letter then a retry, got \(decision)"); return }
        #expect(outcomes[0].jobIDs == [1])
        #expect(outcomes[1].jobIDs == [2])
        #expect(reason == .expired)
        #expect(status == nil)
        #expect(body?.contains("no answer") == true)
        #expect(message.contains("maxAgeSeconds") && message.contains("10 attempts"))
    }

    @Test func profileNotFoundRetriesOnItsOwnScheduleThenDeadLetters() {
        // First miss: a minute.
        var decision = policy.decide(AdobeOutcomes.notFound(), jobs: [job(1)], now: now, unitRandom: 0.5)
        guard case .record(let first) = decision, case .retry(let next, let status, _, let profileNotFound) = first[0].outcome
        else { Issue.record("expected a retry, got \(decision)"); return }
        #expect(next == now.addingTimeInterval(60))
        #expect(status == 404 && profileNotFound)
        #expect(first[0].outcomeClass == "profile_not_found_retry")

        // Missing for 20 minutes: the delay has grown to the 10-minute cap.
        decision = policy.decide(AdobeOutcomes.notFound(), jobs: [job(1, profileMissingFor: 1_200)], now: now, unitRandom: 0.5)
        guard case .record(let later) = decision, case .retry(let laterNext, _, _, _) = later[0].outcome
        else { Issue.record("expected a retry, got \(decision)"); return }
        #expect(laterNext == now.addingTimeInterval(600))

        // Near the end of the window: the last lookup is when the window closes.
        decision = policy.decide(AdobeOutcomes.notFound(), jobs: [job(1, profileMissingFor: 7_000)], now: now, unitRandom: 0.5)
        guard case .record(let last) = decision, case .retry(let lastNext, _, _, _) = last[0].outcome
        else { Issue.record("expected a retry, got \(decision)"); return }
        #expect(lastNext == now.addingTimeInterval(200))

        // Past the window: dead letter with Adobe's last answer.
        decision = policy.decide(AdobeOutcomes.notFound(body: "nope"), jobs: [job(1, profileMissingFor: 7_200), job(2, profileMissingFor: 30)],
                                 now: now, unitRandom: 0.5)
        guard case .record(let outcomes) = decision, outcomes.count == 2,
              case .deadLetter(let reason, _, let deadStatus, let body) = outcomes[0].outcome,
              case .retry(_, _, _, true) = outcomes[1].outcome
        else { Issue.record("expected a dead letter then a retry, got \(decision)"); return }
        #expect(reason == .profileNotFound && deadStatus == 404 && body == "nope")
        #expect(outcomes[0].jobIDs == [1] && outcomes[1].jobIDs == [2])
    }

    @Test func profileNotFoundIgnoresTheMaximumAge() {
        // A profile may take an hour to appear; the PNF window governs, not maxAgeSeconds.
        let decision = policy.decide(AdobeOutcomes.notFound(), jobs: [job(1, age: 5_000, profileMissingFor: 4_000)], now: now, unitRandom: 0.5)
        guard case .record(let outcomes) = decision, case .retry = outcomes[0].outcome
        else { Issue.record("expected a retry, got \(decision)"); return }
    }

    @Test func anUnsendableCoalescedUpdateIsSplit() {
        #expect(policy.decide(AdobeOutcomes.tooLarge(name: "bio"), jobs: [job(1), job(2)], now: now, unitRandom: 0.5) == .deliverIndividually)
        let decision = policy.decide(AdobeOutcomes.tooLarge(name: "bio"), jobs: [job(1)], now: now, unitRandom: 0.5)
        guard case .record(let outcomes) = decision, case .deadLetter(let reason, let message, nil, nil) = outcomes[0].outcome
        else { Issue.record("expected a dead letter, got \(decision)"); return }
        #expect(reason == .invalidRequest)
        #expect(message.contains("bio"))
    }
}
