import Foundation
import Metrics

/// The queue's swift-metrics instruments; whatever backend the app bootstraps exports them.
final class DeliveryMetrics: @unchecked Sendable {
    static let deliveriesLabel = "adobe_target_deliveries_total"

    private let lock = NSLock()
    private var outcomeCounters: [String: Counter] = [:]

    /// Adobe requests sent (lookups and updates, answered or not).
    let adobeCalls = Counter(label: "adobe_target_calls_total")
    /// Time of one delivery: the lookup (unless cached) and the update, as Adobe answered them.
    let deliveryLatency = Metrics.Timer(label: "adobe_target_delivery_duration_seconds", preferredDisplayUnit: .seconds)
    let rateLimitHeadroom = Gauge(label: "adobe_target_rate_limit_headroom")
    let rateLimitWaiting = Gauge(label: "adobe_target_rate_limit_waiting")
    let queueDepth = Gauge(label: "delivery_queue_depth")
    let oldestPendingAge = Gauge(label: "delivery_oldest_pending_age_seconds")
    let paused = Gauge(label: "delivery_paused")
    let inFlight = Gauge(label: "delivery_in_flight")
    let lookupCacheHitRatio = Gauge(label: "adobe_target_lookup_cache_hit_ratio")

    /// Counts jobs by outcome class (`delivered`, `transient_retry`, `dead_expired`, …).
    func countJobs(_ count: Int, outcomeClass: String) {
        guard count > 0 else { return }
        let counter = lock.withLock {
            if let counter = outcomeCounters[outcomeClass] { return counter }
            let counter = Counter(label: Self.deliveriesLabel, dimensions: [("outcome", outcomeClass)])
            outcomeCounters[outcomeClass] = counter
            return counter
        }
        counter.increment(by: count)
    }
}
