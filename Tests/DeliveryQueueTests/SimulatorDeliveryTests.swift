import AdobeTarget
import AdobeTargetSimulator
import DeliveryQueue
import EventStore
import Foundation
import JSONKit
import Testing

/// The queue with the real Adobe Target client, against the simulator over real HTTP on
/// 127.0.0.1 and a real SQLite store.
@Suite(.serialized, .enabled(if: RealHTTPServer.isAvailable), .timeLimit(.minutes(10)))
struct SimulatorDeliveryTests {
    /// Runs `body` with a simulator, a store and a queue, and takes them all down afterwards.
    func withQueue(
        _ configuration: DeliveryConfiguration = .simulated, fixture: SimulatorFixture? = nil,
        _ body: (QueueHarness, SimulatorFixture, DeliveryQueue) async throws -> Void
    ) async throws {
        let fixture = try fixture ?? SimulatorFixture(concurrency: configuration.concurrency)
        defer { fixture.shutdown() }
        let harness = try QueueHarness()
        let queue = try harness.makeQueue(configuration, sender: fixture.client)
        try await harness.run(queue) { () async throws in try await body(harness, fixture, queue) }
    }

    @Test func deliversTheLatestValuesOfEachProfile() async throws {
        try await withQueue { harness, fixture, queue in
            for round in 0..<3 {
                try harness.appendBurst((0..<20).map { (userID: "user \($0)", traits: ["plan": .string("plan-\(round)"), "city": "New York City"]) })
            }
            queue.notifyJobsAdded()
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
            for user in 0..<20 {
                let profile = fixture.simulator.profileAttributes(thirdPartyID: "user \(user)")
                #expect(profile?["plan"] == "plan-2")
                #expect(profile?["city"] == "New York City")
            }
            // Fewer calls than events: the rounds coalesce (the first may go out alone).
            #expect(fixture.adobeCalls < 60)
            // The counters follow the store's record by a moment.
            #expect(await eventually { queue.stats.deliveredJobs == 60 })
        }
    }

    @Test func anOutageLosesNothing() async throws {
        try await withQueue { harness, fixture, queue in
            fixture.simulator.addFault(.init(.status(503, retryAfter: nil, body: "maintenance")))
            let users = (0..<30).map { "user-\($0)" }
            for round in 0..<3 {
                try harness.appendBurst(users.map { (userID: $0, traits: ["round": .number(Double(round)), "user": .string($0)]) })
                queue.notifyJobsAdded()
                try await Task.sleep(nanoseconds: 150_000_000)
            }
            try await Task.sleep(nanoseconds: 500_000_000)
            #expect(queue.stats.deliveredJobs == 0)
            #expect(queue.stats.transientRetries > 0)
            #expect(try harness.store.stats().queueDepth == 90)

            fixture.simulator.clearFaults()
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
            #expect(try harness.store.deadLetters(limit: 10, offset: 0).isEmpty)
            let updates = fixture.acceptedUpdatesByUser()
            for user in users {
                #expect(fixture.simulator.profileAttributes(thirdPartyID: user)?["round"] == "2")
                let rounds = (updates[user] ?? []).compactMap { $0["round"].flatMap(Int.init) }
                #expect(rounds == rounds.sorted())
            }
        }
    }

