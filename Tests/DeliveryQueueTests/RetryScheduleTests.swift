import Foundation
import Testing
@testable import DeliveryQueue

@Suite struct RetryScheduleTests {
    var schedule: RetrySchedule {
        var configuration = DeliveryConfiguration()
        configuration.initialBackoffSeconds = 1
        configuration.maxBackoffSeconds = 60
        configuration.profileNotFoundInitialDelaySeconds = 60
        configuration.profileNotFoundMaxDelaySeconds = 600
        configuration.profileNotFoundJitterFraction = 0.2
        return RetrySchedule(configuration: configuration)
    }

    @Test func backoffCeilingDoublesUpToTheCap() {
        #expect((1...8).map { schedule.backoffCeiling(afterAttempts: $0) } == [1, 2, 4, 8, 16, 32, 60, 60])
        #expect(schedule.backoffCeiling(afterAttempts: 0) == 1)
        #expect(schedule.backoffCeiling(afterAttempts: 10_000) == 60)
    }

    @Test func fullJitterSpansZeroToTheCeiling() {
        #expect(schedule.transientDelay(afterAttempts: 4, retryAfterSeconds: nil, unitRandom: 0) == 0)
        #expect(schedule.transientDelay(afterAttempts: 4, retryAfterSeconds: nil, unitRandom: 0.5) == 4)
        #expect(schedule.transientDelay(afterAttempts: 4, retryAfterSeconds: nil, unitRandom: 0.999_999) < 8)
        // Out-of-range randomness is clamped, never a negative or over-the-cap delay.
        #expect(schedule.transientDelay(afterAttempts: 4, retryAfterSeconds: nil, unitRandom: -3) == 0)
        #expect(schedule.transientDelay(afterAttempts: 4, retryAfterSeconds: nil, unitRandom: 7) == 8)
        #expect(schedule.transientDelay(afterAttempts: 4, retryAfterSeconds: nil, unitRandom: .nan) == 0)
    }

    @Test func randomDelaysStayWithinBoundsAndSpread() {
        var delays: [Double] = []
        for _ in 0..<2_000 {
            let delay = schedule.transientDelay(afterAttempts: 20, retryAfterSeconds: nil, unitRandom: Double.random(in: 0..<1))
            #expect(delay >= 0 && delay <= 60)
            delays.append(delay)
        }
        // Full jitter: the delays fill the range rather than cluster at the ceiling.
        #expect(delays.min()! < 6)
        #expect(delays.max()! > 54)
        let mean = delays.reduce(0, +) / Double(delays.count)
        #expect(abs(mean - 30) < 3)
    }

    @Test func retryAfterIsAFloor() {
        #expect(schedule.transientDelay(afterAttempts: 1, retryAfterSeconds: 30, unitRandom: 0.9) == 30)
        #expect(schedule.transientDelay(afterAttempts: 8, retryAfterSeconds: 30, unitRandom: 0.9) == 54)
        #expect(schedule.transientDelay(afterAttempts: 8, retryAfterSeconds: 120, unitRandom: 0.9) == 120)
    }

    @Test func profileNotFoundDelayGrowsFromOneToTenMinutesWithJitter() {
        #expect(schedule.profileNotFoundDelay(waitedSeconds: 0, unitRandom: 0.5) == 60)
        #expect(schedule.profileNotFoundDelay(waitedSeconds: 90, unitRandom: 0.5) == 90)
        #expect(schedule.profileNotFoundDelay(waitedSeconds: 300, unitRandom: 0.5) == 300)
        #expect(schedule.profileNotFoundDelay(waitedSeconds: 5_000, unitRandom: 0.5) == 600)
        #expect(schedule.profileNotFoundDelay(waitedSeconds: 0, unitRandom: 0) == 48)
        #expect(schedule.profileNotFoundDelay(waitedSeconds: 5_000, unitRandom: 1) == 720)
        for _ in 0..<500 {
            let delay = schedule.profileNotFoundDelay(waitedSeconds: Double.random(in: 0..<10_000), unitRandom: Double.random(in: 0..<1))
            #expect(delay >= 48 && delay <= 720)
        }
    }

    @Test func configurationProblemsNameTheSetting() {
        var configuration = DeliveryConfiguration()
        #expect(configuration.problems().isEmpty)
        configuration.concurrency = 0
        configuration.maxBackoffSeconds = -1
        configuration.leaseSeconds = 5
        let problems = configuration.problems()
        #expect(problems.count == 3)
        #expect(problems.contains { $0.hasPrefix("concurrency") })
        #expect(problems.contains { $0.hasPrefix("maxBackoffSeconds") })
        #expect(problems.contains { $0.hasPrefix("leaseSeconds") && $0.contains("adobeRequestTimeoutSeconds") })
    }
}

@Suite struct DeliveryConfigurationTests {
    @Test func theAppsSettingsMakeAValidConfiguration() {
        let configuration = DeliveryConfiguration(
            concurrency: 8, maxBackoffSeconds: 60, maxAgeSeconds: 14_400, profileNotFoundRetrySeconds: 7_200,
            rateLimitPerDay: 1_000_000, adobeRequestTimeoutSeconds: 10)
        #expect(configuration.problems().isEmpty)
        #expect(configuration.leaseSeconds == 300)
        #expect(configuration.profileNotFoundInitialDelaySeconds == 60)
        #expect(configuration.profileNotFoundMaxDelaySeconds == 600)

        // A slow Adobe timeout lengthens the lease; a short PNF window shortens its delays.
        let slow = DeliveryConfiguration(
            concurrency: 2, maxBackoffSeconds: 0.5, maxAgeSeconds: 60, profileNotFoundRetrySeconds: 40,
            rateLimitPerDay: 10, adobeRequestTimeoutSeconds: 60)
        #expect(slow.problems().isEmpty)
        #expect(slow.leaseSeconds == 1_200)
        #expect(slow.profileNotFoundInitialDelaySeconds == 4)
        #expect(slow.profileNotFoundMaxDelaySeconds == 10)
        #expect(slow.initialBackoffSeconds == 0.5)
    }
}
