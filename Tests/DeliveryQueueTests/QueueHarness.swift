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

    init() throws {
        directory = NSTemporaryDirectory() + "delivery-queue-tests-" + UUID().uuidString
        var configuration = SQLiteEventStoreConfiguration()
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
        configuration.leaseSeconds = 3
        configuration.idlePollSeconds = 0.05
        configuration.storeErrorRetrySeconds = 0.1
        configuration.gaugeRefreshSeconds = 0.2
        return configuration
    }
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
func eventually(timeout: Double = 10, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return try condition()
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
