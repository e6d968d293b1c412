import EventStore
import Foundation
import Testing
@testable import PostgresEventStore

/// Append and lease throughput against the server in TEST_DATABASE_URL; run on demand with
/// `POSTGRES_STORE_BENCH=1 swift test --filter PostgresStoreBenchmark` (it prints figures).
@Suite("PostgreSQL store benchmark", .enabled(if: ProcessInfo.processInfo.environment["POSTGRES_STORE_BENCH"] != nil))
struct PostgresStoreBenchmark {
    @Test
    func concurrentAppendsShareGroupCommits() throws {
        let url = try TestDatabase.requireURL()
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        var configuration = TestDatabase.configuration(schema: schema.path, replicaID: "bench", options: options)
        // POSTGRES_STORE_BENCH_WRITERS=1 compares with a single writer.
        if let writers = ProcessInfo.processInfo.environment["POSTGRES_STORE_BENCH_WRITERS"].flatMap(Int.init) {
            configuration.appendConnections = writers
        }
        let store = try PostgresEventStore(url: url, configuration: configuration)
        defer { store.close() }
        let requests = 4_000, eventsPerRequest = 10, concurrency = 64
        let latencies = LatencyCollector()
        let started = DispatchTime.now()
        // Callbacks rather than threads: concurrentPerform would run only as many as there are cores.
        let slots = DispatchSemaphore(value: concurrency)
        let done = DispatchGroup()
        for request in 0..<requests {
            slots.wait()
            done.enter()
            let begin = DispatchTime.now()
            store.append((0..<eventsPerRequest).map {
                identify("r\(request)-e\($0)", user: "u\((request * eventsPerRequest + $0) % 5_000)")
            }) { _ in
                latencies.add(Double(DispatchTime.now().uptimeNanoseconds - begin.uptimeNanoseconds) / 1e6)
                slots.signal()
                done.leave()
            }
        }
        done.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let events = requests * eventsPerRequest
        #expect(try store.stats().acceptedEvents == events)
        let sorted = latencies.values.sorted()
        print("""
            append: \(events) events in \(requests) requests, \(concurrency) concurrent, \(configuration.appendConnections) writer(s): \(Int(Double(events) / seconds)) events/s, \
            \(store.groupCommitCount) group commits, p50 \(sorted[sorted.count / 2]) ms, p99 \(sorted[sorted.count * 99 / 100]) ms
            """)

        let leaseStart = DispatchTime.now()
        var leased = 0
        while true {
            let groups = try store.leaseDueJobs(now: options.clock.now, limit: 500, leaseSeconds: 300)
            if groups.isEmpty { break }
            let ids = groups.flatMap { $0.jobs.map(\.id) }
            leased += ids.count
            try store.recordOutcome(ids, .delivered(at: options.clock.now))
        }
        let leaseSeconds = Double(DispatchTime.now().uptimeNanoseconds - leaseStart.uptimeNanoseconds) / 1e9
        #expect(leased == events)
        print("lease + delivered outcome: \(leased) jobs in \(String(format: "%.2f", leaseSeconds)) s, \(Int(Double(leased) / leaseSeconds)) jobs/s (limit 500)")
    }
}

final class LatencyCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [Double] = []
    func add(_ value: Double) { lock.withLock { collected.append(value) } }
    var values: [Double] { lock.withLock { collected } }
}
