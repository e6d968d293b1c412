import EventStore
import Foundation
import JSONKit
import Testing
@testable import PostgresEventStore

/// Several `PostgresEventStore` instances on one database, as replicas behind a load balancer.
@Suite("PostgreSQL replicas")
struct ReplicaTests {
    private func openReplica(_ schema: String, _ replicaID: String, _ options: StoreOptions = StoreOptions()) throws -> PostgresEventStore {
        let url = try TestDatabase.requireURL()
        var configuration = TestDatabase.configuration(schema: schema, replicaID: replicaID, options: options)
        configuration.maxConnections = 4
        return try PostgresEventStore(url: url, configuration: configuration)
    }

    @Test
    func twoReplicasLeasingConcurrentlyNeverShareAJobOrAUser() throws {
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let replicas = [try openReplica(schema.path, "replica-a", options), try openReplica(schema.path, "replica-b", options)]
        defer { replicas.forEach { $0.close() } }

        // Each replica receives half the traffic; both receive the same retried messageIds.
        let users = (0..<30).map { "user-\($0)" }
        let statuses = StatusCollector()
        DispatchQueue.concurrentPerform(iterations: 2 * 20) { index in
            let replica = replicas[index % 2]
            let round = index / 2
            var batch = users.enumerated().compactMap { offset, user -> IncomingEvent? in
                (offset + index) % 2 == 0 ? identify("r\(round)-\(user)", user: user) : nil
            }
            batch.append(identify("retried-\(round)", user: users[round % users.count]))
            let receipt = try? replica.appendAndWait(batch)
            statuses.add(receipt?.events.last?.status)
        }
        // Every retried messageId was sent to both replicas: the database accepted it once.
        #expect(statuses.values.count { $0 == .accepted } == 20)
        #expect(statuses.values.count { $0 == .duplicate } == 20)
        let expectedJobs = 20 * users.count + 20
        #expect(try replicas[0].stats().queueDepth == expectedJobs)

        let tracker = LeaseTracker()
        let clock = options.clock
        @Sendable func leaseUntilIdle(_ replica: PostgresEventStore) {
            var idleRounds = 0
            while idleRounds < 5 {
                let groups: [LeasedJobGroup]
                do {
                    groups = try replica.leaseDueJobs(now: clock.now, limit: 5, leaseSeconds: 300)
                } catch {
                    tracker.fail("leasing failed: \(error)")
                    return
                }
                if groups.isEmpty {
                    idleRounds += 1
                    Thread.sleep(forTimeInterval: 0.01)
                    continue
                }
                idleRounds = 0
                for group in groups { tracker.begin(group, by: replica.replicaID) }
                // "Delivery": long enough for the other replicas to try the same users.
                Thread.sleep(forTimeInterval: 0.005)
                for group in groups {
                    tracker.end(group)
                    do {
                        try replica.recordOutcome(group.jobs.map(\.id), .delivered(at: clock.now))
                    } catch {
                        tracker.fail("recording an outcome failed: \(error)")
                    }
                }
            }
        }
        // Threads of their own, not concurrentPerform: on two busy cores that may run both
        // workers of one replica first, which then drain the queue alone.
        let workers = DispatchGroup()
        for worker in 0..<4 {
            workers.enter()
            Thread.detachNewThread {
                defer { workers.leave() }
                leaseUntilIdle(replicas[worker % 2])
            }
        }
        workers.wait()
        let report = tracker.report
        #expect(report.failures.isEmpty, "\(report.failures.prefix(5))")
        #expect(report.leasedJobs == expectedJobs, "every job handed out exactly once")
        #expect(report.distinctJobs == expectedJobs)
        for (user, ids) in report.deliveredPerUser {
            #expect(ids == ids.sorted(), "the jobs of \(user) were delivered in acceptance order")
        }
        #expect(report.leasingReplicas.count == 2, "both replicas took part: \(report.leasingReplicas)")
        let stats = try replicas[1].stats()
        #expect(stats.queueDepth == 0 && stats.deliveredTotal == expectedJobs && stats.inFlight == 0)
        #expect(stats.acceptedEvents == expectedJobs && stats.duplicateEvents == 20)
    }

