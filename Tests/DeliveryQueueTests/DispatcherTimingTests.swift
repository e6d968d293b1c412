import DeliveryQueue
import EventStore
import Foundation
import JSONKit
import Testing

/// A store that forwards to a real one, counts leases and can make them slow, as a store
/// is when its writer is busy with other work.
final class InstrumentedStore: EventStore, @unchecked Sendable {
    private let base: any EventStore
    private let lock = NSLock()
    private var leaseCount = 0
    private var leaseDelays: [Double] = []

    init(_ base: any EventStore) { self.base = base }

    /// Leases so far.
    var leases: Int { lock.withLock { leaseCount } }

    /// The leases made while `body` ran, and how long it ran.
    func leases(during body: () async throws -> Void) async rethrows -> (count: Int, seconds: Double) {
        let before = leases
        let started = ContinuousClock.now
        try await body()
        return (leases - before, (ContinuousClock.now - started).seconds)
    }

    /// Makes the next leases take these many seconds longer, in order, before they run.
    func delayNextLeases(by seconds: [Double]) { lock.withLock { leaseDelays = seconds } }

    func leaseDueJobs(now: Date, limit: Int, leaseSeconds: Double) throws(StoreError) -> [LeasedJobGroup] {
        let delay: Double = lock.withLock {
            leaseCount += 1
            return leaseDelays.isEmpty ? 0 : leaseDelays.removeFirst()
        }
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return try base.leaseDueJobs(now: now, limit: limit, leaseSeconds: leaseSeconds)
    }

    func append(_ batch: [IncomingEvent], completion: @escaping @Sendable (Result<AppendReceipt, StoreError>) -> Void) {
        base.append(batch, completion: completion)
    }

    func recordOutcome(_ jobIDs: [JobID], _ outcome: JobOutcome) throws(StoreError) { try base.recordOutcome(jobIDs, outcome) }
    func deadLetters(limit: Int, offset: Int) throws(StoreError) -> [DeadLetter] { try base.deadLetters(limit: limit, offset: offset) }
    func replayDeadLetters(ids: [JobID]?) throws(StoreError) -> ReplaySummary { try base.replayDeadLetters(ids: ids) }
    func makeAllPendingDueNow() throws(StoreError) -> Int { try base.makeAllPendingDueNow() }
    func stats() throws(StoreError) -> StoreStats { try base.stats() }
    func writeProblem() -> String? { base.writeProblem() }
    func setting(named name: String) throws(StoreError) -> JSONValue? { try base.setting(named: name) }
    func setSetting(_ value: JSONValue?, named name: String) throws(StoreError) { try base.setSetting(value, named: name) }
    func recordAdobeCalls(_ count: Int, at time: Date) throws(StoreError) { try base.recordAdobeCalls(count, at: time) }
    func adobeCalls(since time: Date) throws(StoreError) -> Int { try base.adobeCalls(since: time) }
    func receivedEvents(after sequence: EventSequence, limit: Int) throws(StoreError) -> [ReceivedEvent] {
        try base.receivedEvents(after: sequence, limit: limit)
    }
    func jobs(forEvent sequence: EventSequence) throws(StoreError) -> [Job] { try base.jobs(forEvent: sequence) }
    func purgeExpiredData(now: Date) throws(StoreError) -> PurgeSummary { try base.purgeExpiredData(now: now) }
    func close() { base.close() }
}

