import Foundation
import GRDBSQLite
import Logging

/// Copies committed WAL frames into the database file on its own thread and connection.
///
/// With SQLite's automatic checkpoints the committing connection copies the WAL itself, which
/// stalls every append waiting for that group (and fsyncs the database file in its path).
/// Passive checkpoints here run beside the writer instead. They never complete under steady
/// appends, though, and the WAL only starts over from its beginning after a checkpoint that
/// completed: the writer finishes one itself, between two groups, once `progress` shows this
/// thread has copied nearly everything (see `SQLiteEventStore.restartWALIfCaughtUp`).
final class Checkpointer: @unchecked Sendable {
    private let condition = NSCondition()
    private var hasNewCommits = false
    private var latestProgress: Progress?
    private var isStopping = false
    private let stopped = DispatchSemaphore(value: 0)
    private let connection: OpaquePointer
    private let interval: TimeInterval
    private let logger: Logger

    init(databasePath: String, interval: TimeInterval, logger: Logger) throws(StoreError) {
        var handle: OpaquePointer?
        let code = sqlite3_open_v2(databasePath, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(code)"
            sqlite3_close_v2(handle)
            throw .cannotOpen("the checkpoint connection to \(databasePath) failed (\(message)); check the file's permissions")
        }
        // A connection only attaches to the WAL once it has read the database; until then a
        // checkpoint is a silent no-op.
        let attach = sqlite3_exec(handle, "PRAGMA journal_mode; SELECT count(*) FROM sqlite_schema", nil, nil, nil)
        guard attach == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(handle))
            sqlite3_close_v2(handle)
            throw .cannotOpen("the checkpoint connection to \(databasePath) cannot read it (\(message)); check the file's permissions")
        }
        connection = handle
        self.interval = interval
        self.logger = logger
        let thread = Thread { self.run() }
        thread.name = "EventStore.checkpointer"
        thread.start()
    }

    struct Progress {
        /// Frames in the WAL, and frames not yet copied to the database file, at the end of
        /// the last background checkpoint.
        var walFrames: Int
        var backlog: Int
    }

    var progress: Progress? { condition.withLock { latestProgress } }

    /// Forgets the last progress report (after the writer checkpointed the WAL itself).
    func resetProgress() { condition.withLock { latestProgress = nil } }

    /// Called after each commit (once per group, not per event).
    func noteCommit() {
        condition.lock()
        if !hasNewCommits {
            hasNewCommits = true
            condition.signal()
        }
        condition.unlock()
    }

    func stop() {
        condition.lock()
        isStopping = true
        condition.signal()
        condition.unlock()
        stopped.wait()
        sqlite3_close_v2(connection)
    }

    private func run() {
        while true {
            condition.lock()
            // Sleep while idle; after a commit, wait one interval so that a checkpoint covers
            // several groups, which keeps its fsyncs of the database file few and small.
            while !hasNewCommits && !isStopping { condition.wait() }
            if !isStopping { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
            let stopping = isStopping
            hasNewCommits = false
            condition.unlock()
            if stopping { break }
            var walFrames: Int32 = 0
            var checkpointed: Int32 = 0
            let code = sqlite3_wal_checkpoint_v2(connection, "main", SQLITE_CHECKPOINT_PASSIVE, &walFrames, &checkpointed)
            if code == SQLITE_OK {
                condition.withLock {
                    latestProgress = Progress(walFrames: Int(walFrames), backlog: Int(walFrames - checkpointed))
                }
            } else if code != SQLITE_BUSY {
                logger.warning("background WAL checkpoint failed; the writer's checkpoints take over", metadata: [
                    "code": "\(code)", "message": "\(String(cString: sqlite3_errmsg(connection)))",
                ])
            }
        }
        stopped.signal()
    }
}
