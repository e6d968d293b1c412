import CoreMetrics
import DeliveryQueue
import Foundation
import JSONKit
import Testing

/// Records what the queue reports, by label and dimensions.
final class RecordingMetricsFactory: MetricsFactory, @unchecked Sendable {
    final class Handler: CounterHandler, RecorderHandler, TimerHandler, @unchecked Sendable {
        private let lock = NSLock()
        private var values: [Double] = []
        private var total: Int64 = 0

        func increment(by amount: Int64) { lock.withLock { total += amount } }
        func reset() { lock.withLock { total = 0 } }
        func record(_ value: Int64) { lock.withLock { values.append(Double(value)) } }
        func record(_ value: Double) { lock.withLock { values.append(value) } }
        func recordNanoseconds(_ duration: Int64) { lock.withLock { values.append(Double(duration)) } }

        var count: Int64 { lock.withLock { total } }
        var recorded: [Double] { lock.withLock { values } }
    }

    private let lock = NSLock()
    private var handlers: [String: Handler] = [:]

    private func handler(_ label: String, _ dimensions: [(String, String)]) -> Handler {
        let key = label + dimensions.map { "|\($0.0)=\($0.1)" }.joined()
        return lock.withLock {
            if let handler = handlers[key] { return handler }
            let handler = Handler()
            handlers[key] = handler
            return handler
        }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> CounterHandler { handler(label, dimensions) }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> RecorderHandler { handler(label, dimensions) }
    func makeTimer(label: String, dimensions: [(String, String)]) -> TimerHandler { handler(label, dimensions) }
    func destroyCounter(_ handler: CounterHandler) {}
    func destroyRecorder(_ handler: RecorderHandler) {}
    func destroyTimer(_ handler: TimerHandler) {}

    func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 { handler(label, dimensions).count }
    func last(_ label: String) -> Double? { handler(label, []).recorded.last }
    func all(_ label: String) -> [Double] { handler(label, []).recorded }
}

@Suite struct MetricsTests {
    @Test func reportsOutcomesCallsLatencyAndGauges() async throws {
        let harness = try QueueHarness()
        for plan in ["silver", "gold", "platinum"] { try harness.append(userID: "ana", traits: ["plan": .string(plan)]) }
        try harness.append(userID: "ben", traits: ["plan": "gold"])
        try harness.append(userID: "cy", traits: ["plan": "refused"])
        let sender = ScriptedSender { call in
            call.attributes["plan"] == "refused" ? AdobeOutcomes.result(AdobeOutcomes.rejected(), calls: 2) : AdobeOutcomes.result(.delivered)
        }
        let metrics = RecordingMetricsFactory()
        var configuration = DeliveryConfiguration.fast
        configuration.rateLimitPerDay = 100
        let queue = try DeliveryQueue(configuration: configuration, store: harness.store, sender: sender,
                                      clock: harness.clock.deliveryClock, metricsFactory: metrics)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
            #expect(await eventually { metrics.last("delivery_queue_depth") == 0 && metrics.last("adobe_target_rate_limit_headroom") == 94 })
        }
        #expect(metrics.counter("adobe_target_deliveries_total", [("outcome", "delivered")]) == 4)
        #expect(metrics.counter("adobe_target_deliveries_total", [("outcome", "dead_adobe_rejected")]) == 1)
        #expect(metrics.counter("adobe_target_calls_total") == 6)
        #expect(metrics.all("adobe_target_delivery_duration_seconds").count == 3)
        #expect(metrics.last("adobe_target_lookup_cache_hit_ratio") == 0)
        #expect(metrics.last("delivery_in_flight") == 0)
        #expect(metrics.last("delivery_oldest_pending_age_seconds") == 0)
    }
}
