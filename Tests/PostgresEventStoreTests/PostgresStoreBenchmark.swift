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
        let serverCPU = ServerCPU()
        let appendCPU = serverCPU.seconds
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
            \(store.groupCommitCount) group commits, p50 \(sorted[sorted.count / 2]) ms, p99 \(sorted[sorted.count * 99 / 100]) ms\
            \(serverCPU.perItem(since: appendCPU, items: events, what: "event"))
            """)

        let leaseCPU = serverCPU.seconds
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
        print("lease + delivered outcome: \(leased) jobs in \(String(format: "%.2f", leaseSeconds)) s, \(Int(Double(leased) / leaseSeconds)) jobs/s (limit 500)\(serverCPU.perItem(since: leaseCPU, items: leased, what: "job"))")

        // The delivery queue leases a few users and records one outcome per user: the cycle
        // whose round trips bound delivered updates/s.
        // In a fresh schema: the rows the phases above left in the due index are not this one's cost.
        let cycleSchema = try TemporaryDirectory()
        let cycleStore = try PostgresEventStore(
            url: url, configuration: TestDatabase.configuration(schema: cycleSchema.path, replicaID: "bench-cycle", options: options))
        defer { cycleStore.close() }
        let users = 2_000
        _ = try cycleStore.appendAndWait((0..<users).map { identify("cycle-\($0)", user: "cycle-user-\($0)") })
        let cycleCPU = serverCPU.seconds
        let cycleStart = DispatchTime.now()
        var cycled = 0
        while true {
            let groups = try cycleStore.leaseDueJobs(now: options.clock.now, limit: 32, leaseSeconds: 300)
            if groups.isEmpty { break }
            for group in groups {
                try cycleStore.recordOutcome(group.jobs.map(\.id), .delivered(at: options.clock.now))
                cycled += group.jobs.count
            }
        }
        let cycleSeconds = Double(DispatchTime.now().uptimeNanoseconds - cycleStart.uptimeNanoseconds) / 1e9
        #expect(cycled == users)
        print("lease 32 + one outcome per user: \(cycled) jobs, \(Int(Double(cycled) / cycleSeconds)) jobs/s\(serverCPU.perItem(since: cycleCPU, items: cycled, what: "job"))")
    }
}

/// CPU time of the PostgreSQL server (postmaster and its children) when the benchmark can see
/// its processes: the figure that load on a shared machine distorts least. Found through
/// `postmaster.pid` under PG_TEST_DIR (or scripts/postgres-test-server.sh's default for
/// PG_TEST_PORT).
struct ServerCPU {
    let postmaster: Int32?

    init() {
        let environment = ProcessInfo.processInfo.environment
        let port = environment["PG_TEST_PORT"] ?? "55432"
        let base = environment["PG_TEST_DIR"] ?? "/tmp/adobe-target-destination-pg-\(port)"
        let text = try? String(contentsOfFile: base + "/data/postmaster.pid", encoding: .utf8)
        postmaster = text?.split(separator: "\n").first.flatMap { Int32($0) }
    }

    /// utime + stime of the server's processes, in seconds; `nil` when they cannot be read.
    /// `backendsOnly` counts the sessions serving clients alone, leaving out autovacuum and
    /// the background writers, whose work lands in whichever phase they happen to run.
    func seconds(backendsOnly: Bool) -> Double? {
        guard let postmaster, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        for entry in entries where Int32(entry) != nil {
            guard let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name: state, ppid, ..., utime (14th overall), stime.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, Int32(entry) == postmaster || Int32(fields[1]) == postmaster,
                  let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            if backendsOnly {
                // A client session's title: "postgres: user database host(port) state".
                guard let title = try? String(contentsOfFile: "/proc/\(entry)/cmdline", encoding: .utf8),
                      title.contains("127.0.0.1(") else { continue }
            }
            total += (user + system) / ticks
        }
        return total
    }

    typealias Reading = (all: Double, backends: Double)?

    var seconds: Reading {
        guard let all = seconds(backendsOnly: false), let backends = seconds(backendsOnly: true) else { return nil }
        return (all, backends)
    }

    func perItem(since start: Reading, items: Int, what: String) -> String {
        guard let start, let end = seconds, items > 0 else { return "" }
        return String(format: ", server CPU per %@ %.1f µs (sessions %.1f µs)", what,
                      (end.all - start.all) * 1e6 / Double(items), (end.backends - start.backends) * 1e6 / Double(items))
    }
}

final class LatencyCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [Double] = []
    func add(_ value: Double) { lock.withLock { collected.append(value) } }
    var values: [Double] { lock.withLock { collected } }
}
