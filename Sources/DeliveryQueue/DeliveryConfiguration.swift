import Foundation

/// How the delivery queue schedules, bounds and paces deliveries.
///
/// The first group mirrors the `delivery.*` settings of the config file; the rest are the
/// schedule constants behind them. Every duration is in seconds and configurable so that tests
/// can compress hours into fractions of a second.
public struct DeliveryConfiguration: Sendable, Equatable {
    // MARK: `delivery.*` settings

    /// Deliveries (and so Adobe requests) in flight at most.
    public var concurrency: Int = 8
    /// Upper bound of the delay between two attempts after a transient failure (429, 5xx,
    /// timeout, connection error), before `Retry-After` is applied.
    public var maxBackoffSeconds: Double = 60
    /// A job that keeps failing transiently is dead-lettered as `EXPIRED` once this long has
    /// passed since it entered the queue.
    public var maxAgeSeconds: Double = 14_400
    /// A profile that Adobe does not know is looked up again for this long after the first
    /// "not found", then the job is dead-lettered as `PROFILE_NOT_FOUND`.
    public var profileNotFoundRetrySeconds: Double = 7_200
    /// Adobe calls allowed in any rolling `rateLimitWindowSeconds` (Adobe's daily quota).
    public var rateLimitPerDay: Int = 1_000_000

    // MARK: Schedule constants

    /// The first transient backoff ceiling; it doubles with each attempt up to `maxBackoffSeconds`.
    public var initialBackoffSeconds: Double = 1
    /// The first profile-not-found delay; later delays grow with the time already spent waiting.
    public var profileNotFoundInitialDelaySeconds: Double = 60
    /// The longest delay between two profile-not-found lookups.
    public var profileNotFoundMaxDelaySeconds: Double = 600
    /// Profile-not-found delays vary by up to this fraction either way, so that profiles that
    /// failed together do not come back together.
    public var profileNotFoundJitterFraction: Double = 0.2
    /// While paused on 401/403, one delivery is tried this often in case the refusal was transient.
    public var authorizationProbeIntervalSeconds: Double = 180
    /// The rolling window of the rate limit.
    public var rateLimitWindowSeconds: Double = 86_400
    /// How often the Adobe call count is written to the store and the window re-read.
    public var rateLimitRefreshSeconds: Double = 5
    /// How long to wait before looking again when the rate limit is reached.
    public var rateLimitWaitSeconds: Double = 5

    /// Adobe's per-request timeout, as given to the Adobe Target client. Leases are only
    /// used while enough of them is left for a delivery's requests to time out.
    public var adobeRequestTimeoutSeconds: Double = 10
    /// Requests one delivery makes at most in the usual case (a lookup and an update).
    public var callsPerDelivery: Int = 2
    /// How long leased jobs stay reserved for this process. Well above the time a delivery can
    /// take, so that a slow Adobe never lets a second worker take the same user's jobs.
    public var leaseSeconds: Double = 300
    /// Jobs leased in one store call; a user's run of due jobs is coalesced into one update.
    public var leaseBatchSize: Int = 64
    /// How long the queue sleeps when nothing is due (new jobs and `retryNow` wake it sooner).
    public var idlePollSeconds: Double = 0.5
    /// While notified jobs are still to become due, the queue leases at most this often:
    /// ingest notifies once per request, and a lease per request would cost the store a write
    /// each time (the ingest bench measured 16.6 µs of CPU per event with that, 13.6 without).
    public var newJobsPollSeconds: Double = 0.05
    /// How long to wait after the store failed before trying again.
    public var storeErrorRetrySeconds: Double = 1
    /// How often the queue-depth and oldest-pending-age gauges are refreshed.
    public var gaugeRefreshSeconds: Double = 10

    public init() {}

