import Foundation
import JSONKit
import Testing
@testable import EventStore

/// The behaviour every `EventStore` implementation must have.
@Suite("EventStore contract")
struct EventStoreContractTests {
    // MARK: Write path

    @Test(arguments: StoreFactory.all)
    func receiptListsEveryEventInOrderWithIncreasingSequences(factory: StoreFactory) throws {
        try withStore(factory) { store, _ in
            let batch: [IncomingEvent] = [
                identify("m1"),
                .rejected(messageId: "m2", body: Array(#"{"messageId":"m2"}"#.utf8), reason: "the event has no type"),
                identify("m3", user: "user-2", mappings: ["a", "b"]),
            ]
            let receipt = try store.appendAndWait(batch)
            #expect(receipt.events.map(\.status) == [.accepted, .rejected, .accepted])
            #expect(receipt.acceptedCount == 2 && receipt.rejectedCount == 1 && receipt.duplicateCount == 0)
            let sequences = receipt.events.map(\.sequence)
            #expect(sequences == sequences.sorted() && Set(sequences).count == 3)

            let second = try store.appendAndWait([identify("m4")])
            #expect(second.events[0].sequence > sequences.last!)

            let stored = try allEvents(store)
            #expect(stored.map(\.messageId) == ["m1", "m2", "m3", "m4"])
            #expect(stored.map(\.body) == batch.map(\.body) + [identify("m4").body])
            #expect(try store.jobs(forEvent: sequences[2]).map(\.mappingID) == ["a", "b"])
            #expect(try store.jobs(forEvent: sequences[0]).first?.payload == ["plan": "pro"])
        }
    }

    @Test(arguments: StoreFactory.all)
    func rejectedEventsAreKeptWithTheirReasonAndCreateNoJobs(factory: StoreFactory) throws {
        try withStore(factory) { store, _ in
            let body = Array(#"{"type":"identify","messageId":"bad"}"#.utf8)
            let receipt = try store.appendAndWait([
                .rejected(messageId: "bad", body: body, reason: "identify needs userId or anonymousId"),
                .rejected(messageId: nil, body: Array("42".utf8), reason: "an array element is not an object"),
            ])
            let stored = try allEvents(store)
            #expect(stored.count == 2)
            #expect(stored[0].status == .rejected && stored[0].rejectionReason == "identify needs userId or anonymousId")
            #expect(stored[0].body == body)
            #expect(stored[1].messageId == nil && stored[1].body == Array("42".utf8))
            #expect(try store.jobs(forEvent: receipt.events[0].sequence).isEmpty)
            // A rejected messageId does not make a later valid event a duplicate.
            #expect(try store.appendAndWait([identify("bad")]).events[0].status == .accepted)
            let stats = try store.stats()
            #expect(stats.rejectedEvents == 2 && stats.acceptedEvents == 1 && stats.queueDepth == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func mappingErrorsBecomeDeadLettersAtOnce(factory: StoreFactory) throws {
        try withStore(factory) { store, _ in
            let event = IncomingEvent.accepted(messageId: "m1", body: eventBody(messageId: "m1"), jobs: [
                .mappingError(mappingID: "broken", userID: nil,
                              message: "The root value is missing the required field 'user_id'."),
                .delivery(mappingID: "good", userID: "user-1", payload: ["a": 1]),
            ])
            _ = try store.appendAndWait([event])
            let dead = try store.deadLetters(limit: 10, offset: 0)
            #expect(dead.count == 1)
            #expect(dead.first?.reason == .mappingError)
            #expect(dead.first?.message == "The root value is missing the required field 'user_id'.")
            #expect(dead.first?.mappingID == "broken" && dead.first?.messageId == "m1")
            #expect(dead.first?.event == event.body)
            let stats = try store.stats()
            #expect(stats.queueDepth == 1 && stats.deadLetters == 1 && stats.deadTotal == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func duplicatesWithinTheWindowCreateNoJobsAndLaterOnesDo(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            let first = try store.appendAndWait([identify("dup"), identify("dup"), identify("other")])
            #expect(first.events.map(\.status) == [.accepted, .duplicate, .accepted])
            #expect(try store.jobs(forEvent: first.events[1].sequence).isEmpty)

            options.clock.advance(by: 23 * 3600 + 59 * 60)
            let within = try store.appendAndWait([identify("dup")])
            #expect(within.events[0].status == .duplicate)
            #expect(try store.jobs(forEvent: within.events[0].sequence).isEmpty)

            // The window counts from the first acceptance, not from the duplicates.
            options.clock.advance(by: 61)
            let after = try store.appendAndWait([identify("dup")])
            #expect(after.events[0].status == .accepted)
            #expect(try store.jobs(forEvent: after.events[0].sequence).count == 1)

            let stats = try store.stats()
            #expect(stats.duplicateEvents == 2 && stats.acceptedEvents == 3 && stats.queueDepth == 3)
            // Duplicates are stored as received events too: nothing vanishes.
            #expect(try allEvents(store).count == 5)
        }
    }

    @Test(arguments: StoreFactory.all)
    func deduplicationSurvivesAReopenAndExpiresAfterIt(factory: StoreFactory) throws {
        let directory = try TemporaryDirectory()
        let options = StoreOptions()
        do {
            let store = try factory.open(directory.path, options)
            defer { store.close() }
            _ = try store.appendAndWait([identify("old")])
            options.clock.advance(by: 12 * 3600)
            _ = try store.appendAndWait([identify("recent"), .rejected(messageId: "refused", body: [], reason: "bad")])
        }
        options.clock.advance(by: 12 * 3600 + 1)
        let store = try factory.open(directory.path, options)
        defer { store.close() }
        let receipt = try store.appendAndWait([identify("recent"), identify("old"), identify("refused")])
        #expect(receipt.events.map(\.status) == [.duplicate, .accepted, .accepted])
    }

    @Test(arguments: StoreFactory.all)
    func concurrentAppendsOfOneMessageIdCreateJobsExactlyOnce(factory: StoreFactory) throws {
        try withStore(factory) { store, _ in
            let statuses = StatusCollector()
            DispatchQueue.concurrentPerform(iterations: 24) { index in
                let receipt = try? store.appendAndWait([identify("same", user: "user-\(index)")])
                statuses.add(receipt?.events.first?.status)
            }
            #expect(statuses.values.count { $0 == .accepted } == 1)
            #expect(statuses.values.count { $0 == .duplicate } == 23)
            let accepted = try allEvents(store).filter { $0.status == .accepted }
            #expect(accepted.count == 1)
            #expect(try store.jobs(forEvent: accepted[0].sequence).count == 1)
            #expect(try store.stats().queueDepth == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func manyConcurrentAppendsAllCompleteDurably(factory: StoreFactory) throws {
        try withStore(factory) { store, _ in
            let done = DispatchGroup()
            let failures = StatusCollector()
            for request in 0..<200 {
                done.enter()
                store.append((0..<5).map { identify("r\(request)-e\($0)", user: "u\($0)") }) { result in
                    if case .failure = result { failures.add(nil) }
                    done.leave()
                }
            }
            #expect(done.wait(timeout: .now() + 60) == .success)
            #expect(failures.values.isEmpty)
            let stored = try allEvents(store)
            #expect(stored.count == 1000)
            #expect(Set(stored.compactMap(\.messageId)).count == 1000)
            #expect(try store.stats().queueDepth == 1000)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aFullQueueRefusesWholeRequestsAndStoresNothingOfThem(factory: StoreFactory) throws {
        var options = StoreOptions()
        options.maxQueueDepth = 4
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a"), identify("b"), identify("c")])
            let refused = #expect(throws: StoreError.self) {
                try store.appendAndWait([identify("d"), identify("e")])
            }
            guard case .capacityExceeded(let reason, let retryAfter)? = refused else {
                Issue.record("expected capacityExceeded, got \(String(describing: refused))")
                return
            }
            #expect(reason.contains("queue") && retryAfter > 0)
            #expect(try allEvents(store).map(\.messageId) == ["a", "b", "c"])
            // Refused messageIds were not claimed: once delivery catches up they are accepted.
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            try store.recordOutcome(groups.flatMap { $0.jobs.map(\.id) }, .delivered(at: options.clock.now))
            #expect(try store.appendAndWait([identify("d"), identify("e")]).acceptedCount == 2)
            // Requests without jobs (rejected events only) never add to the queue.
            _ = try store.appendAndWait([identify("f"), identify("g")])
            #expect(try store.appendAndWait([.rejected(messageId: "h", body: [], reason: "bad")]).rejectedCount == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aNearlyFullDiskRefusesAppends(factory: StoreFactory) throws {
        var options = StoreOptions()
        options.minFreeDiskBytes = UInt64.max
        try withStore(factory, options) { store, _ in
            let refused = #expect(throws: StoreError.self) { try store.appendAndWait([identify("a")]) }
            guard case .capacityExceeded(let reason, _)? = refused else {
                Issue.record("expected capacityExceeded, got \(String(describing: refused))")
                return
            }
            #expect(reason.contains("disk"))
            let stored = try allEvents(store)
            #expect(stored.isEmpty)
            #expect(try store.stats().queueDepth == 0)
        }
    }

    // MARK: Leasing and per-user order

    @Test(arguments: StoreFactory.all)
    func leasesReturnEachUsersConsecutiveDueRunInOrder(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A"), identify("b1", user: "B"), identify("a2", user: "A")])
            _ = try store.appendAndWait([identify("a3", user: "A", traits: ["plan": "max"])])
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 100, leaseSeconds: 30)
            #expect(describe(groups) == ["A": ["a1", "a2", "a3"], "B": ["b1"]])
            #expect(groups.first { $0.userID == "A" }?.jobs.last?.payload == ["plan": "max"])
            // Everything is leased now: nothing more is due.
            #expect(try store.leaseDueJobs(now: options.clock.now, limit: 100, leaseSeconds: 30).isEmpty)
            let stats = try store.stats()
            #expect(stats.inFlight == 4 && stats.queueDepth == 4)
        }
    }

    @Test(arguments: StoreFactory.all)
    func theLimitCapsEachRunButNeverCutsTheLastUsersRun(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A"), identify("a2", user: "A"), identify("a3", user: "A")])
            _ = try store.appendAndWait([identify("b1", user: "B"), identify("b2", user: "B"), identify("b3", user: "B")])
            _ = try store.appendAndWait([identify("c1", user: "C")])
            // A's run (3) leaves room under the limit of 4, so B comes too, whole: were it cut
            // to b1, a re-lease after a crash could send b1 alone after b1–b3 had been sent.
            // C comes after 6 jobs: not this time.
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 4, leaseSeconds: 30)
            #expect(describe(groups) == ["A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"]])
            // Each run is capped at the limit.
            _ = try store.appendAndWait((1...5).map { identify("d\($0)", user: "D") })
            let capped = try store.leaseDueJobs(now: options.clock.now, limit: 4, leaseSeconds: 30)
            #expect(describe(capped) == ["C": ["c1"], "D": ["d1", "d2", "d3", "d4"]])
        }
    }

    @Test(arguments: StoreFactory.all)
    func anInFlightJobBlocksLaterJobsOfTheSameUserOnly(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A"), identify("a2", user: "A")])
            let first = try store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 30)
            #expect(describe(first) == ["A": ["a1"]])
            _ = try store.appendAndWait([identify("b1", user: "B"), identify("a3", user: "A")])
            // a2 and a3 are due but wait behind the in-flight a1; B is free.
            #expect(describe(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["B": ["b1"]])
            try store.recordOutcome(first[0].jobs.map(\.id), .delivered(at: options.clock.now))
            #expect(describe(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["A": ["a2", "a3"]])
        }
    }

    @Test(arguments: StoreFactory.all)
    func aJobScheduledLaterBlocksTheUsersLaterDueJobs(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A"), identify("b1", user: "B")])
            let leased = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            let a1 = try #require(leased.first { $0.userID == "A" }).jobs[0].id
            let b1 = try #require(leased.first { $0.userID == "B" }).jobs[0].id
            try store.recordOutcome([a1], .retry(nextAttemptAt: options.clock.now.addingTimeInterval(60),
                                                 status: 503, body: "busy", profileNotFound: false))
            try store.recordOutcome([b1], .delivered(at: options.clock.now))
            _ = try store.appendAndWait([identify("a2", user: "A"), identify("b2", user: "B")])
            let onlyB = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            #expect(describe(onlyB) == ["B": ["b2"]])
            try store.recordOutcome(onlyB.flatMap { $0.jobs.map(\.id) }, .delivered(at: options.clock.now))
            options.clock.advance(by: 61)
            let later = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            #expect(describe(later) == ["A": ["a1", "a2"]])
            #expect(later[0].jobs[0].attempts == 1)
            #expect(later[0].jobs[0].lastAnswer == AdobeAnswer(status: 503, body: "busy"))
        }
    }

    @Test(arguments: StoreFactory.all)
    func newJobsWaitTheFirstAttemptDelayAndJoinTheLeaseOfTheUsersFirstJob(factory: StoreFactory) throws {
        var options = StoreOptions()
        options.firstAttemptDelaySeconds = 2
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A"), identify("b1", user: "B")])
            #expect(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30).isEmpty)
            options.clock.advance(by: 1.5)
            _ = try store.appendAndWait([identify("a2", user: "A", traits: ["plan": "max"])])
            #expect(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30).isEmpty)
            options.clock.advance(by: 0.5)
            // a1 is due; a2, half a second from due, goes with it. B's run is b1 alone.
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            #expect(describe(groups) == ["A": ["a1", "a2"], "B": ["b1"]])
            #expect(groups.first { $0.userID == "A" }?.jobs.last?.payload == ["plan": "max"])
            #expect(try store.stats().inFlight == 3)
        }
    }

    @Test(arguments: StoreFactory.all)
    func aRetriedRunTakesAlongTheUsersNewerJobs(factory: StoreFactory) throws {
        var options = StoreOptions()
        options.firstAttemptDelaySeconds = 2
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A")])
            options.clock.advance(by: 2)
            let first = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            #expect(describe(first) == ["A": ["a1"]])
            try store.recordOutcome(first[0].jobs.map(\.id), .retry(nextAttemptAt: options.clock.now.addingTimeInterval(60),
                                                                   status: 503, body: "busy", profileNotFound: false))
            _ = try store.appendAndWait([identify("a2", user: "A")])
            options.clock.advance(by: 60)
            // a2 is due too by now; a3 was never tried: both go with the retried a1.
            _ = try store.appendAndWait([identify("a3", user: "A")])
            #expect(describe(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["A": ["a1", "a2", "a3"]])
        }
    }

    @Test(arguments: StoreFactory.all)
    func usersBehindManyBlockedDueJobsAreStillFound(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a0", user: "A")])
            #expect(describe(try store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 300)) == ["A": ["a0"]])
            // 1,500 due jobs of A wait behind its in-flight head, ahead of B's in due order.
            _ = try store.appendAndWait((1...1_500).map { identify("a\($0)", user: "A") })
            options.clock.advance(by: 1)
            _ = try store.appendAndWait([identify("b1", user: "B")])
            #expect(describe(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["B": ["b1"]])
        }
    }

    @Test(arguments: StoreFactory.all)
    func theLimitBoundsTheJobsReturned(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait((0..<10).map { identify("m\($0)", user: "U\($0 % 3)") })
            let first = try store.leaseDueJobs(now: options.clock.now, limit: 4, leaseSeconds: 30)
            #expect(first.reduce(0) { $0 + $1.jobs.count } == 4)
            // The rest of a truncated run waits behind its in-flight head; other users come next.
            let second = try store.leaseDueJobs(now: options.clock.now, limit: 100, leaseSeconds: 30)
            let firstUsers = Set(first.map(\.userID))
            #expect(Set(second.map(\.userID)).isDisjoint(with: firstUsers))
        }
    }

    @Test(arguments: StoreFactory.all)
    func expiredLeasesAreTakenOverAndOutcomesStayIdempotent(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a1", user: "A"), identify("a2", user: "A")])
            let lease = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            #expect(describe(lease) == ["A": ["a1", "a2"]])
            #expect(try store.leaseDueJobs(now: options.clock.now.addingTimeInterval(29), limit: 10, leaseSeconds: 30).isEmpty)
            let takeover = try store.leaseDueJobs(now: options.clock.now.addingTimeInterval(31), limit: 10, leaseSeconds: 30)
            #expect(describe(takeover) == ["A": ["a1", "a2"]])
            #expect(takeover[0].jobs.map(\.id) == lease[0].jobs.map(\.id))
            #expect(try store.stats().inFlight == 2, "a taken-over lease is counted once")
            let ids = takeover[0].jobs.map(\.id)
            try store.recordOutcome(ids, .delivered(at: options.clock.now))
            // A late answer from the first holder changes nothing once the jobs are finished.
            try store.recordOutcome(ids, .retry(nextAttemptAt: options.clock.now, status: 500, body: nil, profileNotFound: false))
            try store.recordOutcome(ids, .delivered(at: options.clock.now))
            let stats = try store.stats()
            #expect(stats.queueDepth == 0 && stats.inFlight == 0 && stats.deliveredTotal == 2)
            #expect(try store.jobs(forEvent: ids.isEmpty ? 0 : takeover[0].jobs[0].eventSequence).first?.attempts == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func leasesSurviveAReopenAsDueJobs(factory: StoreFactory) throws {
        let directory = try TemporaryDirectory()
        let options = StoreOptions()
        let store = try factory.open(directory.path, options)
        _ = try store.appendAndWait([identify("a1", user: "A")])
        #expect(try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 3600).count == 1)
        store.close()
        // A restarted process must not wait an hour for the dead process's lease.
        let reopened = try factory.open(directory.path, options)
        defer { reopened.close() }
        #expect(describe(try reopened.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["A": ["a1"]])
    }

    // MARK: Outcomes, dead letters, replay

    @Test(arguments: StoreFactory.all)
    func outcomesAreRecordedWithAttemptsAnswersAndTheProfileNotFoundWindow(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            let receipt = try store.appendAndWait([identify("m1", user: "A")])
            let sequence = receipt.events[0].sequence
            var job = try #require(store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 30).first?.jobs.first)
            let firstMiss = options.clock.now
            try store.recordOutcome([job.id], .retry(nextAttemptAt: firstMiss.addingTimeInterval(10), status: 404,
                                                      body: "profile not found", profileNotFound: true))
            options.clock.advance(by: 20)
            job = try #require(store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 30).first?.jobs.first)
            #expect(job.attempts == 1 && job.firstProfileNotFoundAt == firstMiss)
            let longBody = String(repeating: "é", count: 3000)
            try store.recordOutcome([job.id], .retry(nextAttemptAt: options.clock.now, status: 404, body: longBody,
                                                      profileNotFound: true))
            var stored = try #require(store.jobs(forEvent: sequence).first)
            #expect(stored.firstProfileNotFoundAt == firstMiss, "the window starts at the first miss only")
            #expect(stored.attempts == 2 && stored.state == .pending)
            let body = try #require(stored.lastAnswer?.body)
            #expect(body.utf8.count <= 2048 && body.utf8.count >= 2046 && longBody.hasPrefix(body))

            job = try #require(store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 30).first?.jobs.first)
            try store.recordOutcome([job.id], .deadLetter(reason: .profileNotFound, message: "no profile after 2 h",
                                                          status: 404, body: "still missing"))
            stored = try #require(store.jobs(forEvent: sequence).first)
            #expect(stored.state == .dead && stored.attempts == 3 && stored.deadReason == .profileNotFound)
            let dead = try store.deadLetters(limit: 10, offset: 0)
            #expect(dead.map(\.reason) == [.profileNotFound])
            #expect(dead.first?.message == "no profile after 2 h")
            #expect(dead.first?.lastAnswer == AdobeAnswer(status: 404, body: "still missing"))
            #expect(dead.first?.event == identify("m1", user: "A").body)
            #expect(dead.first?.payload == ["plan": "pro"])
            let stats = try store.stats()
            #expect(stats.queueDepth == 0 && stats.deadLetters == 1 && stats.deadTotal == 1)
        }
    }

    @Test(arguments: StoreFactory.all)
    func deadLettersPageAndReplayBackIntoTheQueue(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait((0..<4).map { identify("m\($0)", user: "U\($0)") } + [
                .accepted(messageId: "bad", body: [], jobs: [.mappingError(mappingID: "x", userID: nil, message: "broken")]),
            ])
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            let ids = groups.flatMap { $0.jobs.map(\.id) }.sorted()
            try store.recordOutcome(ids, .deadLetter(reason: .adobeRejected, message: "400 bad request",
                                                     status: 400, body: "{}"))
            #expect(try store.deadLetters(limit: 10, offset: 0).count == 5)
            #expect(try store.stats().oldestPendingAge == nil)
            let page = try store.deadLetters(limit: 2, offset: 1)
            #expect(page.count == 2)
            #expect(page.map(\.id) == Array(try store.deadLetters(limit: 10, offset: 0).map(\.id)[1...2]))

            options.clock.advance(by: 3600)
            let one = try store.replayDeadLetters(ids: [ids[0]])
            #expect(one == ReplaySummary(replayed: 1, skippedWithoutPayload: 0))
            let rest = try store.replayDeadLetters(ids: nil)
            #expect(rest == ReplaySummary(replayed: 3, skippedWithoutPayload: 1))
            #expect(try store.stats().oldestPendingAge == 3600, "replayed jobs count from their event's arrival")
            #expect(try store.deadLetters(limit: 10, offset: 0).map(\.reason) == [.mappingError])

            let again = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            let jobs = again.flatMap(\.jobs)
            #expect(jobs.count == 4)
            #expect(jobs.allSatisfy { $0.attempts == 0 && $0.enqueuedAt == options.clock.now && $0.createdAt < $0.enqueuedAt })
            #expect(try store.stats().queueDepth == 4)
        }
    }

    @Test(arguments: StoreFactory.all)
    func retryNowMakesScheduledJobsDueWithoutTouchingInFlightOnes(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            _ = try store.appendAndWait([identify("a", user: "A"), identify("b", user: "B"), identify("c", user: "C")])
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 2, leaseSeconds: 30)
            #expect(groups.count == 2)
            try store.recordOutcome([groups[0].jobs[0].id], .retry(nextAttemptAt: options.clock.now.addingTimeInterval(600),
                                                                   status: nil, body: "timeout", profileNotFound: false))
            #expect(try store.makeAllPendingDueNow() == 1)
            let due = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            // The retried job and the never-leased one; the other in-flight job stays leased.
            #expect(Set(due.map(\.userID)) == Set([groups[0].userID, "A", "B", "C"].filter { $0 != groups[1].userID }))
        }
    }

    @Test(arguments: StoreFactory.all)
    func statsCountEventsJobsAndTheOldestPendingAge(factory: StoreFactory) throws {
        let options = StoreOptions()
        try withStore(factory, options) { store, _ in
            var stats = try store.stats()
            #expect(stats.queueDepth == 0 && stats.oldestPendingAge == nil && stats.acceptedEvents == 0)
            _ = try store.appendAndWait([identify("a", user: "A"), identify("a"), .rejected(messageId: nil, body: [], reason: "r")])
            options.clock.advance(by: 90)
            _ = try store.appendAndWait([identify("b", user: "B", mappings: ["m1", "m2"])])
            let leased = try store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 30)
            try store.recordOutcome(leased.flatMap { $0.jobs.map(\.id) }, .delivered(at: options.clock.now))
            _ = try store.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 30)
            options.clock.advance(by: 90)
            stats = try store.stats()
            #expect(stats.acceptedEvents == 2 && stats.duplicateEvents == 1 && stats.rejectedEvents == 1)
            #expect(stats.queueDepth == 2 && stats.inFlight == 1 && stats.deliveredTotal == 1)
            #expect(stats.oldestPendingAge == 90)
        }
    }

    // MARK: Settings, rate-limit accounting, retention

    @Test(arguments: StoreFactory.all)
    func settingsAndAdobeCallCountsSurviveAReopen(factory: StoreFactory) throws {
        let directory = try TemporaryDirectory()
        let options = StoreOptions()
        let start = options.clock.now
        do {
            let store = try factory.open(directory.path, options)
            defer { store.close() }
            #expect(try store.setting(named: "mappings") == nil)
            try store.setSetting(["b": 1, "a": [true, nil, "x"]], named: "mappings")
            try store.setSetting("token-1", named: "bearerToken")
            try store.setSetting("token-2", named: "bearerToken")
            try store.setSetting("gone", named: "removed")
            try store.setSetting(nil, named: "removed")
            try store.recordAdobeCalls(3, at: start)
            try store.recordAdobeCalls(2, at: start.addingTimeInterval(30))
            try store.recordAdobeCalls(7, at: start.addingTimeInterval(3600))
        }
        let store = try factory.open(directory.path, options)
        defer { store.close() }
        let mappings = try store.setting(named: "mappings")
        #expect(mappings == ["b": 1, "a": [true, nil, "x"]])
        #expect(mappings?.objectValue?.keys == ["b", "a"], "key order is kept")
        #expect(try store.setting(named: "bearerToken") == "token-2")
        #expect(try store.setting(named: "removed") == nil)
        #expect(try store.adobeCalls(since: start.addingTimeInterval(-3600)) == 12)
        #expect(try store.adobeCalls(since: start.addingTimeInterval(120)) == 7)
        #expect(try store.adobeCalls(since: start.addingTimeInterval(7200)) == 0)
    }

    @Test(arguments: StoreFactory.all)
    func purgingKeepsUnfinishedJobsAndTheirEvents(factory: StoreFactory) throws {
        var options = StoreOptions()
        options.retention = 3600
        try withStore(factory, options) { store, _ in
            let old = try store.appendAndWait([identify("done", user: "A"), identify("waiting", user: "B"),
                                               .rejected(messageId: "r", body: [], reason: "bad")])
            let leased = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            let doneID = try #require(leased.first { $0.userID == "A" }).jobs[0].id
            let waitingID = try #require(leased.first { $0.userID == "B" }).jobs[0].id
            try store.recordOutcome([doneID], .delivered(at: options.clock.now))
            try store.recordOutcome([waitingID], .retry(nextAttemptAt: options.clock.now.addingTimeInterval(86_400 * 2),
                                                        status: 503, body: nil, profileNotFound: false))
            options.clock.advance(by: 86_400 + 3600)
            let fresh = try store.appendAndWait([identify("fresh", user: "C")])

            let summary = try store.purgeExpiredData(now: options.clock.now)
            #expect(summary.jobs == 1)
            #expect(try store.jobs(forEvent: old.events[0].sequence).isEmpty)
            #expect(try store.jobs(forEvent: old.events[1].sequence).map(\.state) == [.pending])
            // Events from the first unfinished job's on are kept, and the "done" one before it goes.
            #expect(try allEvents(store).map(\.messageId) == ["waiting", "r", "fresh"])
            #expect(try store.jobs(forEvent: fresh.events[0].sequence).count == 1)
            #expect(try store.stats().deliveredTotal == 1, "lifetime counters outlive purged rows")
            // The dedup entry of a purged messageId is gone: it is accepted again.
            #expect(try store.appendAndWait([identify("done", user: "A")]).events[0].status == .accepted)
        }
    }
}

extension EventStoreContractTests {
    @Test(arguments: StoreFactory.all)
    func sequencesKeepAscendingAfterEverythingExpired(factory: StoreFactory) throws {
        let directory = try TemporaryDirectory()
        let options = StoreOptions()
        var lastSequence: EventSequence = 0
        do {
            let store = try factory.open(directory.path, options)
            defer { store.close() }
            lastSequence = try store.appendAndWait([identify("a"), identify("b")]).events.last!.sequence
            let leased = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
            try store.recordOutcome(leased.flatMap { $0.jobs.map(\.id) }, .delivered(at: options.clock.now))
            options.clock.advance(by: 30 * 86_400)
            _ = try store.purgeExpiredData(now: options.clock.now)
        }
        let store = try factory.open(directory.path, options)
        defer { store.close() }
        #expect(try store.appendAndWait([identify("c")]).events[0].sequence > lastSequence)
    }
}

final class StatusCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [EventStatus?] = []

    func add(_ status: EventStatus?) { lock.withLock { collected.append(status) } }
    var values: [EventStatus?] { lock.withLock { collected } }
}
