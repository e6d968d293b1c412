import DeliveryQueue
import EventStore
import Foundation
import MappingKit

/// Everything the status page shows, as plain values.
///
/// It deliberately holds no credentials, user IDs, event bodies or Adobe answer bodies: the
/// page is meant to be opened on a shared screen, so what it cannot carry it cannot leak.
public struct StatusSnapshot: Sendable, Equatable {
    /// When the snapshot was taken; the page shows times relative to it, so rendering never
    /// reads the clock.
    public var generatedAt: Date
    /// When this process started, for the uptime; `nil` hides it.
    public var startedAt: Date?
    /// Deliveries go to the built-in simulator instead of Adobe Target.
    public var isSandbox: Bool
    /// The Adobe Target client code deliveries go to (not a secret; `nil` in sandbox mode).
    public var adobeClientCode: String?
    /// The store's counters; `nil` when they could not be read.
    public var queue: Queue?
    /// Why the store refuses or fails writes right now (disk full, closed, …); `nil` when fine.
    public var storeProblem: String?
    /// The delivery queue's state; `nil` when it is not running.
    public var delivery: Delivery?
    /// Per-minute activity of the last hour, oldest first (as `ActivityHistory.lastHour()`).
    public var activity: [ActivityBucket]
    /// The newest dead letters, newest first.
    public var deadLetters: [DeadLetterRow]
    /// Dead letters held in all (may exceed `deadLetters.count`).
    public var deadLettersHeld: Int
    public var mappings: [MappingRow]

    public init(
        generatedAt: Date, startedAt: Date? = nil, isSandbox: Bool = false, adobeClientCode: String? = nil,
        queue: Queue?, storeProblem: String? = nil, delivery: Delivery?, activity: [ActivityBucket],
        deadLetters: [DeadLetterRow], deadLettersHeld: Int, mappings: [MappingRow]
    ) {
        self.generatedAt = generatedAt
        self.startedAt = startedAt
        self.isSandbox = isSandbox
        self.adobeClientCode = adobeClientCode
        self.queue = queue
        self.storeProblem = storeProblem
        self.delivery = delivery
        self.activity = activity
        self.deadLetters = deadLetters
        self.deadLettersHeld = deadLettersHeld
        self.mappings = mappings
    }

    /// The store's lifetime counters and queue.
    public struct Queue: Sendable, Equatable {
        /// Unfinished jobs: pending plus in flight.
        public var depth: Int
        public var inFlight: Int
        public var oldestPendingAge: TimeInterval?
        public var deliveredTotal: Int
        public var deadLetteredTotal: Int
        public var acceptedEvents: Int
        public var rejectedEvents: Int
        public var duplicateEvents: Int

        public init(
            depth: Int, inFlight: Int, oldestPendingAge: TimeInterval?, deliveredTotal: Int, deadLetteredTotal: Int,
            acceptedEvents: Int, rejectedEvents: Int, duplicateEvents: Int
        ) {
            self.depth = depth
            self.inFlight = inFlight
            self.oldestPendingAge = oldestPendingAge
            self.deliveredTotal = deliveredTotal
            self.deadLetteredTotal = deadLetteredTotal
            self.acceptedEvents = acceptedEvents
            self.rejectedEvents = rejectedEvents
            self.duplicateEvents = duplicateEvents
        }

        public init(_ stats: StoreStats) {
            self.init(
                depth: stats.queueDepth, inFlight: stats.inFlight, oldestPendingAge: stats.oldestPendingAge,
                deliveredTotal: stats.deliveredTotal, deadLetteredTotal: stats.deadTotal,
                acceptedEvents: stats.acceptedEvents, rejectedEvents: stats.rejectedEvents,
                duplicateEvents: stats.duplicateEvents)
        }
    }

    /// The delivery queue since this process started.
    public struct Delivery: Sendable, Equatable {
        public var isRunning: Bool
        /// Why delivery is paused (Adobe refused the credentials); `nil` while delivering.
        public var pauseReason: String?
        public var pausedSince: Date?
        public var deliveredJobs: Int
        public var adobeCalls: Int
        public var lookupCacheHitRatio: Double?
        public var rateLimit: RateLimit
        /// The last store failure the queue met, until a store call succeeds again.
        public var lastStoreError: String?

        public var isPaused: Bool { pauseReason != nil }
        /// Adobe requests per delivered job; `nil` before the first delivery.
        public var adobeCallsPerDeliveredJob: Double? {
            deliveredJobs == 0 ? nil : Double(adobeCalls) / Double(deliveredJobs)
        }

        public init(
            isRunning: Bool = true, pauseReason: String? = nil, pausedSince: Date? = nil, deliveredJobs: Int,
            adobeCalls: Int, lookupCacheHitRatio: Double? = nil, rateLimit: RateLimit, lastStoreError: String? = nil
        ) {
            self.isRunning = isRunning
            self.pauseReason = pauseReason
            self.pausedSince = pausedSince
            self.deliveredJobs = deliveredJobs
            self.adobeCalls = adobeCalls
            self.lookupCacheHitRatio = lookupCacheHitRatio
            self.rateLimit = rateLimit
            self.lastStoreError = lastStoreError
        }