    @Test
    func aUserLeasedOnOneReplicaIsNotHandedOutByAnother() throws {
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let a = try openReplica(schema.path, "replica-a", options)
        let b = try openReplica(schema.path, "replica-b", options)
        defer { a.close(); b.close() }
        _ = try a.appendAndWait([identify("a1", user: "A")])
        #expect(describe(try a.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["A": ["a1"]])
        _ = try b.appendAndWait([identify("a2", user: "A"), identify("b1", user: "B")])
        #expect(describe(try b.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 300)) == ["B": ["b1"]])
        // Once replica A's lease expires, replica B takes the user over, in order.
        #expect(describe(try b.leaseDueJobs(now: options.clock.now.addingTimeInterval(31), limit: 10, leaseSeconds: 30))
                == ["A": ["a1", "a2"]])
    }

    @Test
    func aLaterJobWithALowerIdWaitsWhileAnotherOfTheUsersJobsIsLeased() throws {
        // Two replicas' appends for one user may commit in the opposite order of their job
        // ids. The job that shows up late, below a leased one, must wait for that lease.
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let a = try openReplica(schema.path, "replica-a", options)
        defer { a.close() }
        let receipt = try a.appendAndWait([identify("a1", user: "A"), identify("a2", user: "A")])
        let first = try #require(a.jobs(forEvent: receipt.events[0].sequence).first)
        let leased = try a.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
        try a.recordOutcome(leased.flatMap { $0.jobs.map(\.id) }, .retry(
            nextAttemptAt: options.clock.now, status: 503, body: nil, profileNotFound: false))
        // Lease a2 alone by holding a1 back, then let a1 become due again below the lease.
        try a.recordOutcome([first.id], .deadLetter(reason: .adobeRejected, message: "held back", status: nil, body: nil))
        #expect(describe(try a.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)) == ["A": ["a2"]])
        #expect(try a.replayDeadLetters(ids: [first.id]).replayed == 1)
        #expect(try a.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30).isEmpty)
    }

    @Test
    func deduplicationHoldsAcrossReplicas() throws {
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let a = try openReplica(schema.path, "replica-a", options)
        let b = try openReplica(schema.path, "replica-b", options)
        defer { a.close(); b.close() }
        #expect(try a.appendAndWait([identify("m1")]).events[0].status == .accepted)
        #expect(try b.appendAndWait([identify("m1"), identify("m2")]).events.map(\.status) == [.duplicate, .accepted])
        #expect(try a.appendAndWait([identify("m2")]).events[0].status == .duplicate)
        options.clock.advance(by: 24 * 3600 + 1)
        #expect(try b.appendAndWait([identify("m1")]).events[0].status == .accepted)
    }

    @Test
    func replicasStartingAtOnceMigrateOnce() throws {
        let schema = try TemporaryDirectory()
        _ = try TestDatabase.requireURL()
        let opened = StoreCollector()
        let path = schema.path
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            do {
                opened.add(try openReplica(path, "replica-\(index)"))
            } catch {
                opened.fail("\(error)")
            }
        }
        defer { opened.stores.forEach { $0.close() } }
        #expect(opened.failures.isEmpty, "\(opened.failures)")
        #expect(opened.stores.count == 4)
        let url = try TestDatabase.requireURL()
        let connection = try PostgresConnection(url: url, applicationName: "tests", setupStatements: ["SET search_path TO \(schema.path)"])
        defer { connection.finish() }
        let versions = try connection.execute("SELECT version FROM schema_version ORDER BY version").map { $0.int(0) }
        #expect(versions == Array(1...PostgresSchema.migrations.count).map { Optional($0) })
    }

    @Test
    func aSecondProcessWithTheSameReplicaIDIsRefused() throws {
        let schema = try TemporaryDirectory()
        let first = try openReplica(schema.path, "replica-a")
        let refused = #expect(throws: StoreError.self) { try openReplica(schema.path, "replica-a") }
        guard case .cannotOpen(let reason)? = refused else {
            Issue.record("expected cannotOpen, got \(String(describing: refused))")
            first.close()
            return
        }
        #expect(reason.contains("replica-a") && reason.contains("unique"))
        first.close()
        // Closing ends the session and its lock: a successor opens at once.
        try openReplica(schema.path, "replica-a").close()
    }

    @Test
    func reopeningAReplicaKeepsTheOtherReplicasLeases() throws {
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let a = try openReplica(schema.path, "replica-a", options)
        defer { a.close() }
        _ = try a.appendAndWait([identify("a1", user: "A"), identify("b1", user: "B")])
        #expect(describe(try a.leaseDueJobs(now: options.clock.now, limit: 1, leaseSeconds: 3600)).count == 1)
        var b = try openReplica(schema.path, "replica-b", options)
        #expect(try b.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 3600).count == 1)
        b.close()
        b = try openReplica(schema.path, "replica-b", options)
        defer { b.close() }
        // B's restart released B's lease only; A's is still held.
        #expect(try b.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30).count == 1)
        #expect(try b.stats().inFlight == 2)
    }

    @Test
    func settingsAndAdobeCallCountsAreSharedByReplicas() throws {
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let a = try openReplica(schema.path, "replica-a", options)
        let b = try openReplica(schema.path, "replica-b", options)
        defer { a.close(); b.close() }
        try a.setSetting(["mapping": "v2"], named: "mappings")
        #expect(try b.setting(named: "mappings") == ["mapping": "v2"])
        let now = options.clock.now
        try a.recordAdobeCalls(3, at: now)
        try b.recordAdobeCalls(4, at: now)
        // Counts reach the database within about a second of being recorded. While a replica's
        // flush is in flight its calls count twice (the safe side for a rate limit), so wait for
        // the settled value rather than for a lower bound.
        let deadline = Date().addingTimeInterval(20)
        while try a.adobeCalls(since: now) != 7 || b.adobeCalls(since: now) != 7, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try a.adobeCalls(since: now) == 7)
        #expect(try b.adobeCalls(since: now) == 7)
    }

    @Test
    func passwordsAreRedactedFromDatabaseURLs() {
        #expect(DatabaseURL.redacted("postgres://app:s3cr@t@db.internal:5432/events") == "postgres://app:***@db.internal:5432/events")
        #expect(DatabaseURL.redacted("postgresql://app@db/events?sslmode=require&password=hunter2")
                == "postgresql://app@db/events?sslmode=require&password=***")
        #expect(DatabaseURL.redacted("host=db user=app password=hunter2 dbname=events") == "host=db user=app password=*** dbname=events")
        #expect(DatabaseURL.redacted("postgres://db:5432/events") == "postgres://db:5432/events")
    }

    @Test
    func anUnreachableServerIsReportedWithoutThePassword() {
        let refused = #expect(throws: StoreError.self) {
            _ = try PostgresEventStore(url: "postgres://app:topsecret@127.0.0.1:1/events?connect_timeout=2")
        }
        guard case .cannotOpen(let reason)? = refused else {
            Issue.record("expected cannotOpen, got \(String(describing: refused))")
            return
        }
        #expect(!reason.contains("topsecret") && reason.contains("127.0.0.1") && reason.contains("DATABASE_URL"))
    }
}

