import DeliveryQueue
import EventStore
import Foundation
import JSONKit
import Testing

/// Wall-clock time that a test can move forward, shared by the store and the queue.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offset: TimeInterval = 0

    var now: Date { lock.withLock { Date().addingTimeInterval(offset) } }

    func advance(by seconds: TimeInterval) { lock.withLock { offset += seconds } }

    var deliveryClock: DeliveryClock { DeliveryClock { [self] in now } }
}

/// A real SQLite store in a temporary directory, and helpers to fill and inspect it.
final class QueueHarness: @unchecked Sendable {
    let directory: String
    let clock = TestClock()
    let store: SQLiteEventStore
    private var nextMessage = 0

    /// `firstAttemptDelaySeconds`: how long after acceptance stored jobs become due.
    init(firstAttemptDelaySeconds: Double = 0) throws {
        directory = NSTemporaryDirectory() + "delivery-queue-tests-" + UUID().uuidString
        var configuration = SQLiteEventStoreConfiguration()
        configuration.firstAttemptDelaySeconds = firstAttemptDelaySeconds
        configuration.minFreeDiskBytes = 0
        configuration.automaticPurgeInterval = nil
        let clock = self.clock
        configuration.clock = { clock.now }
        store = try SQLiteEventStore(directory: directory, configuration: configuration)
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stores one identify for `userID` whose mapping produced `traits`; returns its sequence.
    @discardableResult
    func append(userID: String, traits: JSONValue, mappingID: String = "update-profile") throws -> EventSequence {
        nextMessage += 1
        let messageId = "msg-\(userID)-\(nextMessage)"
        let body = JSONSerializer.serialize(["type": "identify", "userId": .string(userID), "messageId": .string(messageId), "traits": traits])
        let receipt = try store.appendAndWait([
            .accepted(messageId: messageId, body: body, jobs: [.delivery(mappingID: mappingID, userID: userID, payload: traits)]),
        ])
        return receipt.events[0].sequence
    }

    func job(forEvent sequence: EventSequence) throws -> Job {
        let jobs = try store.jobs(forEvent: sequence)
        guard let job = jobs.first else { throw HarnessError("event \(sequence) has no job") }
        return job
    }

    func makeQueue(_ configuration: DeliveryConfiguration = .fast, sender: any ProfileUpdateSending) throws -> DeliveryQueue {
        try DeliveryQueue(configuration: configuration, store: store, sender: sender, clock: clock.deliveryClock)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension DeliveryConfiguration {
    /// Hours compressed into fractions of a second.
    static var fast: DeliveryConfiguration {
        var configuration = DeliveryConfiguration()
        configuration.concurrency = 4
        configuration.initialBackoffSeconds = 0.02
        configuration.maxBackoffSeconds = 0.1
        configuration.maxAgeSeconds = 30
        configuration.profileNotFoundRetrySeconds = 30
        configuration.profileNotFoundInitialDelaySeconds = 0.05
        configuration.profileNotFoundMaxDelaySeconds = 0.2
        configuration.authorizationProbeIntervalSeconds = 60
        configuration.rateLimitRefreshSeconds = 0.1
        configuration.rateLimitWaitSeconds = 0.05
        configuration.adobeRequestTimeoutSeconds = 0.5
        // 4 s between the lease and the minimum a delivery needs left (2 s): a leased run
        // waits for a store round trip and a free thread before it starts, which under load
        // has taken over a second; with less slack it would be skipped until its lease expired.
        configuration.leaseSeconds = 6
        configuration.idlePollSeconds = 0.05
        configuration.storeErrorRetrySeconds = 0.1
        configuration.gaugeRefreshSeconds = 0.2
        return configuration
    }
}

/// Polls `condition` until it holds or the code under test had `timeout` seconds to make it
/// hold; returns whether it held.
///
/// The test process shares a few threads among hundreds of parallel tests, and some of them
/// block a thread for seconds. While the threads are blocked, this poller and the queue it
/// watches are both frozen: a queue seen starting its first lease 26 s after `start()` made
/// a wall-clock deadline fail although the queue had not run at all. So each poll charges the
/// real time it took only up to `maxChargedPollSeconds`, and a late wake-up (the process was
/// starved) lengthens the wait instead of using it up. A queue that stalls while the poller
/// runs on time still fails, and `timeout × 4` of wall time ends the wait in any case.
func eventually(timeout: Double = 10, _ condition: () throws -> Bool) async rethrows -> Bool {
    let maxChargedPollSeconds = 0.25
    let wallDeadline = ContinuousClock.now + .seconds(timeout * 4)
    var remaining = timeout
    var last = ContinuousClock.now
    while remaining > 0 && ContinuousClock.now < wallDeadline {
        if try condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
        let now = ContinuousClock.now
        remaining -= min((now - last).seconds, maxChargedPollSeconds)
        last = now
    }
    return try condition()
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension QueueHarness {
    /// Starts `queue`, runs `body`, and stops the queue even when `body` fails, so that no
    /// queue outlives its store.
    func run(_ queue: DeliveryQueue, gracePeriodSeconds: Double = 10, _ body: () async throws -> Void) async throws {
        try queue.start()
        do {
            try await body()
        } catch {
            await queue.stop(gracePeriodSeconds: gracePeriodSeconds)
            throw error
        }
        await queue.stop(gracePeriodSeconds: gracePeriodSeconds)
    }
}

extension QueueHarness {
    /// Stores one request's worth of identifies in one durable step, as a Segment batch arrives.
    func appendBurst(_ events: [(userID: String, traits: JSONValue)]) throws {
        var incoming: [IncomingEvent] = []
        for event in events {
            let messageId = "burst-\(event.userID)-\(UUID().uuidString.prefix(8))"
            let body = JSONSerializer.serialize(["type": "identify", "userId": .string(event.userID), "traits": event.traits])
            incoming.append(.accepted(messageId: messageId, body: body, jobs: [
                .delivery(mappingID: "update-profile", userID: event.userID, payload: event.traits),
            ]))
        }
        let receipt = try store.appendAndWait(incoming)
        guard receipt.acceptedCount == events.count else {
            throw HarnessError("the store accepted \(receipt.acceptedCount) of \(events.count) events")
        }
    }
}