/// How the dispatcher paces itself: idle polling, and leases that took a while to obtain.
@Suite(.timeLimit(.minutes(1))) struct DispatcherTimingTests {
    /// Runs `body` against a started queue with nothing to deliver, once it has made its
    /// first lease, with `configure` applied to the fast test configuration.
    private func withIdleQueue(
        _ configure: (inout DeliveryConfiguration) -> Void,
        _ body: (DeliveryQueue, InstrumentedStore) async throws -> Void
    ) async throws {
        let harness = try QueueHarness()
        let store = InstrumentedStore(harness.store)
        var configuration = DeliveryConfiguration.fast
        configure(&configuration)
        let queue = try DeliveryQueue(configuration: configuration, store: store, sender: ScriptedSender(),
                                      clock: harness.clock.deliveryClock)
        try await harness.run(queue) { () async throws in
            #expect(await eventually { store.leases >= 1 })
            try await body(queue, store)
        }
    }

    /// An early wake-up (new jobs) used to leave the cancelled poll timer's wake-up behind,
    /// which ended the next sleep at once, and so on: an idle queue leased without pause.
    @Test func anIdleQueuePollsAtItsIntervalAfterAnEarlyWakeUp() async throws {
        let idlePollSeconds = 0.25
        try await withIdleQueue({ $0.idlePollSeconds = idlePollSeconds }) { queue, store in
            for _ in 0..<3 {
                queue.notifyJobsAdded()
                try await Task.sleep(nanoseconds: 30_000_000)
            }
            let (polls, elapsed) = try await store.leases { try await Task.sleep(nanoseconds: 1_000_000_000) }
            // One lease per interval, and one more for a timer that fired as the sleep ended.
            #expect(polls <= Int(elapsed / idlePollSeconds) + 2,
                    "\(polls) leases in \(elapsed) s while idle; the poll interval is \(idlePollSeconds) s")
        }
    }

    /// Ingest notifies once per request. Jobs not yet due (the coalescing delay) must not
    /// cost a lease per notification: each is a store write that ingest commits wait behind.
    @Test func notificationsOfJobsNotYetDueShareLeases() async throws {
        let pollSeconds = 0.2
        try await withIdleQueue({ $0.idlePollSeconds = 5; $0.newJobsPollSeconds = pollSeconds }) { queue, store in
            let (leases, elapsed) = try await store.leases {
                for _ in 0..<200 {
                    queue.notifyJobsAdded(dueInSeconds: 0.5)
                    try await Task.sleep(nanoseconds: 5_000_000)
                }
                try await Task.sleep(nanoseconds: 500_000_000)
            }
            // One at the first notification, then one per poll interval once jobs come due.
            #expect(leases <= Int(elapsed / pollSeconds) + 3,
                    "\(leases) leases in \(elapsed) s for 200 notifications; the poll interval is \(pollSeconds) s")
        }
    }

    /// Between two notified due times far apart the queue waits: it does not poll every
    /// `newJobsPollSeconds` until the later one (sparse traffic with a long coalescing delay).
    @Test func farApartDueTimesCostOneLeaseEach() async throws {
        try await withIdleQueue({ $0.idlePollSeconds = 5; $0.newJobsPollSeconds = 0.05 }) { queue, store in
            let (leases, elapsed) = try await store.leases {
                queue.notifyJobsAdded(dueInSeconds: 0.2)
                queue.notifyJobsAdded(dueInSeconds: 1.2)
                try await Task.sleep(nanoseconds: 1_500_000_000)
            }
            // The wake-up at the first notification, one lease at 0.2 s and one at 1.2 s.
            #expect(leases <= 5, "\(leases) leases in \(elapsed) s for two due times; polling every 0.05 s would make about 20")
            #expect(leases >= 2, "\(leases) leases: the due times were not leased for")
        }
    }

    /// A job notified as due later is leased when it comes due, not at the next idle poll.
    @Test func aNotifiedJobIsDeliveredWhenItComesDue() async throws {
        let harness = try QueueHarness(firstAttemptDelaySeconds: 0.3)
        var configuration = DeliveryConfiguration.fast
        configuration.idlePollSeconds = 30
        configuration.newJobsPollSeconds = 0.1
        let delivered = LockedValues()
        let sender = ScriptedSender { _ in
            delivered.append(1)
            return AdobeOutcomes.result(.delivered)
        }
        let store = InstrumentedStore(harness.store)
        let queue = try DeliveryQueue(configuration: configuration, store: store, sender: sender,
                                      clock: harness.clock.deliveryClock)
        try await harness.run(queue) { () async throws in
            #expect(await eventually { store.leases >= 1 })
            try harness.append(userID: "ana", traits: ["plan": "gold"])
            queue.notifyJobsAdded(dueInSeconds: 0.3)
            #expect(await eventually(timeout: 5) { delivered.values.count == 1 },
                    "the job was due 0.3 s after it was stored; the idle poll is 30 s")
        }
    }

    /// A run's remaining lease is judged by the time it is about to start. The dispatcher
    /// used the time read before the lease call: after a slow lease call (a busy store) it
    /// started the first run with less lease left than its requests may take, so the lease
    /// could expire mid-delivery and another worker take the same jobs.
    @Test func noRunStartsWithLessLeaseLeftThanADeliveryNeeds() async throws {
        let harness = try QueueHarness()
        let ana = try harness.append(userID: "ana", traits: ["plan": "gold"])
        let ben = try harness.append(userID: "ben", traits: ["plan": "gold"])
        let store = InstrumentedStore(harness.store)
        store.delayNextLeases(by: [1])
        var configuration = DeliveryConfiguration.fast
        configuration.adobeRequestTimeoutSeconds = 0.5
        configuration.leaseSeconds = 3
        let needed = configuration.minimumLeaseRemainingSeconds
        let sequences = ["ana": ana, "ben": ben]
        let leaseLeftAtStart = LockedValues()
        let clock = harness.clock
        let sender = ScriptedSender { call in
            if let sequence = sequences[call.userID], let expiry = try? harness.job(forEvent: sequence).leaseExpiresAt {
                leaseLeftAtStart.append(expiry.timeIntervalSince(clock.now))
            }
            return AdobeOutcomes.result(.delivered)
        }
        let queue = try DeliveryQueue(configuration: configuration, store: store, sender: sender,
                                      clock: harness.clock.deliveryClock)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
        }
        #expect(leaseLeftAtStart.values.count == 2)
        // The store keeps lease times to the millisecond.
        #expect(leaseLeftAtStart.values.allSatisfy { $0 >= needed - 0.002 },
                "lease left when deliveries started: \(leaseLeftAtStart.values) s; a delivery needs \(needed) s")
    }
}

final class LockedValues: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Double] = []
    func append(_ value: Double) { lock.withLock { stored.append(value) } }
    var values: [Double] { lock.withLock { stored } }
}
