import AdobeTarget
import DeliveryQueue
import EventStore
import Foundation
import JSONKit
import Testing

/// The queue against a real SQLite store and a scripted Adobe: scheduling, ordering,
/// coalescing, pausing and rate limiting.
@Suite(.timeLimit(.minutes(1))) struct QueueBehaviourTests {
    @Test func coalescesEachUsersRunIntoOneUpdate() async throws {
        let harness = try QueueHarness()
        for user in ["ana", "ben", "cy"] {
            for index in 0..<4 {
                try harness.append(userID: user, traits: ["plan": .string("plan-\(index)"), .init("n\(index)"): .number(Double(index))])
            }
        }
        let sender = ScriptedSender()
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
        }

        #expect(sender.calls.count == 3)
        for user in ["ana", "ben", "cy"] {
            let calls = sender.calls(for: user)
            #expect(calls.count == 1)
            let attributes = calls.first.map { Array($0.attributes).map { "\($0.name)=\($0.value)" } }
            #expect(attributes == ["plan=plan-3", "n0=0", "n1=1", "n2=2", "n3=3"])
        }
        let stats = queue.stats
        #expect(stats.deliveredJobs == 12)
        #expect(stats.deliveries == 3)
        #expect(stats.adobeCalls == 6)
        #expect(stats.adobeCallsPerDeliveredJob == 0.5)
        #expect(try harness.store.stats().deliveredTotal == 12)
    }

    @Test func keepsEachUsersOrderUnderConcurrency() async throws {
        let harness = try QueueHarness()
        let sender = ScriptedSender(delaySeconds: 0.003)
        var configuration = DeliveryConfiguration.fast
        configuration.concurrency = 8
        configuration.leaseBatchSize = 16
        let queue = try harness.makeQueue(configuration, sender: sender)
        let users = (0..<30).map { "user-\($0)" }
        try await harness.run(queue) { () async throws in
            for wave in 0..<6 {
                for user in users.shuffled() {
                    try harness.append(userID: user, traits: ["wave": .number(Double(wave)), "user": .string(user)])
                }
                queue.notifyJobsAdded()
                try await Task.sleep(nanoseconds: 15_000_000)
            }
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
        }

        #expect(sender.overlappingUserCalls == 0)
        for user in users {
            let waves = sender.calls(for: user).compactMap { $0.attributes["wave"].flatMap(Int.init) }
            #expect(waves == waves.sorted() && Set(waves).count == waves.count, "updates of \(user) out of order: \(waves)")
            #expect(waves.last == 5)
        }
        #expect(queue.stats.deliveredJobs == 180)
    }

    @Test func transientFailuresAreRetriedUntilDelivered() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender { call in
            switch call.indexForUser {
            case 0: AdobeOutcomes.result(AdobeOutcomes.unavailable(status: 503))
            case 1: AdobeOutcomes.result(AdobeOutcomes.timedOut(), calls: 1)
            case 2: AdobeOutcomes.result(AdobeOutcomes.unavailable(status: 429, retryAfter: 0.4))
            default: AdobeOutcomes.result(.delivered)
            }
        }
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .delivered })
        }

        let calls = sender.calls
        #expect(calls.count == 4)
        // Retry-After 0.4 s: the next attempt never comes sooner.
        #expect(calls[3].at.timeIntervalSince(calls[2].at) >= 0.39)
        // The other delays stay under the (compressed) backoff ceiling plus scheduling slack.
        #expect(calls[1].at.timeIntervalSince(calls[0].at) < 0.5)
        let job = try harness.job(forEvent: sequence)
        #expect(job.attempts == 4)
        #expect(queue.stats.transientRetries == 3)
        #expect(queue.stats.adobeCalls == 7)
    }

    @Test func expiresAfterTheMaximumAgeWithTheLastAnswer() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender { _ in AdobeOutcomes.result(AdobeOutcomes.unavailable(status: 502, body: "bad gateway")) }
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            // Retried while young; then the clock passes the maximum age (30 s in `.fast`),
            // however long the retries took on a loaded machine.
            #expect(await eventually { sender.calls.count >= 3 })
            #expect(try !harness.job(forEvent: sequence).state.isFinished)
            harness.clock.advance(by: DeliveryConfiguration.fast.maxAgeSeconds)
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .dead })
        }

        let dead = try harness.store.deadLetters(limit: 10, offset: 0)
        #expect(dead.count == 1)
        #expect(dead.first?.reason == .expired)
        #expect(dead.first?.lastAnswer?.status == 502)
        #expect(dead.first?.lastAnswer?.body == "bad gateway")
        #expect(dead.first?.message.contains("maxAgeSeconds") == true)
        #expect(sender.calls.count >= 3)
        #expect(dead.first?.attempts == sender.calls.count)
        #expect(queue.stats.deadLetteredJobs == ["EXPIRED": 1])
    }

    @Test func otherClientErrorsAreDeadLetteredAtOnce() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender { _ in AdobeOutcomes.result(AdobeOutcomes.rejected(status: 400, body: "invalid profile attribute")) }
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .dead })
            try await Task.sleep(nanoseconds: 100_000_000)
        }

        #expect(sender.calls.count == 1)
        let dead = try harness.store.deadLetters(limit: 10, offset: 0)
        #expect(dead.first?.reason == .adobeRejected)
        #expect(dead.first?.lastAnswer?.status == 400)
        #expect(dead.first?.lastAnswer?.body == "invalid profile attribute")
        #expect(dead.first?.attempts == 1)
    }

    @Test func missingProfileIsRetriedThroughItsWindowThenDeadLettered() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender { _ in AdobeOutcomes.result(AdobeOutcomes.notFound(), calls: 1) }
        var configuration = DeliveryConfiguration.fast
        configuration.profileNotFoundRetrySeconds = 0.8
        configuration.profileNotFoundInitialDelaySeconds = 0.1
        configuration.profileNotFoundMaxDelaySeconds = 0.3
        let queue = try harness.makeQueue(configuration, sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .dead })
        }

        let dead = try harness.store.deadLetters(limit: 10, offset: 0)
        #expect(dead.first?.reason == .profileNotFound)
        #expect(dead.first?.lastAnswer?.status == 404)
        // Its own slower schedule: a handful of lookups over the window, not a tight loop.
        let calls = sender.calls
        #expect(calls.count >= 3 && calls.count <= 9, "\(calls.count) lookups")
        let span = calls.last!.at.timeIntervalSince(calls.first!.at)
        #expect(span >= 0.75)
        #expect(queue.stats.profileNotFoundRetries == calls.count - 1)
    }

    @Test func profileThatAppearsLaterIsDelivered() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        // Counted in lookups, not seconds: on a loaded machine the first lookup may come late.
        let sender = ScriptedSender { call in
            call.indexForUser < 2 ? AdobeOutcomes.result(AdobeOutcomes.notFound(), calls: 1) : AdobeOutcomes.result(.delivered)
        }
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .delivered })
        }
        #expect(queue.stats.profileNotFoundRetries == 2)
        #expect(try harness.job(forEvent: sequence).firstProfileNotFoundAt != nil)
    }

    @Test func refusedCredentialsPauseDeliveryUntilTheTokenIsReplaced() async throws {
        let harness = try QueueHarness()
        let first = try harness.append(userID: "ana", traits: ["plan": "gold"])
        try harness.append(userID: "ben", traits: ["plan": "silver"])
        let sender = ScriptedSender { call in
            call.generation == 0 ? AdobeOutcomes.result(AdobeOutcomes.unauthorized(status: 403), calls: 1) : AdobeOutcomes.result(.delivered)
        }
        var configuration = DeliveryConfiguration.fast
        configuration.concurrency = 1
        let queue = try harness.makeQueue(configuration, sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(await eventually { queue.pauseReason != nil })
            try await Task.sleep(nanoseconds: 300_000_000)
            // Paused: nothing dropped, nothing hammered.
            #expect(queue.pauseReason?.contains("403") == true)
            #expect(queue.stats.isPaused)
            #expect(sender.calls.count == 1)
            #expect(try harness.store.stats().queueDepth == 2)
            #expect(try harness.store.deadLetters(limit: 10, offset: 0).isEmpty)

            sender.rotateCredentials()
            // The refused run was parked with its lease: it goes first on resume instead of
            // waiting for the 6 s lease to expire.
            #expect(try await eventually(timeout: 1.5) { try harness.store.stats().queueDepth == 0 })
        }
        #expect(queue.pauseReason == nil)
        // The refused attempt was not counted against the job.
        #expect(try harness.job(forEvent: first).attempts == 1)
        #expect(queue.stats.deliveredJobs == 2)
    }

    @Test func aTransientRefusalEndsWithTheNextProbe() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender { call in
            call.indexForUser == 0 ? AdobeOutcomes.result(AdobeOutcomes.unauthorized(), calls: 1) : AdobeOutcomes.result(.delivered)
        }
        var configuration = DeliveryConfiguration.fast
        configuration.authorizationProbeIntervalSeconds = 0.3
        configuration.leaseSeconds = 1.5
        configuration.adobeRequestTimeoutSeconds = 0.1
        let queue = try harness.makeQueue(configuration, sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(await eventually { queue.pauseReason != nil })
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .delivered })
        }
        #expect(queue.pauseReason == nil)
        #expect(sender.calls.count == 2)
    }

    @Test func theRateLimitDelaysDeliveriesInsteadOfDroppingThem() async throws {
        let harness = try QueueHarness()
        for user in 0..<5 { try harness.append(userID: "user-\(user)", traits: ["plan": "gold"]) }
        let sender = ScriptedSender()
        var configuration = DeliveryConfiguration.fast
        configuration.rateLimitPerDay = 4
        configuration.concurrency = 1
        let queue = try harness.makeQueue(configuration, sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(await eventually { queue.stats.deliveredJobs == 2 })
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(sender.calls.count == 2)
            #expect(queue.stats.rateLimit.isWaiting)
            #expect(queue.stats.rateLimit.headroom == 0)
            #expect(try harness.store.stats().queueDepth == 3)
            #expect(try harness.store.deadLetters(limit: 10, offset: 0).isEmpty)
        }

        // A restart does not reset the window: the calls were counted in the store.
        let restarted = try harness.makeQueue(configuration, sender: sender)
        try await harness.run(restarted) { () async throws in
            #expect(restarted.stats.rateLimit.usedInWindow == 4)
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(sender.calls.count == 2)

            // A day later the window has room again.
            harness.clock.advance(by: 86_400 + 120)
            #expect(try await eventually { try harness.store.stats().queueDepth <= 1 })
            #expect(sender.calls.count == 4)
        }
        #expect(try harness.store.stats().queueDepth == 1)
    }

    @Test func anUnsendableJobIsSetApartFromItsRun() async throws {
        let harness = try QueueHarness()
        let first = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let bad = try harness.append(userID: "ana", traits: ["bio": "a very long text"])
        let last = try harness.append(userID: "ana", traits: ["plan": "platinum"])
        let malformed = try harness.append(userID: "ana", traits: "not an object")
        let sender = ScriptedSender { call in
            call.attributes["bio"] != nil ? AdobeOutcomes.result(AdobeOutcomes.tooLarge(name: "bio"), calls: 0) : AdobeOutcomes.result(.delivered)
        }
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
        }

        #expect(try harness.job(forEvent: first).state == .delivered)
        #expect(try harness.job(forEvent: last).state == .delivered)
        #expect(try harness.job(forEvent: bad).deadReason == .invalidRequest)
        #expect(try harness.job(forEvent: malformed).deadReason == .mappingError)
        // The coalesced try, then each job alone in order.
        #expect(sender.calls.map { $0.attributes["plan"] ?? "bio" } == ["platinum", "gold", "bio", "platinum"])
    }

    @Test func stopLetsDeliveriesInFlightFinishAndRecord() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender(delaySeconds: 0.5)
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue, gracePeriodSeconds: 5) { () async throws in
            #expect(await eventually { queue.stats.inFlightDeliveries == 1 })
        }
        #expect(try harness.job(forEvent: sequence).state == .delivered)
        #expect(!queue.stats.isRunning)
        #expect(queue.stats.inFlightDeliveries == 0)
    }

    @Test func retryNowMakesWaitingRetriesDue() async throws {
        let harness = try QueueHarness()
        let sequence = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let sender = ScriptedSender { call in
            call.indexForUser == 0
                ? AdobeOutcomes.result(AdobeOutcomes.unavailable(status: 503, retryAfter: 600)) : AdobeOutcomes.result(.delivered)
        }
        let queue = try harness.makeQueue(sender: sender)
        try await harness.run(queue) { () async throws in
            #expect(await eventually { queue.stats.transientRetries == 1 })
            try await Task.sleep(nanoseconds: 200_000_000)
            #expect(try harness.job(forEvent: sequence).state == .pending)
            #expect(try queue.retryNow() == 1)
            #expect(try await eventually(timeout: 3) { try harness.job(forEvent: sequence).state == .delivered })
        }
    }
}
