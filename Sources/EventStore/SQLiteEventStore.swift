import Foundation
import GRDB
import JSONKit
import Logging

/// The SQLite implementation of `EventStore` (one database file in the data directory).
///
/// Appends go through one dedicated writer thread that drains every waiting request into one
/// transaction (group commit) and commits it with `synchronous=FULL` in WAL mode, so one fsync
/// covers many concurrent requests. Delivery writes (leases, outcomes, replays, settings) join
/// the same groups, each in a savepoint of its own, so they cost ingest no fsync of their own;
/// reads use the pool's reader connections.
public final class SQLiteEventStore: EventStore, MillisecondTimestamps, @unchecked Sendable {
    public static let databaseFileName = "events.sqlite"

    let pool: DatabasePool
    let configuration: SQLiteEventStoreConfiguration
    let directory: String
    var logger: Logger { configuration.logger }

    /// Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var waitingAppends: [PendingAppend] = []
    private var waitingWrites: [PendingWrite] = []
    /// Requests in the group the writer is committing.
    private var committingRequests = 0
    private var writerThread: pthread_t?
    private var isClosing = false
    /// Unfinished jobs, kept in memory so the capacity check costs nothing per request.
    private var unfinishedJobs: Int
    /// Jobs in flight (leased), also kept in memory so that `stats()` stays cheap.
    private var leasedJobs = 0
    private var committedGroups = 0
    /// No unfinished job has a smaller id: where the search for the oldest one starts. Jobs
    /// finish in roughly arrival order, so it moves forward over few rows at a time.
    private var oldestUnfinishedJobFloor: JobID = 0
    /// Bumped when jobs become unfinished again below the floor (replay), so that a search
    /// that started before cannot raise the floor past them.
    private var floorGeneration = 0
    /// Why the last group commit failed; cleared by the next one that succeeds.
    private var lastCommitFailure: StoreError?
    /// Adobe calls per minute not yet written, and those being written by the current
    /// transaction: recording a call must not cost an fsync of its own.
    private let adobeCalls = AdobeCallBuffer()

    /// Owned by the writer thread after `init`.
    private var nextSequence: EventSequence
    private var dedup: DedupIndex
    /// Writer thread only (group bodies run there): appends, leases, outcomes and replays
    /// change it inside their transactions, journalled until the transaction commits.
    var unfinishedByUser: UnfinishedJobsByUser
    private var lastPurge: Date
    private let checkpointer: Checkpointer?
    private let writerExited = DispatchSemaphore(value: 0)
    private let lockFileDescriptor: Int32

    /// Opens (creating if needed) the store in `directory`. Only one process may have a data
    /// directory open at a time; a second one is refused rather than corrupting the queue.
    public init(directory: String, configuration: SQLiteEventStoreConfiguration = .init()) throws(StoreError) {
        self.directory = directory
        self.configuration = configuration
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen("the data directory \(directory) cannot be created (\(error.localizedDescription)); check the path and its permissions")
        }
        lockFileDescriptor = try Self.lockDirectory(directory)

        var grdbConfiguration = Configuration()
        grdbConfiguration.maximumReaderCount = 4
        grdbConfiguration.busyMode = .timeout(10)
        let walPages = configuration.backgroundCheckpointInterval == nil
            ? configuration.walCheckpointPages : configuration.walMaximumPages
        let walLimit = configuration.walSizeLimitBytes
        grdbConfiguration.prepareDatabase { db in
            // FULL: a commit returns only after the WAL is fsync'd, which is what lets ingest
            // answer 200.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(walPages)")
            try db.execute(sql: "PRAGMA journal_size_limit = \(walLimit)")
            try db.execute(sql: "PRAGMA cache_size = -32768")
        }
        let path = (directory as NSString).appendingPathComponent(Self.databaseFileName)
        do {
            pool = try DatabasePool(path: path, configuration: grdbConfiguration)
            try Schema.migrator().migrate(pool)
            let now = Self.milliseconds(configuration.clock())
            let (lastSequence, unfinished) = try pool.write { db -> (Int64, Int) in
                // Leases held by a previous run of this process died with it: hand those jobs
                // out again at once instead of waiting for the leases to expire.
                try db.execute(
                    sql: "UPDATE jobs SET state = 0, nextAttemptAt = min(nextAttemptAt, ?), leaseExpiresAt = NULL WHERE state = 1",
                    arguments: [now])
                let lastSequence = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? 0
                let unfinished = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs INDEXED BY jobs_due WHERE state < 2") ?? 0
                return (lastSequence, unfinished)
            }
            nextSequence = lastSequence + 1
            unfinishedJobs = unfinished
            (dedup, unfinishedByUser) = try pool.read { db in
                (try Self.loadDedupIndex(db, since: now - Int64(configuration.dedupWindow * 1000)),
                 try Self.loadUnfinishedJobs(db))
            }
        } catch {
            Foundation.close(lockFileDescriptor)
            throw .cannotOpen("the database \(path) cannot be opened (\(error)); check that it is an event store database and that the disk is writable")
        }
        lastPurge = configuration.clock()
        if let interval = configuration.backgroundCheckpointInterval {
            do {
                checkpointer = try Checkpointer(databasePath: path, interval: interval, logger: configuration.logger)
            } catch {
                Foundation.close(lockFileDescriptor)
                throw error
            }
        } else {
            checkpointer = nil
        }

