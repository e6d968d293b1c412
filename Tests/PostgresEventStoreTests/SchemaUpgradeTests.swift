import EventStore
import Foundation
import Testing
@testable import PostgresEventStore

/// A database made by an earlier release is migrated in place when a newer one opens it.
@Suite("PostgreSQL schema upgrades")
struct SchemaUpgradeTests {
    @Test
    func aVersionOneDatabaseUpgradesKeepingItsQueueAndDedup() throws {
        let url = try TestDatabase.requireURL()
        let schema = try TemporaryDirectory()
        let options = StoreOptions()
        let now = PostgresEventStore.milliseconds(options.clock.now)
        // What the first release left behind: its schema, one accepted event with its
        // messageId claim and a pending job.
        let connection = try PostgresConnection(url: url, applicationName: "SchemaUpgradeTests", setupStatements: [])
        defer { connection.finish() }
        try connection.execute("CREATE SCHEMA \(schema.path)")
        try connection.execute("SET search_path TO \(schema.path)")
        try connection.execute("CREATE TABLE schema_version (version integer NOT NULL)")
        try connection.execute(PostgresSchema.migrations[0])
        try connection.execute("INSERT INTO schema_version(version) VALUES (1)")
        try connection.execute("""
            INSERT INTO events(seq, message_id, received_at, status, body) VALUES (nextval('events_seq'), 'old', $1, 0, '\\x7b7d');
            """.replacingOccurrences(of: "$1", with: "\(now)"))
        try connection.execute("INSERT INTO message_ids(message_id, event_seq, accepted_at) VALUES ('old', 1, \(now))")
        try connection.execute("""
            INSERT INTO jobs(event_seq, message_id, mapping_id, user_id, payload, state, created_at, enqueued_at, next_attempt_at)
            VALUES (1, 'old', 'update-profile', 'user-old', '\\x7b22706c616e223a2270726f227d', 0, \(now), \(now), \(now))
            """)

        var configuration = TestDatabase.configuration(schema: schema.path, replicaID: "upgrade", options: options)
        configuration.maxConnections = 2
        let store = try PostgresEventStore(url: url, configuration: configuration)
        defer { store.close() }

        let versions = try connection.execute("SELECT version FROM schema_version ORDER BY version").map { $0.int(0) }
        #expect(versions == Array(1...PostgresSchema.migrations.count).map { Optional($0) })
        let indexes = Set(try connection.execute("""
            SELECT indexname FROM pg_indexes WHERE schemaname = $1
            """, [schema.path]).compactMap { $0.string(0) })
        #expect(indexes.isDisjoint(with: ["events_received", "jobs_event", "jobs_finished", "jobs_leased"]))
        let collations = try connection.execute("""
            SELECT table_name || '.' || column_name, collation_name FROM information_schema.columns
            WHERE table_schema = $1 AND (table_name, column_name) IN (('message_ids', 'message_id'), ('jobs', 'user_id'))
            ORDER BY 1
            """, [schema.path]).map { "\($0.string(0) ?? "")=\($0.string(1) ?? "default")" }
        #expect(collations == ["jobs.user_id=C", "message_ids.message_id=C"])

        // The claim made before the upgrade still decides, and the old job is still queued
        // and counted in the queue depth, which counters keep from the upgrade on.
        #expect(try store.stats().queueDepth == 1)
        #expect(try store.appendAndWait([identify("old", user: "user-old")]).events[0].status == .duplicate)
        #expect(try store.appendAndWait([identify("new", user: "user-new")]).events[0].status == .accepted)
        #expect(try store.stats().queueDepth == 2)
        let leased = try store.leaseDueJobs(now: options.clock.now, limit: 10, leaseSeconds: 30)
        #expect(describe(leased) == ["user-old": ["old"], "user-new": ["new"]])
        #expect(leased.first { $0.userID == "user-old" }?.jobs.first?.payload == ["plan": "pro"])
        #expect(try store.stats().queueDepth == 2, "in flight is still unfinished")
        try store.recordOutcome(leased.flatMap { $0.jobs.map(\.id) }, .delivered(at: options.clock.now))
        #expect(try store.stats().queueDepth == 0)
    }
}