    /// 200 users × 5 identifies by default; `DELIVERY_REPLAY_USERS=10000` replays the full
    /// 10,000-user scenario of issue #5 and prints the figures.
    @Test func eachProfilesUpdatesArriveInAcceptanceOrderAndCoalesce() async throws {
        let userCount = ProcessInfo.processInfo.environment["DELIVERY_REPLAY_USERS"].flatMap(Int.init) ?? 200
        let users = (0..<userCount).map { "visitor-\($0)" }
        let started = Date()
        try await withQueue { harness, fixture, queue in
            // Bursts as Segment sends them: each request carries several identifies per user.
            for chunk in stride(from: 0, to: users.count, by: 25) {
                var burst: [(userID: String, traits: JSONValue)] = []
                for sequence in 0..<5 {
                    for user in users[chunk..<min(chunk + 25, users.count)] {
                        burst.append((userID: user, traits: ["seq": .number(Double(sequence)), "plan": .string("plan-\(sequence)")]))
                    }
                }
                try harness.appendBurst(burst)
                queue.notifyJobsAdded()
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            #expect(try await eventually(timeout: 30 + Double(userCount) / 50) { try harness.store.stats().queueDepth == 0 })
            let seconds = Date().timeIntervalSince(started)
            let updates = fixture.acceptedUpdatesByUser()
            for user in users {
                let sequences = (updates[user] ?? []).compactMap { $0["seq"].flatMap(Int.init) }
                #expect(sequences == sequences.sorted() && sequences.last == 4, "\(user): \(sequences)")
                #expect(fixture.simulator.profileAttributes(thirdPartyID: user)?["plan"] == "plan-4")
            }
            let callsPerIdentify = Double(fixture.adobeCalls) / Double(users.count * 5)
            #expect(callsPerIdentify <= 0.5, "\(callsPerIdentify) Adobe calls per identify")
            print("replay: \(users.count) users × 5 identifies delivered in \(seconds) s, \(fixture.adobeCalls) Adobe calls, "
                + "\(callsPerIdentify) per identify, \(queue.stats.deliveries) updates")
            #expect(await eventually { abs((queue.stats.adobeCallsPerDeliveredJob ?? 0) - callsPerIdentify) < 0.01 })
        }
    }

    @Test func refusedCredentialsPauseUntilTheTokenIsReplaced() async throws {
        let fixture = try SimulatorFixture(requiredToken: "fresh-token", clientToken: "expired-token")
        try await withQueue(fixture: fixture) { harness, fixture, queue in
            try harness.appendBurst((0..<5).map { (userID: "user-\($0)", traits: ["plan": "gold"]) })
            queue.notifyJobsAdded()
            #expect(await eventually { queue.pauseReason != nil })
            #expect(queue.pauseReason?.contains("401") == true)
            #expect(queue.pauseReason?.contains("expired-token") == false)
            try await Task.sleep(nanoseconds: 300_000_000)
            let refusals = fixture.simulator.statistics.unauthorized
            #expect(refusals >= 1 && refusals <= 8)
            #expect(try harness.store.stats().queueDepth == 5)
            #expect(try harness.store.deadLetters(limit: 10, offset: 0).isEmpty)

            fixture.tokens.replace(with: "fresh-token")
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
            #expect(queue.pauseReason == nil)
            #expect(fixture.simulator.profileAttributes(thirdPartyID: "user-0")?["plan"] == "gold")
        }
    }

    @Test func aProfileThatNeverAppearsIsDeadLetteredAfterItsWindow() async throws {
        var configuration = DeliveryConfiguration.simulated
        configuration.profileNotFoundRetrySeconds = 0.8
        configuration.profileNotFoundInitialDelaySeconds = 0.1
        configuration.profileNotFoundMaxDelaySeconds = 0.3
        let fixture = try SimulatorFixture(profileCreation: .never)
        try await withQueue(configuration, fixture: fixture) { harness, fixture, queue in
            let sequence = try harness.append(userID: "ghost", traits: ["plan": "gold"])
            queue.notifyJobsAdded()
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .dead })
            let dead = try harness.store.deadLetters(limit: 10, offset: 0)
            #expect(dead.first?.reason == .profileNotFound)
            #expect(dead.first?.lastAnswer?.status == 404)
            #expect(fixture.simulator.statistics.profilesNotFound >= 3)
            #expect(fixture.simulator.statistics.updates == 0)
        }
    }

    @Test func aProfileThatAppearsLaterIsDelivered() async throws {
        let fixture = try SimulatorFixture(profileCreation: .afterFirstLookup(seconds: 0.5))
        try await withQueue(fixture: fixture) { harness, fixture, queue in
            let sequence = try harness.append(userID: "newcomer", traits: ["plan": "gold"])
            queue.notifyJobsAdded()
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .delivered })
            #expect(fixture.simulator.statistics.profilesNotFound >= 1)
            #expect(queue.stats.profileNotFoundRetries >= 1)
            #expect(fixture.simulator.profileAttributes(thirdPartyID: "newcomer")?["plan"] == "gold")
        }
    }

    @Test func aRejectedUpdateIsDeadLetteredWithAdobesAnswer() async throws {
        try await withQueue { harness, fixture, queue in
            fixture.simulator.addFault(.init(.status(400, retryAfter: nil, body: #"{"message":"bad attribute"}"#), endpoint: .update))
            let sequence = try harness.append(userID: "user-1", traits: ["plan": "gold"])
            queue.notifyJobsAdded()
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .dead })
            let dead = try harness.store.deadLetters(limit: 10, offset: 0)
            #expect(dead.first?.reason == .adobeRejected)
            #expect(dead.first?.lastAnswer?.status == 400)
            #expect(dead.first?.lastAnswer?.body == #"{"message":"bad attribute"}"#)
            #expect(fixture.simulator.statistics.updates == 1)
        }
    }

    @Test func timeoutsAndRetryAfterAreRetried() async throws {
        try await withQueue { harness, fixture, queue in
            fixture.simulator.setFaults([
                .init(.hang, endpoint: .lookup, count: 1),
                .init(.status(429, retryAfter: "1", body: nil), endpoint: .lookup, count: 1),
            ])
            let sequence = try harness.append(userID: "user-1", traits: ["plan": "gold"])
            let started = Date()
            queue.notifyJobsAdded()
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .delivered })
            // The hang costs the 1 s timeout, the 429 asks for another second.
            #expect(Date().timeIntervalSince(started) >= 1.9)
            #expect(queue.stats.transientRetries == 2)
            #expect(try harness.job(forEvent: sequence).attempts == 3)
        }
    }

    @Test func aLongOutageExpiresJobsWithTheLastAnswer() async throws {
        var configuration = DeliveryConfiguration.simulated
        configuration.maxAgeSeconds = 0.6
        try await withQueue(configuration) { harness, fixture, queue in
            fixture.simulator.addFault(.init(.status(502, retryAfter: nil, body: "upstream down")))
            let sequence = try harness.append(userID: "user-1", traits: ["plan": "gold"])
            queue.notifyJobsAdded()
            #expect(try await eventually { try harness.job(forEvent: sequence).state == .dead })
            let dead = try harness.store.deadLetters(limit: 10, offset: 0)
            #expect(dead.first?.reason == .expired)
            #expect(dead.first?.lastAnswer?.status == 502)
            #expect(dead.first?.lastAnswer?.body == "upstream down")
        }
    }

    @Test func theRateLimitDelaysDeliveriesInsteadOfDroppingThem() async throws {
        var configuration = DeliveryConfiguration.simulated
        configuration.rateLimitPerDay = 6
        configuration.concurrency = 1
        try await withQueue(configuration) { harness, fixture, queue in
            try harness.appendBurst((0..<5).map { (userID: "user-\($0)", traits: ["plan": "gold"]) })
            queue.notifyJobsAdded()
            #expect(await eventually { queue.stats.deliveredJobs == 3 })
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(fixture.adobeCalls == 6)
            #expect(queue.stats.rateLimit.isWaiting)
            #expect(try harness.store.stats().queueDepth == 2)

            harness.clock.advance(by: 86_400 + 120)
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
            #expect(fixture.adobeCalls == 10)
            #expect(try harness.store.deadLetters(limit: 10, offset: 0).isEmpty)
        }
    }
}
