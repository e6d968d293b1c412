import Foundation
import JSONKit
import Testing
@testable import EventStore

/// Ingest throughput of the store alone, opt-in:
/// `STORE_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter StoreBenchmark`
/// (`STORE_BENCH_SECONDS`, `STORE_BENCH_CLIENTS`, `STORE_BENCH_DELIVERY=1` for a delivery loop
/// beside ingest, `STORE_BENCH_CHECKPOINT_INTERVAL`/`_PAGES` to tune checkpoints).
///
/// Mirrors the ingest bench: 32 concurrent clients, 20-event batches of ~800-byte identify
/// events, each with one delivery job; an append counts when its completion (commit + fsync)
/// fires.
@Suite("Store benchmark")
struct StoreBenchmark {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["STORE_BENCH"] == "1"))
    func ingestThroughput() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = Double(environment["STORE_BENCH_SECONDS"] ?? "") ?? 5
        let clients = Int(environment["STORE_BENCH_CLIENTS"] ?? "") ?? 32
        let directory = try TemporaryDirectory()
        var configuration = SQLiteEventStoreConfiguration()
        configuration.logger.logLevel = .warning
        configuration.maxQueueDepth = .max
        if let interval = environment["STORE_BENCH_CHECKPOINT_INTERVAL"].flatMap(Double.init) {
            configuration.backgroundCheckpointInterval = interval > 0 ? interval : nil
        }
        if let pages = environment["STORE_BENCH_CHECKPOINT_PAGES"].flatMap(Int.init) {
            configuration.walCheckpointPages = pages
        }
        let store = try SQLiteEventStore(directory: directory.path, configuration: configuration)
        defer { store.close() }

        let traits: JSONValue = [
            "email": "jane.doe@example.com", "name": "Jane Doe", "plan": "enterprise", "city": "New York City",
            "company": ["name": "Acme Inc", "industry": "Technology", "employees": 120],
            "logins": 42, "vip": true, "signupDate": "2024-03-01T12:00:00.000Z",
        ]
        let padding = String(repeating: "x", count: 330)
        @Sendable func body(_ messageId: String, _ user: String) -> [UInt8] {
            Array(("""
                {"type":"identify","messageId":"\(messageId)","userId":"\(user)","timestamp":"2025-06-15T10:00:00.000Z",\
                "context":{"ip":"203.0.113.7","library":{"name":"analytics.js","version":"4.1.0"},"userAgent":"\(padding)"},\
                "traits":{"email":"jane.doe@example.com","name":"Jane Doe","plan":"enterprise","city":"New York City",\
                "company":{"name":"Acme Inc","industry":"Technology","employees":120},"logins":42,"vip":true}}
                """).utf8)
        }

        let sampleBody = body("ajs-0f8e2b4c9d1a4e7f8a6b5c4d3e2f1a0b", "user-1234567")
        let users = (0..<1000).map { "user-\($0)" }
        let runID = UUID().uuidString.prefix(8)
        let latencies = LatencyRecorder()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        // Real threads: concurrentPerform would run only as many clients as there are cores.
        let finished = DispatchGroup()
        for client in 0..<clients {
            finished.enter()
            Thread {
                defer { finished.leave() }
                var batchNumber = 0
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    // Client-side work is kept small (the body is shared) so the figure is the store's.
                    let batch = (0..<20).map { index -> IncomingEvent in
                        .accepted(messageId: "\(runID)-c\(client)-b\(batchNumber)-e\(index)", body: sampleBody,
                                  jobs: [.delivery(mappingID: "update-profile", userID: users[index % users.count], payload: traits)])
                    }
                    batchNumber += 1
                    let began = DispatchTime.now().uptimeNanoseconds
                    let done = DispatchSemaphore(value: 0)
                    store.append(batch) { result in
                        if case .failure(let error) = result { Issue.record("append failed: \(error)") }
                        latencies.add(DispatchTime.now().uptimeNanoseconds - began)
                        done.signal()
                    }
                    done.wait()
                }
            }.start()
        }
        // Optionally a delivery loop beside ingest, as in the running service.
        let delivered = LatencyRecorder()
        if environment["STORE_BENCH_DELIVERY"] == "1" {
            finished.enter()
            Thread {
                defer { finished.leave() }
                while DispatchTime.now().uptimeNanoseconds < deadline {
                    do {
                        let groups = try store.leaseDueJobs(now: Date(), limit: 200, leaseSeconds: 60)
                        let ids = groups.flatMap { $0.jobs.map(\.id) }
                        if ids.isEmpty { Thread.sleep(forTimeInterval: 0.005); continue }
                        try store.recordOutcome(ids, .delivered(at: Date()))
                        delivered.add(UInt64(ids.count))
                    } catch {
                        Issue.record("delivery failed: \(error)")
                        return
                    }
                }
            }.start()
        }
        finished.wait()
        let deliveredJobs = delivered.values.reduce(0, +)
        if deliveredJobs > 0 { print("STORE BENCH: delivered \(deliveredJobs) jobs meanwhile (lease + outcome, 200 at a time)") }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let walPath = (directory.path as NSString).appendingPathComponent(SQLiteEventStore.databaseFileName + "-wal")
        let walBytes = (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0
        let sorted = latencies.values.sorted()
        let events = sorted.count * 20
        func percentile(_ p: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
        }
        print(String(format: "STORE BENCH: %d events in %.2f s = %.0f events/s durable; batch latency p50 %.2f ms, p99 %.2f ms, max %.2f ms; %d group commits (%.1f requests each)",
                     events, elapsed, Double(events) / elapsed, percentile(0.5), percentile(0.99),
                     Double(sorted.last ?? 0) / 1e6, store.groupCommitCount,
                     Double(sorted.count) / Double(max(1, store.groupCommitCount))))
        let bodySize = try store.receivedEvents(after: 0, limit: 1).first?.body.count ?? 0
        print("STORE BENCH: event body \(bodySize) bytes; WAL at the end \(walBytes / 1_048_576) MiB")
        let slow = sorted.filter { $0 > 100_000_000 }.count
        print("STORE BENCH: \(slow) of \(sorted.count) appends took over 100 ms")
        #expect(events > 0)

        // The read path against the backlog just written.
        var leaseStart = DispatchTime.now().uptimeNanoseconds
        let groups = try store.leaseDueJobs(now: Date(), limit: 500, leaseSeconds: 60)
        let leaseMs = Double(DispatchTime.now().uptimeNanoseconds - leaseStart) / 1e6
        leaseStart = DispatchTime.now().uptimeNanoseconds
        try store.recordOutcome(groups.flatMap { $0.jobs.map(\.id) }, .delivered(at: Date()))
        let outcomeMs = Double(DispatchTime.now().uptimeNanoseconds - leaseStart) / 1e6
        leaseStart = DispatchTime.now().uptimeNanoseconds
        let stats = try store.stats()
        let statsMs = Double(DispatchTime.now().uptimeNanoseconds - leaseStart) / 1e6
        print(String(format: "STORE BENCH: with %d pending jobs: leaseDueJobs(limit: 500) %.1f ms for %d jobs of %d users; recordOutcome %.1f ms; stats %.1f ms",
                     stats.queueDepth + groups.reduce(0) { $0 + $1.jobs.count }, leaseMs,
                     groups.reduce(0) { $0 + $1.jobs.count }, groups.count, outcomeMs, statsMs))
    }
}

private final class LatencyRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [UInt64] = []

    func add(_ nanoseconds: UInt64) { lock.withLock { recorded.append(nanoseconds) } }
    var values: [UInt64] { lock.withLock { recorded } }
}
