import Foundation
import Testing

/// `/health`, `/ready` and `/metrics` of §3.
@Suite("operational endpoints of serve")
struct OperationalEndpointsTests {
    @Test("/health and /ready answer 200 on a healthy server")
    func healthAndReady() throws {
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch)
        defer { serve.terminate() }
        let health = try serve.client.get("/health")
        #expect(health.status == 200)
        #expect(health.json["status"]?.stringValue == "ok", "\(health)")
        let ready = try serve.client.get("/ready")
        #expect(ready.status == 200, "\(ready)")
        let wrongMethod = try serve.client.send("POST", "/ready")
        #expect(wrongMethod.status == 405, "\(wrongMethod)")
    }

    @Test("/metrics is Prometheus text whose ingest counters follow stored, duplicate and rejected events")
    func metricsCountIngest() throws {
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch)
        defer { serve.terminate() }

        let batch = "[" + (0..<3).map { SegmentFixtures.identify(messageId: "metrics-\($0)", userId: "m-user") }.joined(separator: ",")
            + #",{"type":"identify","messageId":"metrics-bad"}]"#
        let first = try serve.client.post("/webhook", json: batch)
        #expect(first.status == 200, "\(first)")
        #expect(first.json["accepted"]?.numberValue == 3, "\(first)")
        #expect(first.json["rejected"]?.arrayValue?.count == 1, "\(first)")
        let again = try serve.client.post("/webhook", json: SegmentFixtures.identify(messageId: "metrics-0", userId: "m-user"))
        #expect(again.status == 200 && again.json["accepted"]?.numberValue == 1, "a duplicate must be accepted again: \(again)")

        let metrics = try serve.client.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true, "\(metrics.headers)")
        let samples = PrometheusText(metrics.text)
        #expect(metrics.text.contains("# TYPE segment_ingest_events_total counter"), "\(metrics.text)")
        #expect(samples.value(#"segment_ingest_events_total{outcome="stored"}"#) == 3, "\(metrics.text)")
        #expect(samples.value(#"segment_ingest_events_total{outcome="duplicate"}"#) == 1, "\(metrics.text)")
        #expect(samples.value(#"segment_ingest_events_total{outcome="rejected"}"#) == 1, "\(metrics.text)")
        // The identify without userId or anonymousId, counted by its bounded reason.
        #expect(samples.value(#"segment_ingest_rejected_total{reason="missing_field"}"#) == 1, "\(metrics.text)")
        #expect(samples.names.contains("segment_ingest_requests_total"), "\(metrics.text)")
    }
}

/// The samples of a Prometheus text exposition, by series (`name{labels}`).
struct PrometheusText {
    private var samples: [String: Double] = [:]
    var names: Set<String> = []

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = String(line[..<space])
            samples[series] = value
            names.insert(String(series.prefix { $0 != "{" }))
        }
    }

    /// The value of a series; labels may be listed in any order in the exposition.
    func value(_ series: String) -> Double? {
        if let exact = samples[series] { return exact }
        let wanted = Self.normalise(series)
        return samples.first { Self.normalise($0.key) == wanted }?.value
    }

    private static func normalise(_ series: String) -> String {
        guard let open = series.firstIndex(of: "{"), series.hasSuffix("}") else { return series }
        let labels = series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: ",").sorted()
        return series[..<open] + "{" + labels.joined(separator: ",") + "}"
    }
}
