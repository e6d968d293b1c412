/// The PostgreSQL schema and its migrations. Times are integer milliseconds since 1970, from
/// the callers' clock (never the server's), like the SQLite store.
///
/// Indexes are partial where they can be: the unfinished and dead jobs stay few however much
/// delivered history retention keeps.
enum PostgresSchema {
    /// Unfinished jobs (pending or in flight) across every replica, from the counters.
    static let queueDepthQuery = """
        SELECT coalesce(sum(CASE name WHEN 'enqueued' THEN value ELSE -value END), 0)
        FROM counters WHERE name IN ('enqueued', 'dequeued')
        """

    /// Migrations in order; the `schema_version` table records how many ran.
    static let migrations: [String] = [
        """
        CREATE SEQUENCE events_seq;
        CREATE TABLE events (
            seq bigint PRIMARY KEY,
            message_id text,
            received_at bigint NOT NULL,
            -- 0 accepted, 1 rejected, 2 duplicate
            status smallint NOT NULL,
            reason text,
            body bytea NOT NULL
        );
        CREATE INDEX events_received ON events(received_at);
        -- One row per messageId accepted within the dedup window: the unique key decides, in
        -- the appending transaction, which of several replicas accepts a messageId first.
        CREATE TABLE message_ids (
            message_id text PRIMARY KEY,
            event_seq bigint NOT NULL,
            accepted_at bigint NOT NULL
        );
        CREATE INDEX message_ids_accepted ON message_ids(accepted_at);
        -- state: 0 pending, 1 in flight (leased until lease_expires_at, which is also its
        -- next_attempt_at, so an expired lease is simply due), 2 delivered, 3 dead.
        CREATE TABLE jobs (
            id bigserial PRIMARY KEY,
            event_seq bigint NOT NULL,
            message_id text,
            mapping_id text NOT NULL,
            user_id text,
            payload bytea,
            state smallint NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            created_at bigint NOT NULL,
            enqueued_at bigint NOT NULL,
            next_attempt_at bigint NOT NULL,
            lease_expires_at bigint,
            lease_owner text,
            first_profile_not_found_at bigint,
            last_status integer,
            last_body text,
            dead_reason text,
            dead_message text,
            finished_at bigint
        );
        CREATE INDEX jobs_due ON jobs(next_attempt_at, id) WHERE state < 2;
        CREATE INDEX jobs_user ON jobs(user_id, id) WHERE state < 2;
        CREATE INDEX jobs_leased ON jobs(user_id, lease_expires_at) WHERE state = 1;
        CREATE INDEX jobs_dead ON jobs(id) WHERE state = 3;
        CREATE INDEX jobs_event ON jobs(event_seq);
        CREATE INDEX jobs_finished ON jobs(finished_at) WHERE state >= 2;
        CREATE TABLE settings (
            name text PRIMARY KEY,
            value bytea NOT NULL
        );
        -- Per replica, so that replicas never wait for each other's row locks; readers sum.
        CREATE TABLE adobe_calls (
            minute bigint NOT NULL,
            replica text NOT NULL,
            count bigint NOT NULL,
            PRIMARY KEY (minute, replica)
        );
        CREATE TABLE counters (
            name text NOT NULL,
            replica text NOT NULL,
            value bigint NOT NULL,
            PRIMARY KEY (name, replica)
        );
        """,
        // Version 2: five index insertions per appended event instead of eight, and plain
        // byte comparisons on the text keys. Each index dropped here served only the purge or
        // an inspection query:
        // - events_received, jobs_finished: the purge walks events and jobs in seq / id order,
        //   which follows time (see `purgeExpiredData(now:)`).
        // - jobs_event: the purge's "oldest event still referenced" comes from the few jobs it
        //   keeps below its id boundary; `jobs(forEvent:)` (inspection only) scans.
        // - jobs_leased: the lease check reads a user's unfinished jobs through jobs_user.
        // - message_ids_accepted becomes a BRIN index: accepted_at follows insertion order, and
        //   a BRIN insertion costs a fraction of a B-tree's.
        // COLLATE "C": dedup and per-user lookups need byte equality, not a locale's ordering,
        // and memcmp is cheaper than strcoll on every comparison of the index descents.
        // The queue depth becomes two counters, "enqueued" (pending jobs created or replayed)
        // and "dequeued" (jobs delivered or dead), kept in the transactions that change them:
        // counting the unfinished jobs read the whole queue every second on every replica.
        // The jobs already unfinished at the upgrade are its baseline, under replica "".
        """
        DROP INDEX events_received;
        DROP INDEX jobs_event;
        DROP INDEX jobs_finished;
        DROP INDEX jobs_leased;
        DROP INDEX message_ids_accepted;
        ALTER TABLE message_ids ALTER COLUMN message_id TYPE text COLLATE "C";
        ALTER TABLE jobs ALTER COLUMN user_id TYPE text COLLATE "C";
        CREATE INDEX message_ids_accepted ON message_ids USING brin(accepted_at);
        INSERT INTO counters(name, replica, value)
        SELECT 'enqueued', '', count(*) FROM jobs WHERE state < 2 HAVING count(*) > 0;
        """,
    ]

    /// Brings `schema` up to date. Several replicas may start at once: a session advisory lock
    /// lets one migrate while the others wait, then find nothing left to do.
    static func migrate(_ connection: PostgresConnection, schema: String, lockKey: (Int32, Int32)) throws {
        try connection.execute("SELECT pg_advisory_lock($1, $2)", ["\(lockKey.0)", "\(lockKey.1)"])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1, $2)", ["\(lockKey.0)", "\(lockKey.1)"]) }
        try connection.execute("CREATE SCHEMA IF NOT EXISTS \(schema)")
        try connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        let current = try connection.execute("SELECT max(version) FROM schema_version").first?.int(0) ?? 0
        guard current <= migrations.count else {
            throw PostgresError(sqlState: nil, message: """
                the database schema \(schema) is at version \(current), newer than this build knows \
                (\(migrations.count)); run the newer release or point DATABASE_URL at another database
                """)
        }
        for version in (current + 1)...max(current + 1, migrations.count) where version <= migrations.count {
            try connection.transaction { connection in
                try connection.execute(migrations[version - 1])
                try connection.execute("INSERT INTO schema_version(version) VALUES ($1)", ["\(version)"])
            }
        }
    }
}