    /// The `delivery.*` settings of the config file, with Adobe's request timeout; the schedule
    /// constants keep their defaults. The lease grows with the timeout so that it stays well
    /// above the longest delivery.
    public init(
        concurrency: Int, maxBackoffSeconds: Double, maxAgeSeconds: Double, profileNotFoundRetrySeconds: Double,
        rateLimitPerDay: Int, adobeRequestTimeoutSeconds: Double
    ) {
        self.concurrency = concurrency
        self.maxBackoffSeconds = maxBackoffSeconds
        self.maxAgeSeconds = maxAgeSeconds
        self.profileNotFoundRetrySeconds = profileNotFoundRetrySeconds
        self.rateLimitPerDay = rateLimitPerDay
        self.adobeRequestTimeoutSeconds = adobeRequestTimeoutSeconds
        leaseSeconds = max(300, adobeRequestTimeoutSeconds * Double(callsPerDelivery) * 10)
        // A short PNF window still gets a few lookups.
        profileNotFoundInitialDelaySeconds = min(60, max(profileNotFoundRetrySeconds / 10, 1))
        profileNotFoundMaxDelaySeconds = max(profileNotFoundInitialDelaySeconds, min(600, profileNotFoundRetrySeconds / 4))
        initialBackoffSeconds = min(1, maxBackoffSeconds)
    }

    /// The lease time a delivery must still have before it starts: every request may time out.
    public var minimumLeaseRemainingSeconds: Double {
        adobeRequestTimeoutSeconds * Double(max(callsPerDelivery, 1)) + 1
    }

    /// Every problem with these values, each naming the setting and what is expected.
    public func problems() -> [String] {
        var problems: [String] = []
        func positive(_ value: Double, _ name: String) {
            if !(value > 0) || !value.isFinite { problems.append("\(name) must be a positive number of seconds (got \(value))") }
        }
        if concurrency < 1 { problems.append("concurrency must be at least 1 (got \(concurrency))") }
        if rateLimitPerDay < 1 { problems.append("rateLimitPerDay must be at least 1 (got \(rateLimitPerDay))") }
        if leaseBatchSize < 1 { problems.append("leaseBatchSize must be at least 1 (got \(leaseBatchSize))") }
        if callsPerDelivery < 1 { problems.append("callsPerDelivery must be at least 1 (got \(callsPerDelivery))") }
        positive(maxBackoffSeconds, "maxBackoffSeconds")
        positive(maxAgeSeconds, "maxAgeSeconds")
        positive(profileNotFoundRetrySeconds, "profileNotFoundRetrySeconds")
        positive(initialBackoffSeconds, "initialBackoffSeconds")
        positive(profileNotFoundInitialDelaySeconds, "profileNotFoundInitialDelaySeconds")
        positive(profileNotFoundMaxDelaySeconds, "profileNotFoundMaxDelaySeconds")
        positive(authorizationProbeIntervalSeconds, "authorizationProbeIntervalSeconds")
        positive(rateLimitWindowSeconds, "rateLimitWindowSeconds")
        positive(rateLimitRefreshSeconds, "rateLimitRefreshSeconds")
        positive(rateLimitWaitSeconds, "rateLimitWaitSeconds")
        positive(adobeRequestTimeoutSeconds, "adobeRequestTimeoutSeconds")
        positive(leaseSeconds, "leaseSeconds")
        positive(idlePollSeconds, "idlePollSeconds")
        positive(newJobsPollSeconds, "newJobsPollSeconds")
        positive(storeErrorRetrySeconds, "storeErrorRetrySeconds")
        positive(gaugeRefreshSeconds, "gaugeRefreshSeconds")
        if !(0..<1).contains(profileNotFoundJitterFraction) {
            problems.append("profileNotFoundJitterFraction must be at least 0 and below 1 (got \(profileNotFoundJitterFraction))")
        }
        if leaseSeconds <= minimumLeaseRemainingSeconds {
            problems.append(
                "leaseSeconds (\(leaseSeconds)) must exceed adobeRequestTimeoutSeconds × callsPerDelivery + 1 "
                    + "(\(minimumLeaseRemainingSeconds)) so that a delivery always finishes within its lease")
        }
        return problems
    }
}

/// The delivery configuration was refused; `problems` lists every reason.
public struct DeliveryConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]

    public var description: String {
        "invalid delivery configuration: " + problems.joined(separator: "; ")
    }
}

/// The wall clock the queue reads. Tests shift it to cross the rate-limit window or the
/// profile-not-found window without waiting; sleeping always uses real time.
public struct DeliveryClock: Sendable {
    public var now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date) {
        self.now = now
    }

    public static let system = DeliveryClock { Date() }
}