/// What the concurrent leasing workers saw.
final class LeaseTracker: @unchecked Sendable {
    struct Report {
        var failures: [String]
        var leasedJobs: Int
        var distinctJobs: Int
        var deliveredPerUser: [String: [JobID]]
        var leasingReplicas: Set<String>
    }

    private let lock = NSLock()
    private var heldUsers = Set<String>()
    private var leasedIDs: [JobID] = []
    private var failures: [String] = []
    private var deliveredPerUser: [String: [JobID]] = [:]
    private var workers = Set<String>()

    func begin(_ group: LeasedJobGroup, by replica: String) {
        lock.withLock {
            if !heldUsers.insert(group.userID).inserted {
                failures.append("\(group.userID) was leased twice at once")
            }
            leasedIDs += group.jobs.map(\.id)
            workers.insert(replica)
        }
    }

    /// Called before the outcome is recorded: until then no other replica may lease the user.
    func end(_ group: LeasedJobGroup) {
        lock.withLock {
            heldUsers.remove(group.userID)
            deliveredPerUser[group.userID, default: []] += group.jobs.map(\.id)
        }
    }

    func fail(_ message: String) { lock.withLock { failures.append(message) } }

    var report: Report {
        lock.withLock {
            Report(failures: failures, leasedJobs: leasedIDs.count, distinctJobs: Set(leasedIDs).count,
                   deliveredPerUser: deliveredPerUser, leasingReplicas: workers)
        }
    }
}

final class StoreCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var opened: [PostgresEventStore] = []
    private var errors: [String] = []

    func add(_ store: PostgresEventStore) { lock.withLock { opened.append(store) } }
    func fail(_ message: String) { lock.withLock { errors.append(message) } }
    var stores: [PostgresEventStore] { lock.withLock { opened } }
    var failures: [String] { lock.withLock { errors } }
}