        public init(_ stats: DeliveryStats) {
            self.init(
                isRunning: stats.isRunning, pauseReason: stats.pauseReason, pausedSince: stats.pausedSince,
                deliveredJobs: stats.deliveredJobs, adobeCalls: stats.adobeCalls,
                lookupCacheHitRatio: stats.lookupCacheHitRatio, rateLimit: RateLimit(stats.rateLimit),
                lastStoreError: stats.lastStoreError)
        }
    }

    /// The rolling-window limit on Adobe calls.
    public struct RateLimit: Sendable, Equatable {
        public var limit: Int
        public var windowSeconds: Double
        public var usedInWindow: Int
        /// Calls that may still start now.
        public var headroom: Int
        /// Deliveries are waiting for the window to free room.
        public var isWaiting: Bool

        public init(limit: Int, windowSeconds: Double, usedInWindow: Int, headroom: Int, isWaiting: Bool) {
            self.limit = limit
            self.windowSeconds = windowSeconds
            self.usedInWindow = usedInWindow
            self.headroom = headroom
            self.isWaiting = isWaiting
        }

        public init(_ state: RateLimitState) {
            self.init(
                limit: state.limit, windowSeconds: state.windowSeconds, usedInWindow: state.usedInWindow,
                headroom: state.headroom, isWaiting: state.isWaiting)
        }
    }

    /// One dead letter without its event, payload, user ID or Adobe's answer body.
    public struct DeadLetterRow: Sendable, Equatable {
        /// The id `POST /admin/dead-letters/replay` takes.
        public var id: Int64
        /// A code such as `PROFILE_NOT_FOUND`.
        public var reason: String
        public var message: String
        public var mappingID: String
        public var attempts: Int
        /// The HTTP status of Adobe's last answer; `nil` when Adobe never answered.
        public var lastAdobeStatus: Int?
        public var deadAt: Date

        public init(id: Int64, reason: String, message: String, mappingID: String, attempts: Int, lastAdobeStatus: Int?, deadAt: Date) {
            self.id = id
            self.reason = reason
            self.message = message
            self.mappingID = mappingID
            self.attempts = attempts
            self.lastAdobeStatus = lastAdobeStatus
            self.deadAt = deadAt
        }

        public init(_ letter: DeadLetter) {
            self.init(
                id: letter.id, reason: letter.reason.rawValue, message: letter.message, mappingID: letter.mappingID,
                attempts: letter.attempts, lastAdobeStatus: letter.lastAnswer?.status, deadAt: letter.deadAt)
        }
    }

    /// One mapping in force.
    public struct MappingRow: Sendable, Equatable {
        public var id: String
        public var name: String
        public var isEnabled: Bool
        /// The FQL trigger as written.
        public var subscription: String
        public var action: String

        public init(id: String, name: String, isEnabled: Bool, subscription: String, action: String = ActionMapping.updateProfileAction) {
            self.id = id
            self.name = name
            self.isEnabled = isEnabled
            self.subscription = subscription
            self.action = action
        }

        public init(_ mapping: ActionMapping) {
            self.init(
                id: mapping.id, name: mapping.name, isEnabled: mapping.isEnabled,
                subscription: mapping.subscription.source, action: mapping.action)
        }
    }
}

extension StatusSnapshot {
    /// Builds the snapshot from what the service holds, so wiring is one call.
    ///
    /// - Parameters:
    ///   - store: the store's counters, `nil` when `stats()` failed (say why in `storeProblem`).
    ///   - deadLetters: the newest dead letters in any order (see `newestDeadLetters(in:held:limit:)`);
    ///     they are shown newest first.
    ///   - activity: `ActivityHistory.lastHour()`.
    public init(
        generatedAt: Date, startedAt: Date? = nil, isSandbox: Bool, adobeClientCode: String?,
        store: StoreStats?, storeProblem: String?, delivery: DeliveryStats?,
        deadLetters: [DeadLetter], mappings: [ActionMapping], activity: [ActivityBucket]
    ) {
        let newestFirst = deadLetters.sorted { ($0.deadAt, $0.id) > ($1.deadAt, $1.id) }
        self.init(
            generatedAt: generatedAt, startedAt: startedAt, isSandbox: isSandbox,
            adobeClientCode: isSandbox ? nil : adobeClientCode, queue: store.map(Queue.init),
            storeProblem: storeProblem, delivery: delivery.map(Delivery.init), activity: activity,
            deadLetters: newestFirst.map(DeadLetterRow.init),
            deadLettersHeld: max(store?.deadLetters ?? 0, deadLetters.count), mappings: mappings.map(MappingRow.init))
    }

    /// The newest `limit` dead letters. The store lists them oldest first, so this reads the
    /// tail; `held` is `StoreStats.deadLetters`.
    public static func newestDeadLetters(in store: any EventStore, held: Int, limit: Int = 20) throws(StoreError) -> [DeadLetter] {
        try store.deadLetters(limit: limit, offset: max(0, held - limit))
    }
}