        // Read before the writer thread owns them.
        let (dedupEntries, unfinishedIndexed) = (dedup.count, unfinishedByUser.count)
        // The writer thread keeps the store alive until `close()` stops it.
        let thread = Thread { self.runWriter() }
        thread.name = "EventStore.writer"
        thread.qualityOfService = .userInitiated
        thread.start()
        logger.info("event store opened", metadata: [
            "path": "\(path)", "unfinishedJobs": "\(unfinishedJobs)", "nextSequence": "\(nextSequence)",
            "dedupEntries": "\(dedupEntries)", "unfinishedJobsIndexed": "\(unfinishedIndexed)",
        ])
    }

    /// Rebuilds the dedup index from the events accepted since `cutoff`.
    private static func loadDedupIndex(_ db: Database, since cutoff: Int64) throws -> DedupIndex {
        var index = DedupIndex()
        guard let low = try Schema.firstRowID(db, table: "events", rowID: "seq", column: "receivedAt", atLeast: cutoff)
        else { return index }
        let rows = try Row.fetchCursor(db, sql: """
            SELECT seq, messageId, receivedAt FROM events WHERE seq >= ? AND status = 0 AND messageId IS NOT NULL ORDER BY seq
            """, arguments: [low])
        while let row = try rows.next() {
            let receivedAt: Int64 = row["receivedAt"]
            guard receivedAt >= cutoff else { continue }
            let messageId: String = row["messageId"]
            index.insert(hash: DedupIndex.hash(messageId), sequence: row["seq"], acceptedAt: receivedAt)
        }
        return index
    }

    /// Rebuilds the per-user index of unfinished jobs from the jobs table.
    private static func loadUnfinishedJobs(_ db: Database) throws -> UnfinishedJobsByUser {
        var jobs: [(id: JobID, user: UInt64)] = []
        let rows = try Row.fetchCursor(db, sql: """
            SELECT id, userID FROM jobs INDEXED BY jobs_due WHERE state < 2 AND userID IS NOT NULL
            """)
        while let row = try rows.next() {
            jobs.append((row["id"], UnfinishedJobsByUser.hash(userID: row["userID"])))
        }
        return UnfinishedJobsByUser(jobs: jobs)
    }

    private static func lockDirectory(_ directory: String) throws(StoreError) -> Int32 {
        let lockPath = (directory as NSString).appendingPathComponent(".lock")
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .cannotOpen("the lock file \(lockPath) cannot be created (errno \(errno)); check the directory permissions")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            Foundation.close(descriptor)
            throw .cannotOpen("the data directory \(directory) is in use by another process; stop it or use another --data-dir")
        }
        return descriptor
    }

    public func close() {
        condition.lock()
        if isClosing {
            condition.unlock()
            return
        }
        isClosing = true
        condition.broadcast()
        condition.unlock()
        writerExited.wait()
        checkpointer?.stop()
        do {
            try pool.close()
        } catch {
            logger.error("event store did not close cleanly; SQLite recovers the WAL at the next start", metadata: ["error": "\(error)"])
        }
        Foundation.close(lockFileDescriptor)
    }

    // MARK: - Append (group commit)

    /// One request's events as the writer binds them. Every text and blob it binds (ids,
    /// bodies, payloads) lies in one buffer that SQLite reads in place, so binding copies
    /// nothing and the writer frees three buffers per request rather than several per event.
    /// Built on the caller's thread, which also serialises the payloads and hashes the ids.
    struct PreparedAppend {
        var bytes: [UInt8] = []
        var events: [PreparedEvent] = []
        var jobs: [PreparedJob] = []
        var newJobCount = 0
    }

    /// Where a value lies in `PreparedAppend.bytes`.
    struct ByteSpan {
        var offset: Int
        var count: Int
    }

    struct PreparedEvent {
        var messageId: ByteSpan?
        /// `DedupIndex.hash` of the messageId (0 without one).
        var messageIdHash: UInt64
        var body: ByteSpan
        var rejectionReason: ByteSpan?
        /// This event's jobs in `PreparedAppend.jobs`.
        var jobs: Range<Int>
    }

    struct PreparedJob {
        var mappingID: ByteSpan
        var userID: ByteSpan?
        /// `UnfinishedJobsByUser.hash` of the user id (0 for a mapping error).
        var userHash: UInt64
        /// Compact JSON of the payload, or `nil` for a mapping error.
        var payload: ByteSpan?
        var mappingError: ByteSpan?
    }

    struct PendingAppend {
        var prepared: PreparedAppend
        var completion: @Sendable (Result<AppendReceipt, StoreError>) -> Void
    }

    static func prepare(_ batch: [IncomingEvent]) -> PreparedAppend {
        var prepared = PreparedAppend()
        prepared.events.reserveCapacity(batch.count)
        var estimate = 0
        for event in batch {
            estimate += event.body.count + (event.messageId?.utf8.count ?? 0)
            if case .accepted(let specs) = event.disposition { estimate += specs.count * 320 }
        }
        prepared.bytes.reserveCapacity(estimate)

        func append(_ text: String) -> ByteSpan {
            let offset = prepared.bytes.count
            prepared.bytes.append(contentsOf: text.utf8)
            return ByteSpan(offset: offset, count: prepared.bytes.count - offset)
        }

        for event in batch {
            let messageId = event.messageId.map { append($0) }
            let messageIdHash = event.messageId.map { DedupIndex.hash($0) } ?? 0
            let bodyOffset = prepared.bytes.count
            prepared.bytes.append(contentsOf: event.body)
            let body = ByteSpan(offset: bodyOffset, count: event.body.count)
            let firstJob = prepared.jobs.count
            var rejectionReason: ByteSpan?
            switch event.disposition {
            case .rejected(let reason):
                rejectionReason = append(reason)
            case .accepted(let specs):
                for spec in specs {
                    switch spec {
                    case .delivery(let mappingID, let userID, let payload):
                        prepared.newJobCount += 1
                        let mapping = append(mappingID)
                        let user = append(userID)
                        let payloadOffset = prepared.bytes.count
                        JSONSerializer.serialize(payload, into: &prepared.bytes)
                        prepared.jobs.append(PreparedJob(
                            mappingID: mapping, userID: user, userHash: UnfinishedJobsByUser.hash(userID: userID),
                            payload: ByteSpan(offset: payloadOffset, count: prepared.bytes.count - payloadOffset),
                            mappingError: nil))
                    case .mappingError(let mappingID, let userID, let message):
                        prepared.jobs.append(PreparedJob(
                            mappingID: append(mappingID), userID: userID.map { append($0) }, userHash: 0, payload: nil,
                            mappingError: append(message)))
                    }
                }
            }
            prepared.events.append(PreparedEvent(
                messageId: messageId, messageIdHash: messageIdHash, body: body, rejectionReason: rejectionReason,
                jobs: firstJob..<prepared.jobs.count))
        }
        return prepared
    }

    public func append(_ batch: [IncomingEvent], completion: @escaping @Sendable (Result<AppendReceipt, StoreError>) -> Void) {
        // Preparing here spreads the work over the callers' threads and keeps the single
        // writer thread on SQLite alone.
        let request = PendingAppend(prepared: Self.prepare(batch), completion: completion)
        condition.lock()
        guard !isClosing else {
            condition.unlock()
            completion(.failure(.closed))
            return
        }
        waitingAppends.append(request)
        condition.signal()
        condition.unlock()
    }

    private func runWriter() {
        condition.withLock { writerThread = pthread_self() }
        while true {
            condition.lock()
            while waitingAppends.isEmpty && waitingWrites.isEmpty && !isClosing {
                let timeout = adobeCalls.isEmpty
                    ? configuration.automaticPurgeInterval.map { min($0, 60) } : Self.adobeCallFlushDelay
                if let timeout {
                    if !condition.wait(until: Date(timeIntervalSinceNow: timeout)) { break }
                } else {
                    condition.wait()
                }
            }
            let group = waitingAppends
            waitingAppends.removeAll(keepingCapacity: true)
            let writes = waitingWrites
            waitingWrites.removeAll(keepingCapacity: true)
            committingRequests = group.count + writes.count
            let closing = isClosing
            condition.unlock()

            if !group.isEmpty || !writes.isEmpty {
                commit(group, writes)
                condition.withLock { committingRequests = 0 }
                restartWALIfCaughtUp()
            } else if closing {
                break
            }
            if group.isEmpty { flushAdobeCalls() }
            if !closing { purgeIfDue() }
        }
        flushAdobeCalls()
        writerExited.signal()
    }

    // MARK: - Adobe call accounting

    /// How long recorded Adobe calls may wait for a group commit to carry them.
    static let adobeCallFlushDelay: TimeInterval = 1

    func bufferAdobeCalls(_ count: Int, minute: Int64) {
        // The writer's wait reads `isEmpty` under `condition`: signalled under it, it cannot
        // miss this.
        if adobeCalls.add(count, minute: minute) { condition.withLock { condition.signal() } }
    }

    /// Calls recorded but not yet committed, from `minute` on.
    func bufferedAdobeCalls(since minute: Int64) -> Int { adobeCalls.count(since: minute) }

    /// Writes counts taken from `adobeCalls.beginFlush()` inside the caller's transaction.
    private static func writeAdobeCalls(_ calls: [Int64: Int], _ db: Database) throws {
        let upsert = try RawStatement(db, sql: """
            INSERT INTO adobe_calls(minute, count) VALUES (?1, ?2) ON CONFLICT(minute) DO UPDATE SET count = count + excluded.count
            """)
        for (minute, count) in calls {
            upsert.bind(1, minute)
            upsert.bind(2, Int64(count))
            try upsert.run()
        }
    }

    private func flushAdobeCalls() {
        do {
            try adobeCalls.flush { calls in try pool.write { db in try Self.writeAdobeCalls(calls, db) } }
        } catch {
            logger.error("recording Adobe call counts failed; they are retried with the next write", metadata: ["error": "\(error)"])
        }
    }

    /// Frames the writer is willing to copy itself: a few milliseconds of disk writes.
    private static let writerCheckpointBacklog = 2048

    private func restartWALIfCaughtUp() {
        guard let checkpointer, let progress = checkpointer.progress,
              progress.walFrames >= configuration.walCheckpointPages,
              progress.backlog <= Self.writerCheckpointBacklog else { return }
        checkpointer.resetProgress()
        do {
            // Nothing is written meanwhile, so this checkpoint completes and the next
            // transaction starts the WAL over.
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        } catch {
            // Busy: the background checkpointer was mid-pass; the next group tries again.
            logger.trace("writer checkpoint deferred", metadata: ["error": "\(error)"])
        }
    }

    private func purgeIfDue() {
        guard let interval = configuration.automaticPurgeInterval else { return }
        let now = configuration.clock()
        guard now.timeIntervalSince(lastPurge) >= interval else { return }
        lastPurge = now
        do {
            let summary = try purgeExpiredData(now: now)
            logger.debug("purged expired data", metadata: [
                "jobs": "\(summary.jobs)", "events": "\(summary.events)",
            ])
        } catch {
            logger.error("purging expired data failed; it is retried at the next interval", metadata: ["error": "\(error)"])
        }
    }

    /// A delivery-side write waiting for the next group.
    struct PendingWrite {
        var operation: String
        var run: (Database) throws -> Void
        var finish: (StoreError?) -> Void
    }

    private final class WriteOutcome<T>: @unchecked Sendable {
        // Set by the writer thread before `done` is signalled, read after the wait.
        var value: T?
        var failure: StoreError?
        let done = DispatchSemaphore(value: 0)
    }

    /// Runs `body` in the writer's next group transaction, in a savepoint of its own, and
    /// returns once that transaction committed (durably). On the writer thread itself (purges,
    /// completions) it runs at once on its own.
    func groupWrite<T>(_ operation: String, _ body: @escaping (Database) throws -> T) throws(StoreError) -> T {
        let onWriter = condition.withLock { writerThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if onWriter {
            // Outside any group: this transaction alone decides what of the index stays.
            let mark = unfinishedByUser.journalMark
            do {
                let value = try write(operation, body)
                if mark == 0 { unfinishedByUser.forgetJournal() }
                return value
            } catch {
                unfinishedByUser.rollBack(to: mark)
                throw error
            }
        }
        let outcome = WriteOutcome<T>()
        let request = PendingWrite(
            operation: operation,
            run: { db in outcome.value = try body(db) },
            finish: { failure in
                outcome.failure = failure
                outcome.done.signal()
            })
        condition.lock()
        guard !isClosing else {
            condition.unlock()
            throw .closed
        }
        waitingWrites.append(request)
        condition.signal()
        condition.unlock()
        outcome.done.wait()
        if let failure = outcome.failure { throw failure }
        guard let value = outcome.value else { throw .databaseFailure("\(operation) finished without a result") }
        return value
    }

    private struct GroupResult {
        var receipts: [Result<AppendReceipt, StoreError>] = []
        var newUnfinishedJobs = 0
        var nextSequence: EventSequence
        var writeFailures: [StoreError?] = []
        var dedupInsertions = 0
    }

    /// Writes every request of the group in one transaction, then completes them all.
    private func commit(_ appends: [PendingAppend], _ writes: [PendingWrite]) {
        var group = appends
        if !group.isEmpty, let refusal = diskSpaceRefusal() {
            // Delivery writes still go ahead: they are what frees the space.
            for request in group { request.completion(.failure(refusal)) }
            if writes.isEmpty { return }
            group = []
        }
        let now = Self.milliseconds(configuration.clock())
        // The group works on a local copy of the index (moved, not copied): state reached
        // through `self` or captured variables costs exclusivity checks on every event.
        var index = DedupIndex()
        swap(&index, &dedup)
        index.expire(before: now - Int64(configuration.dedupWindow * 1000))
        let depthAtStart = condition.withLock { unfinishedJobs }
        var insertedBeforeCommit = 0
        // Recorded Adobe calls ride along in the group's transaction.
        let adobeCallFlush = adobeCalls.beginFlush()
        let outcome: Result<GroupResult, any Error> = Result {
            try pool.writeWithoutTransaction { db -> GroupResult in
                var written: GroupResult?
                try db.inTransaction(.immediate) {
                    written = try writeGroup(db, group, writes, now: now, depthAtStart: depthAtStart, dedup: &index)
                    insertedBeforeCommit = written?.dedupInsertions ?? 0
                    if let adobeCallFlush { try Self.writeAdobeCalls(adobeCallFlush, db) }
                    return .commit
                }
                return written!
            }
        }
        // The commit itself failed after the body succeeded: its acceptances never happened.
        if case .failure = outcome {
            index.removeLast(insertedBeforeCommit)
            unfinishedByUser.rollBack(to: 0)
        } else {
            unfinishedByUser.forgetJournal()
        }
        swap(&index, &dedup)
        switch outcome {
        case .failure(let error):
            var failure = Self.storeError(error, operation: "storing \(group.count) ingest request(s)", configuration: configuration)
            // A write error on a nearly full disk is reported as what it is, so ingest answers
            // 503 with Retry-After rather than 500.
            if case .databaseFailure = failure, let refusal = diskSpaceRefusal() { failure = refusal }
            logger.error("group commit failed; nothing of these requests was stored", metadata: [
                "requests": "\(group.count + writes.count)", "error": "\(failure)",
            ])
            if adobeCallFlush != nil { adobeCalls.finishFlush(committed: false) }
            condition.withLock { lastCommitFailure = failure }
            for request in group { request.completion(.failure(failure)) }
            for write in writes { write.finish(failure) }
        case .success(let result):
            nextSequence = result.nextSequence
            if adobeCallFlush != nil { adobeCalls.finishFlush(committed: true) }
            checkpointer?.noteCommit()
            condition.withLock {
                unfinishedJobs += result.newUnfinishedJobs
                committedGroups += 1
                lastCommitFailure = nil
            }
            for (request, receipt) in zip(group, result.receipts) { request.completion(receipt) }
            for (write, failure) in zip(writes, result.writeFailures) { write.finish(failure) }
        }
    }

    /// The body of a group transaction. Acceptances go into `dedup` as they happen; if the
    /// transaction then fails they are taken out again before this returns or throws.
    private func writeGroup(
        _ db: Database, _ group: [PendingAppend], _ writes: [PendingWrite],
        now: Int64, depthAtStart: Int, dedup: inout DedupIndex
    ) throws -> GroupResult {
        var result = GroupResult(nextSequence: nextSequence)
        result.receipts.reserveCapacity(group.count)
        do {
            let messageIdOfEvent = try RawStatement(db, sql: "SELECT messageId FROM events WHERE seq = ?1")
            let firstAttemptAt = now + Int64((configuration.firstAttemptDelaySeconds * 1000).rounded())
            let maxDepth = configuration.maxQueueDepth
            var accepted: Int64 = 0, rejected: Int64 = 0, duplicates: Int64 = 0, dead: Int64 = 0
            var statuses: [EventStatus] = []
            var jobRows: [(sequence: Int64, event: Int, job: Int)] = []
            for request in group {
                let depth = depthAtStart + result.newUnfinishedJobs
                let prepared = request.prepared
                if prepared.newJobCount > 0 && depth + prepared.newJobCount > maxDepth {
                    result.receipts.append(.failure(.capacityExceeded(
                        reason: "the delivery queue holds \(depth) unfinished jobs (limit \(maxDepth)); delivery must catch up",
                        retryAfterSeconds: configuration.queueFullRetryAfterSeconds)))
                    continue
                }
                let firstSequence = result.nextSequence
                result.nextSequence += Int64(prepared.events.count)
                statuses.removeAll(keepingCapacity: true)
                jobRows.removeAll(keepingCapacity: true)
                try prepared.bytes.withUnsafeBufferPointer { buffer in
                    let bytes = UnsafeRawBufferPointer(buffer)
                    // Statuses first, so that the rows can go in several at a time.
                    for (position, event) in prepared.events.enumerated() {
                        let sequence = firstSequence + Int64(position)
                        var status = EventStatus.accepted
                        if event.rejectionReason != nil {
                            status = .rejected
                        } else if let messageId = event.messageId {
                            let hash = event.messageIdHash
                            // A hash hit is confirmed against the other event's messageId: in
                            // this request's bytes when it is not inserted yet, else stored.
                            for candidate in dedup.candidates(for: hash) {
                                let same: Bool
                                if candidate >= firstSequence {
                                    let other = prepared.events[Int(candidate - firstSequence)].messageId
                                    same = other.map { Self.equal(bytes, $0, messageId) } ?? false
                                } else {
                                    messageIdOfEvent.bind(1, candidate)
                                    same = try messageIdOfEvent.firstTextEquals(bytes, messageId.offset, messageId.count)
                                }
                                if same {
                                    status = .duplicate
                                    break
                                }
                            }
                            if status == .accepted {
                                dedup.insert(hash: hash, sequence: sequence, acceptedAt: now)
                                result.dedupInsertions += 1
                            }
                        }
                        statuses.append(status)
                        switch status {
                        case .rejected: rejected += 1
                        case .duplicate: duplicates += 1
                        case .accepted:
                            accepted += 1
                            for job in prepared.events[position].jobs {
                                jobRows.append((sequence, position, job))
                            }
                        }
                    }
                    try Self.insertRows(db, table: .events, count: prepared.events.count) { statement, row, position in
                        let event = prepared.events[position]
                        let column = Int32(row * EventsTable.columnCount)
                        statement.bind(column + 1, firstSequence + Int64(position))
                        statement.bindText(column + 2, bytes, event.messageId)
                        statement.bind(column + 3, now)
                        statement.bind(column + 4, Int64(statuses[position].rawValue))
                        statement.bindText(column + 5, bytes, event.rejectionReason)
                        statement.bindBlob(column + 6, bytes, event.body)
                    }
                    try Self.insertRows(db, table: .jobs, count: jobRows.count) { statement, row, position in
                        let (sequence, eventPosition, jobPosition) = jobRows[position]
                        let job = prepared.jobs[jobPosition]
                        let column = Int32(row * JobsTable.columnCount)
                        statement.bind(column + 1, sequence)
                        statement.bindText(column + 2, bytes, prepared.events[eventPosition].messageId)
                        statement.bindText(column + 3, bytes, job.mappingID)
                        statement.bindText(column + 4, bytes, job.userID)
                        statement.bindBlob(column + 5, bytes, job.payload)
                        statement.bind(column + 7, now)
                        statement.bind(column + 11, firstAttemptAt)
                        if let message = job.mappingError {
                            statement.bind(column + 6, Int64(JobState.dead.rawValue))
                            statement.bind(column + 8, DeadLetterReason.mappingError.rawValue)
                            statement.bindText(column + 9, bytes, message)
                            statement.bind(column + 10, now)
                            dead += 1
                        } else {
                            statement.bind(column + 6, Int64(JobState.pending.rawValue))
                            statement.bind(column + 8, nil as String?)
                            statement.bind(column + 9, nil as String?)
                            statement.bind(column + 10, nil as Int64?)
                            result.newUnfinishedJobs += 1
                        }
                    }
                    // The writer is the only inserter, so the rows took consecutive ids up to
                    // the last one (SQLite gives a row without an id the largest id plus one).
                    if !jobRows.isEmpty {
                        let firstJobID = db.lastInsertedRowID - Int64(jobRows.count) + 1
                        for (position, row) in jobRows.enumerated() {
                            let job = prepared.jobs[row.job]
                            guard job.mappingError == nil else { continue }
                            unfinishedByUser.insert(firstJobID + Int64(position), user: job.userHash)
                        }
                    }
                }
                result.receipts.append(.success(AppendReceipt(events: statuses.enumerated().map { position, status in
                    AppendReceipt.Entry(sequence: firstSequence + Int64(position), status: status)
                })))
            }
            try Self.addToCounters(db, ["accepted": accepted, "rejected": rejected, "duplicate": duplicates, "dead": dead])
            result.writeFailures = Array(repeating: nil, count: writes.count)
            for (index, write) in writes.enumerated() {
                let mark = unfinishedByUser.journalMark
                do {
                    try db.inSavepoint {
                        try write.run(db)
                        return .commit
                    }
                } catch {
                    unfinishedByUser.rollBack(to: mark)
                    // Some SQLite errors (disk full, I/O) abort the whole transaction; then
                    // nothing of the group may be reported as stored.
                    guard db.isInsideTransaction else { throw error }
                    result.writeFailures[index] = Self.storeError(error, operation: write.operation, configuration: configuration)
                }
            }
            return result
        } catch {
            // The transaction rolls back: so do the acceptances it recorded.
            dedup.removeLast(result.dedupInsertions)
            throw error
        }
    }

    /// The columns of one events row, as `insertRows` binds them.
    enum EventsTable {
        static let columnCount = 6
        static let columns = "seq, messageId, receivedAt, status, reason, body"
        static func values(_ first: Int) -> String {
            "(?\(first + 1), ?\(first + 2), ?\(first + 3), ?\(first + 4), ?\(first + 5), ?\(first + 6))"
        }
    }

    /// The columns of one jobs row; `createdAt` and `enqueuedAt` share one.
    enum JobsTable {
        static let columnCount = 11
        static let columns = """
            eventSeq, messageId, mappingID, userID, payload, state, createdAt, enqueuedAt, nextAttemptAt, \
            deadReason, deadMessage, finishedAt
            """
        static func values(_ first: Int) -> String {
            let p = (1...11).map { "?\(first + $0)" }
            return "(\(p[0]), \(p[1]), \(p[2]), \(p[3]), \(p[4]), \(p[5]), \(p[6]), \(p[6]), \(p[10]), \(p[7]), \(p[8]), \(p[9]))"
        }
    }

    enum RowTable {
        case events, jobs
    }

    /// Rows per INSERT: each statement execution costs about 3,400 instructions beyond its
    /// rows (opening and closing cursors, halting), so rows go in 16 at a time, then 8, 4, 2, 1.
    static let insertChunkSizes = [16, 8, 4, 2, 1]

    private static let insertSQL: [RowTable: [Int: String]] = {
        func sql(_ table: String, _ columns: String, _ count: Int, _ width: Int, _ values: (Int) -> String) -> String {
            "INSERT INTO \(table)(\(columns)) VALUES " + (0..<count).map { values($0 * width) }.joined(separator: ", ")
        }
        var events: [Int: String] = [:]
        var jobs: [Int: String] = [:]
        for size in insertChunkSizes {
            events[size] = sql("events", EventsTable.columns, size, EventsTable.columnCount, EventsTable.values)
            jobs[size] = sql("jobs", JobsTable.columns, size, JobsTable.columnCount, JobsTable.values)
        }
        return [.events: events, .jobs: jobs]
    }()

    /// Inserts `count` rows with multi-row statements; `bind` binds row `row` of the statement
    /// from item `position`. Bindings are cleared after each statement: they point into the
    /// request's bytes.
    private static func insertRows(
        _ db: Database, table: RowTable, count: Int,
        bind: (RawStatement, _ row: Int, _ position: Int) throws -> Void
    ) throws {
        var position = 0
        while position < count {
            let size = insertChunkSizes.first { $0 <= count - position }!
            let statement = try RawStatement(db, sql: insertSQL[table]![size]!)
            defer { statement.clearBindings() }
            for row in 0..<size { try bind(statement, row, position + row) }
            try statement.run()
            position += size
        }
    }

    private static func equal(_ bytes: UnsafeRawBufferPointer, _ a: ByteSpan, _ b: ByteSpan) -> Bool {
        guard a.count == b.count else { return false }
        guard a.count > 0, let base = bytes.baseAddress else { return true }
        return memcmp(base + a.offset, base + b.offset, a.count) == 0
    }

    private func diskSpaceRefusal() -> StoreError? {
        var stats = statvfs()
        guard statvfs(directory, &stats) == 0 else { return nil }
        let free = UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
        guard free < configuration.minFreeDiskBytes else { return nil }
        return .capacityExceeded(
            reason: "the data directory's disk has \(free) bytes free, below the minimum of \(configuration.minFreeDiskBytes); free disk space",
            retryAfterSeconds: configuration.diskFullRetryAfterSeconds)
    }

    static func addToCounters(_ db: Database, _ amounts: KeyValuePairs<String, Int64>) throws {
        let statement = try RawStatement(db, sql: "UPDATE counters SET value = value + ?1 WHERE name = ?2")
        for (name, amount) in amounts where amount != 0 {
            statement.bind(1, amount)
            statement.bind(2, name)
            try statement.run()
        }
    }

    public func writeProblem() -> String? {
        let (closing, failure, depth) = condition.withLock { (isClosing, lastCommitFailure, unfinishedJobs) }
        if closing { return StoreError.closed.description }
        if let refusal = diskSpaceRefusal() { return refusal.description }
        if depth >= configuration.maxQueueDepth {
            return "the delivery queue is full (\(depth) unfinished jobs, limit \(configuration.maxQueueDepth))"
        }
        if let failure { return "the last write failed: \(failure)" }
        return nil
    }

    /// Requests queued for the writer or in the group it is committing (for tests).
    var unansweredRequestCount: Int {
        condition.withLock { waitingAppends.count + waitingWrites.count + committingRequests }
    }

    /// Transactions the writer thread has committed: fewer than the requests when they
    /// shared a group commit.
    public var groupCommitCount: Int { condition.withLock { committedGroups } }

    // MARK: - Shared helpers

    func adjustQueueCounts(unfinished: Int, leased: Int) {
        guard unfinished != 0 || leased != 0 else { return }
        condition.withLock {
            unfinishedJobs += unfinished
            leasedJobs += leased
        }
    }

    var unfinishedJobFloor: (floor: JobID, generation: Int) {
        condition.withLock { (oldestUnfinishedJobFloor, floorGeneration) }
    }

    func raiseUnfinishedJobFloor(to floor: JobID, generation: Int) {
        condition.withLock {
            if generation == floorGeneration && floor > oldestUnfinishedJobFloor { oldestUnfinishedJobFloor = floor }
        }
    }

    func resetUnfinishedJobFloor() {
        condition.withLock {
            oldestUnfinishedJobFloor = 0
            floorGeneration += 1
        }
    }

    var queueCounts: (unfinished: Int, leased: Int) {
        condition.withLock { (unfinishedJobs, leasedJobs) }
    }

    func ensureOpen() throws(StoreError) {
        let closed = condition.withLock { isClosing }
        if closed { throw .closed }
    }

    /// Runs a write transaction on the serialized writer connection, mapping errors.
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        try ensureOpen()
        do {
            return try pool.write(body)
        } catch {
            throw Self.storeError(error, operation: operation, configuration: configuration)
        }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        try ensureOpen()
        do {
            return try pool.read(body)
        } catch {
            throw Self.storeError(error, operation: operation, configuration: configuration)
        }
    }

    static func storeError(_ error: any Error, operation: String, configuration: SQLiteEventStoreConfiguration) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_FULL {
                return .capacityExceeded(reason: "the disk is full (\(error.message ?? "SQLITE_FULL")); free disk space",
                                         retryAfterSeconds: configuration.diskFullRetryAfterSeconds)
            }
            return .databaseFailure("\(operation) failed: SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown"); check the data directory's disk and permissions")
        }
        return .databaseFailure("\(operation) failed: \(error)")
    }
}
