import DeliveryQueue
import EventStore
import Foundation

/// Cumulative counters read at one moment, plus the queue depth at that moment.
///
/// The counters only ever grow while one process runs; a smaller value than the previous
/// sample's means the counter started again from zero (a restart), which `ActivityHistory`
/// detects per counter.
public struct ActivitySample: Sendable, Equatable {
    public var delivered: Int
    public var deadLettered: Int
    /// Jobs put back for a later attempt (transient failures and missing profiles).
    public var retried: Int
    public var accepted: Int
    /// A gauge, not a counter; `nil` when unknown.
    public var queueDepth: Int?

    public init(delivered: Int, deadLettered: Int, retried: Int, accepted: Int, queueDepth: Int? = nil) {
        self.delivered = delivered
        self.deadLettered = deadLettered
        self.retried = retried
        self.accepted = accepted
        self.queueDepth = queueDepth
    }

    /// Reads the counters the service already keeps. Delivered, dead-lettered and accepted come
    /// from the store's lifetime counters, so a restart does not show up as a gap; retries are
    /// counted only by the running delivery queue and restart from zero with it.
    public init(store: StoreStats, delivery: DeliveryStats?) {
        self.init(
            delivered: store.deliveredTotal, deadLettered: store.deadTotal,
            retried: delivery.map { $0.transientRetries + $0.profileNotFoundRetries } ?? 0,
            accepted: store.acceptedEvents, queueDepth: store.queueDepth)
    }
}

/// What happened during one minute.
public struct ActivityBucket: Sendable, Equatable {
    /// The first instant of the minute.
    public var start: Date
    public var delivered: Int
    public var deadLettered: Int
    public var retried: Int
    public var accepted: Int
    /// The last queue depth sampled in this minute; `nil` when no sample fell in it.
    public var queueDepth: Int?

    /// Attempts that did not deliver: dead-lettered plus put back for a retry.
    public var failed: Int { deadLettered + retried }

    public init(start: Date, delivered: Int = 0, deadLettered: Int = 0, retried: Int = 0, accepted: Int = 0, queueDepth: Int? = nil) {
        self.start = start
        self.delivered = delivered
        self.deadLettered = deadLettered
        self.retried = retried
        self.accepted = accepted
        self.queueDepth = queueDepth
    }
}

/// Per-minute activity of the last hour, built from periodic samples of cumulative counters.
///
/// Turning counters into per-minute deltas here, rather than counting at every call site,
/// keeps the delivery and ingest paths untouched: anything that exposes totals can feed it.
/// The first sample only sets the baseline (what happened before it is unknown, and showing
/// a lifetime total as one minute's spike would mislead). A delta lands in the minute of the
/// sample that revealed it, so with samples every few seconds a count is at most one
/// sampling interval late.
public final class ActivityHistory: @unchecked Sendable {
    /// Minutes kept and shown.
    public static let minutes = 60

    private let clock: @Sendable () -> Date
    private let lock = NSLock()
    private var previous: ActivitySample?
    private var latestMinute: Int64?
    private var buckets: [Int64: ActivityBucket] = [:]

    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.clock = clock
    }

    /// Records a sample taken now (by the injected clock).
    public func record(sample: ActivitySample) {
        record(sample: sample, at: clock())
    }

    /// Records a sample taken at `time`.
    ///
    /// A time earlier than the latest sample's (the wall clock was stepped back) counts in the
    /// latest sample's minute, so that history already shown is never rewritten.
    public func record(sample: ActivitySample, at time: Date) {
        lock.withLock {
            var minute = Self.minuteIndex(of: time)
            if let latestMinute, minute < latestMinute { minute = latestMinute }
            latestMinute = minute
            var bucket = buckets[minute] ?? ActivityBucket(start: Self.start(ofMinute: minute))
            if let previous {
                bucket.delivered += Self.increase(from: previous.delivered, to: sample.delivered)
                bucket.deadLettered += Self.increase(from: previous.deadLettered, to: sample.deadLettered)
                bucket.retried += Self.increase(from: previous.retried, to: sample.retried)
                bucket.accepted += Self.increase(from: previous.accepted, to: sample.accepted)
            }
            if let depth = sample.queueDepth { bucket.queueDepth = depth }
            buckets[minute] = bucket
            previous = sample
            let oldestKept = minute - Int64(Self.minutes) + 1
            buckets = buckets.filter { $0.key >= oldestKept }
        }
    }

    /// The last hour up to now (by the injected clock).
    public func lastHour() -> [ActivityBucket] {
        lastHour(endingAt: clock())
    }

    /// Exactly `minutes` buckets, oldest first, the last one being the minute containing `end`
    /// (still in progress). Minutes without samples are zeros.
    public func lastHour(endingAt end: Date) -> [ActivityBucket] {
        let recorded = lock.withLock { Array(buckets.values) }
        return Self.lastHour(of: recorded, endingAt: end)
    }

    /// Lays `buckets` out on the hour ending at the minute containing `end`: one bucket per
    /// minute, oldest first, zeros where none was given, buckets outside the hour dropped.
    public static func lastHour(of buckets: [ActivityBucket], endingAt end: Date) -> [ActivityBucket] {
        let last = minuteIndex(of: end)
        let first = last - Int64(minutes) + 1
        var byMinute: [Int64: ActivityBucket] = [:]
        for bucket in buckets {
            let minute = minuteIndex(of: bucket.start)
            if minute >= first && minute <= last { byMinute[minute] = bucket }
        }
        return (first...last).map { minute in
            var bucket = byMinute[minute] ?? ActivityBucket(start: start(ofMinute: minute))
            bucket.start = start(ofMinute: minute)
            return bucket
        }
    }

    /// Samples every `interval` until the surrounding task is cancelled. `reading` returns
    /// `nil` when the counters cannot be read right now (the store is closing); that sample
    /// is skipped.
    public func recordPeriodically(every interval: Duration, reading: @escaping @Sendable () -> ActivitySample?) async {
        while !Task.isCancelled {
            if let sample = reading() { record(sample: sample) }
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// A counter that went down was reset (the process restarted); everything it counts now
    /// happened since the reset.
    private static func increase(from old: Int, to new: Int) -> Int {
        max(0, new >= old ? new - old : new)
    }

    static func minuteIndex(of date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / 60).rounded(.down))
    }

    static func start(ofMinute minute: Int64) -> Date {
        Date(timeIntervalSince1970: Double(minute) * 60)
    }
}
