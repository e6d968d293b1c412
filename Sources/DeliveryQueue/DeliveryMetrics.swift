import Foundation
import Metrics

/// The queue's swift-metrics instruments; whatever backend the app bootstraps exports them.
final class DeliveryMetrics: @unchecked Sendable {
    static let deliveriesLabel = "adobe_target_deliveries_total"

    private let lock = NSLock()
    private var outcomeCounters: [String: Counter] = [:]

    private let factory: any MetricsFactory
    /// Adobe requests sent (lookups and updates, answered or not).
    let adobeCalls: Counter
    /// Time of one delivery: the lookup (unless cached) and the update, as Adobe answered them.
    let deliveryLatency: Metrics.Timer
    let rateLimitHeadroom: Gauge
    let rateLimitWaiting: Gauge
    let queueDepth: Gauge
    let oldestPendingAge: Gauge
    let paused: Gauge
    let inFlight: Gauge
    let lookupCacheHitRatio: Gauge

    init(factory: any MetricsFactory) {
        self.factory = factory
        adobeCalls = Counter(label: "adobe_target_calls_total", factory: factory)
        deliveryLatency = Metrics.Timer(label: "adobe_target_delivery_duration_seconds", factory: factory)
        rateLimitHeadroom = Gauge(label: "adobe_target_rate_limit_headroom", factory: factory)
        rateLimitWaiting = Gauge(label: "adobe_target_rate_limit_waiting", factory: factory)
        queueDepth = Gauge(label: "delivery_queue_depth", factory: factory)
        oldestPendingAge = Gauge(label: "delivery_oldest_pending_age_seconds", factory: factory)
        paused = Gauge(label: "delivery_paused", factory: factory)
        inFlight = Gauge(label: "delivery_in_flight", factory: factory)
        lookupCacheHitRatio = Gauge(label: "adobe_target_lookup_cache_hit_ratio", factory: factory)
    }

    /// Counts jobs by outcome class (`delivered`, `transient_retry`, `dead_expired`, …).
    func countJobs(_ count: Int, outcomeClass: String) {
        guard count > 0 else { return }
        let counter = lock.withLock {
            if let counter = outcomeCounters[outcomeClass] { return counter }
            let counter = Counter(label: Self.deliveriesLabel, dimensions: [("outcome", outcomeClass)], factory: factory)
            outcomeCounters[outcomeClass] = counter
            return counter
        }
        counter.increment(by: count)
    }
}
