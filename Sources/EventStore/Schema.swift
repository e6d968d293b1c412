import GRDB

/// The SQLite schema. Times are integer milliseconds since 1970.
///
/// Jobs are inserted in event order by the single writer, so job ids and event sequences
/// ascend together; look-ups by event use that instead of an index.
///
/// Indexes are few on purpose: every one costs a B-tree insert per row on the ingest path.
/// The partial indexes hold unfinished (or dead) jobs only, so they stay small however much
/// delivered history retention keeps.
enum Schema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY,
                    messageId TEXT,
                    receivedAt INTEGER NOT NULL,
                    status INTEGER NOT NULL,
                    reason TEXT,
                    body BLOB NOT NULL
                );
                -- state: 0 pending, 1 in flight (leased until nextAttemptAt), 2 delivered, 3 dead.
                -- A lease sets nextAttemptAt to its expiry, so an expired lease is simply due.
                CREATE TABLE jobs (
                    id INTEGER PRIMARY KEY,
                    eventSeq INTEGER NOT NULL,
                    messageId TEXT,
                    mappingID TEXT NOT NULL,
                    userID TEXT,
                    payload BLOB,
                    state INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    createdAt INTEGER NOT NULL,
                    enqueuedAt INTEGER NOT NULL,
                    nextAttemptAt INTEGER NOT NULL,
                    leaseExpiresAt INTEGER,
                    firstProfileNotFoundAt INTEGER,
                    lastStatus INTEGER,
                    lastBody TEXT,
                    deadReason TEXT,
                    deadMessage TEXT,
                    finishedAt INTEGER
                );
                CREATE INDEX jobs_due ON jobs(nextAttemptAt) WHERE state < 2;
                -- Entries are (userID, rowid): a user's unfinished jobs in acceptance order.
                CREATE INDEX jobs_user ON jobs(userID) WHERE state < 2;
                CREATE INDEX jobs_dead ON jobs(id) WHERE state = 3;
                CREATE TABLE settings (
                    name TEXT PRIMARY KEY,
                    value BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE adobe_calls (
                    minute INTEGER PRIMARY KEY,
                    count INTEGER NOT NULL
                );
                -- Lifetime counters, kept when retention purges the rows they count.
                CREATE TABLE counters (
                    name TEXT PRIMARY KEY,
                    value INTEGER NOT NULL
                ) WITHOUT ROWID;
                INSERT INTO counters(name, value) VALUES
                    ('accepted', 0), ('rejected', 0), ('duplicate', 0), ('delivered', 0), ('dead', 0);
                """)
        }
        migrator.registerMigration("v2") { db in
            // Replaced by the in-memory UnfinishedJobsByUser: with a backlog, its random
            // insertions cost a page write per ingested job.
            try db.execute(sql: "DROP INDEX jobs_user")
        }
        return migrator
    }

    /// The smallest rowid from which `column` is at least `value`, for a column that ascends
    /// with the rowid (event times, job creation times, job event sequences): a binary search,
    /// where a `WHERE column >= value` would scan the whole retention. `nil` for an empty table;
    /// one past the last rowid when no row qualifies.
    static func firstRowID(_ db: Database, table: String, rowID: String, column: String, atLeast value: Int64) throws -> Int64? {
        guard var low = try Int64.fetchOne(db, sql: "SELECT min(\(rowID)) FROM \(table)"),
              let newest = try Int64.fetchOne(db, sql: "SELECT max(\(rowID)) FROM \(table)") else { return nil }
        var high = newest + 1
        let probe = try db.cachedStatement(sql: """
            SELECT \(rowID), \(column) FROM \(table) WHERE \(rowID) >= ? ORDER BY \(rowID) LIMIT 1
            """)
        while low < high {
            let middle = low + (high - low) / 2
            guard let row = try Row.fetchOne(probe, arguments: [middle]) else {
                high = middle
                continue
            }
            if (row[1] as Int64) < value { low = (row[0] as Int64) + 1 } else { high = middle }
        }
        return low
    }
}
