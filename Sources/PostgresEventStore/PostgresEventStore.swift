import EventStore
import Foundation
import JSONKit
import Logging

/// The PostgreSQL implementation of `EventStore`, for several replicas sharing one queue.
///
/// Appends go through a few writer threads per replica (`appendConnections`), each draining
/// every request waiting when it is free into one statement (group commit), committed with
/// `synchronous_commit = on`: a receipt is answered only once the server flushed the commit.
/// While one writer waits for its flush the next executes its group, and the server flushes
/// both with one WAL write. Deduplication is decided by the database inside
/// that transaction (a unique key per messageId), so it holds across replicas. Leasing takes a
/// transaction-scoped advisory lock per user and only hands out a user's jobs when none of
/// them is leased, so no two replicas ever hold one user's jobs at once (see
/// `leaseDueJobs(now:limit:leaseSeconds:)`). Everything else runs on a small connection pool.
public final class PostgresEventStore: EventStore, MillisecondTimestamps, @unchecked Sendable {
    let configuration: PostgresEventStoreConfiguration
    let redactedURL: String
    let pool: PostgresConnectionPool
    var logger: Logger { configuration.logger }
    var replicaID: String { configuration.replicaID }
    /// First keys of the two-key advisory locks, derived from the schema so that deployments
    /// in separate schemas never block each other.
    let userLockSpace: Int32
    let purgeLockKey: (Int32, Int32)

    /// Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var waitingAppends: [PendingAppend] = []
    private var isClosing = false
    private var committedGroups = 0
    private var lastCommitFailure: StoreError?
    /// Unfinished jobs as last counted, plus this replica's changes since.
    private var queueDepthEstimate = 0
    private var queueDepthCountedAt = DispatchTime(uptimeNanoseconds: 0)
    private let adobeCalls = AdobeCallBuffer()
    private var isPurging = false
    private var lastPurge: Date

    /// One per writer thread, owned by it after `init`. The first also holds the replica lock
    /// and alone writes the buffered Adobe call counts (one flush in progress at a time).
    private let writers: [PostgresConnection]
    private var writer: PostgresConnection { writers[0] }
    private let writerExited = DispatchSemaphore(value: 0)

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// migrates the schema if needed and starts the writer.
    public init(url: String, configuration: PostgresEventStoreConfiguration = .init()) throws(StoreError) {
        self.configuration = configuration
        redactedURL = DatabaseURL.redacted(url)
        let schema = configuration.schema
        guard Self.isValidIdentifier(schema) else {
            throw .invalidArgument("the schema name \"\(schema)\" is not usable; use lower-case letters, digits and _ (at most 63), starting with a letter or _")
        }
        guard !configuration.replicaID.isEmpty, !configuration.replicaID.contains("\0") else {
            throw .invalidArgument("the replica id must be a non-empty string without NUL characters; set a unique one per replica")
        }
        let setup = [
            "SET search_path TO \(schema)",
            // Durable appends are the point of the store, whatever the server's default.
            "SET synchronous_commit TO on",
            "SET client_min_messages TO warning",
        ]
        let applicationName = "adobe-target-destination \(configuration.replicaID)".prefix(60)
        let redacted = redactedURL
        let makeConnection = { () throws(PostgresError) -> PostgresConnection in
            try PostgresConnection(url: url, applicationName: String(applicationName), setupStatements: setup)
        }
        do {
            writers = try (0..<max(1, configuration.appendConnections)).map { _ in try makeConnection() }
        } catch {
            throw .cannotOpen("PostgreSQL at \(redacted) cannot be reached (\(error)); check DATABASE_URL, the server and its pg_hba.conf")
        }
        // Leases and outcomes run the same few prepared statements, keyed on primary keys and
        // the per-user index, thousands of times a second: a generic plan, made once per
        // session, serves every execution, where the default planned each one anew for its
        // array parameters (half of an outcome's server time).
        let poolSetup = setup + ["SET plan_cache_mode TO force_generic_plan"]
        pool = PostgresConnectionPool(maximum: configuration.maxConnections) { () throws(PostgresError) -> PostgresConnection in
            try PostgresConnection(url: url, applicationName: String(applicationName), setupStatements: poolSetup)
        }
        lastPurge = configuration.clock()

        let now = Self.milliseconds(configuration.clock())
        do {
            let writer = writers[0]
            let keys = try writer.execute("""
                SELECT hashtext('adobe-target-destination.migrate'), hashtext($1),
                       hashtext('adobe-target-destination.user:' || $1),
                       hashtext('adobe-target-destination.replica:' || $1), hashtext($2),
                       hashtext('adobe-target-destination.purge')
                """, [schema, configuration.replicaID])[0]
            let key = { (index: Int) -> Int32 in Int32(keys.string(index) ?? "0") ?? 0 }
            userLockSpace = key(2)
            purgeLockKey = (key(5), key(1))
            try PostgresSchema.migrate(writer, schema: schema, lockKey: (key(0), key(1)))
            // Held by the writer's session for the store's lifetime: a second live process with
            // the same replica id would release this one's leases.
            let locked = try writer.execute("SELECT pg_try_advisory_lock($1, $2)", ["\(key(3))", "\(key(4))"])
            guard locked.first?.string(0) == "t" else {
                throw StoreError.cannotOpen("""
                    the replica id "\(configuration.replicaID)" is in use by another running process on \(redacted) \
                    (schema \(schema)); give every replica a unique replica id
                    """)
            }
            // Leases held by this replica's previous run died with it: hand those jobs out
            // again at once. Other replicas' leases are theirs to finish or let expire.
            try writer.execute("""
                UPDATE jobs SET state = 0, next_attempt_at = least(next_attempt_at, $1), lease_expires_at = NULL, lease_owner = NULL
                WHERE state = 1 AND lease_owner = $2
                """, ["\(now)", configuration.replicaID])
            queueDepthEstimate = try writer.count(PostgresSchema.queueDepthQuery)
            queueDepthCountedAt = .now()
        } catch let error as StoreError {
            throw error
        } catch {
            throw .cannotOpen("the event store in schema \(schema) of \(redacted) cannot be prepared (\(error)); check that the user may create tables there")
        }

        for index in writers.indices {
            let thread = Thread { self.runWriter(self.writers[index], flushesAdobeCalls: index == 0) }
            thread.name = "PostgresEventStore.writer\(index)"
            thread.qualityOfService = .userInitiated
            thread.start()
        }
        logger.info("event store opened", metadata: [
            "database": "\(redactedURL)", "schema": "\(schema)", "replica": "\(configuration.replicaID)",
            "unfinishedJobs": "\(queueDepthEstimate)",
        ])
    }

    static func isValidIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 63 else { return false }
        let lower = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz_")
        let rest = lower.union(CharacterSet(charactersIn: "0123456789"))
        return lower.contains(first) && name.unicodeScalars.allSatisfy { rest.contains($0) }
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
        for _ in writers { writerExited.wait() }
        condition.withLock { while isPurging { condition.wait() } }
        pool.close()
        // Ends the sessions and with them the replica lock, so a successor may open at once.
        for connection in writers { connection.finish() }
        logger.info("event store closed", metadata: ["replica": "\(replicaID)"])
    }

    // MARK: - Append (group commit)

    struct PreparedEvent {
        var messageId: String?
        var body: [UInt8]
        var rejectionReason: String?
        var jobs: [PreparedJob]
    }

    struct PreparedJob {
        var mappingID: String
        var userID: String?
        /// The compact JSON payload, or `nil` for a mapping error.
        var payload: [UInt8]?
        var mappingError: String?
    }

    struct PendingAppend {
        var events: [PreparedEvent]
        var newJobCount: Int
        var completion: @Sendable (Result<AppendReceipt, StoreError>) -> Void
    }

    public func append(_ batch: [IncomingEvent], completion: @escaping @Sendable (Result<AppendReceipt, StoreError>) -> Void) {
        // Serialising here spreads the work over the callers' threads.
        var newJobCount = 0
        var unstorableText: String?
        func check(_ text: String?, _ what: String) {
            // PostgreSQL text cannot hold NUL; SQLite can. Refusing the request is better than
            // failing the whole group it would share a transaction with.
            if let text, text.utf8.contains(0) { unstorableText = what }
        }
        let events = batch.map { event -> PreparedEvent in
            check(event.messageId, "a messageId")
            switch event.disposition {
            case .rejected(let reason):
                check(reason, "a rejection reason")
                return PreparedEvent(messageId: event.messageId, body: event.body, rejectionReason: reason, jobs: [])
            case .accepted(let specs):
                let jobs = specs.map { spec -> PreparedJob in
                    switch spec {
                    case .delivery(let mappingID, let userID, let payload):
                        newJobCount += 1
                        check(mappingID, "a mapping id")
                        check(userID, "a user id")
                        return PreparedJob(mappingID: mappingID, userID: userID,
                                           payload: JSONSerializer.serialize(payload), mappingError: nil)
                    case .mappingError(let mappingID, let userID, let message):
                        check(mappingID, "a mapping id")
                        check(userID, "a user id")
                        check(message, "a mapping error message")
                        return PreparedJob(mappingID: mappingID, userID: userID, payload: nil, mappingError: message)
                    }
                }
                return PreparedEvent(messageId: event.messageId, body: event.body, rejectionReason: nil, jobs: jobs)
            }
        }
        if let unstorableText {
            completion(.failure(.invalidArgument("\(unstorableText) contains a NUL character, which PostgreSQL cannot store; remove it from the event")))
            return
        }
        let request = PendingAppend(events: events, newJobCount: newJobCount, completion: completion)
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

    private func runWriter(_ connection: PostgresConnection, flushesAdobeCalls: Bool) {
        while true {
            condition.lock()
            while waitingAppends.isEmpty && !isClosing {
                let timeout = adobeCalls.isEmpty || !flushesAdobeCalls
                    ? configuration.automaticPurgeInterval.map { min($0, 60) } : Self.adobeCallFlushDelay
                if let timeout {
                    if !condition.wait(until: Date(timeIntervalSinceNow: timeout)) { break }
                } else {
                    condition.wait()
                }
            }
            let group = waitingAppends
            waitingAppends.removeAll(keepingCapacity: true)
            let closing = isClosing
            condition.unlock()

            if !group.isEmpty {
                commit(group, on: connection, flushingAdobeCalls: flushesAdobeCalls)
            } else {
                if flushesAdobeCalls { flushAdobeCalls() }
                if closing { break }
            }
            if !closing { startPurgeIfDue() }
        }
        writerExited.signal()
    }

    private struct GroupResult {
        var receipts: [AppendReceipt] = []
        var newUnfinishedJobs = 0
    }

    private func commit(_ requests: [PendingAppend], on writer: PostgresConnection, flushingAdobeCalls: Bool) {
        if writer.isBroken {
            do {
                try writer.reset()
                logger.warning("the writer's connection to PostgreSQL was re-established", metadata: ["database": "\(redactedURL)"])
            } catch {
                fail(requests, with: .databaseFailure("PostgreSQL at \(redactedURL) cannot be reached (\(error)); check the server, appends are refused meanwhile"))
                return
            }
        }
        refreshQueueDepthIfStale(writer)
        let maxDepth = configuration.maxQueueDepth
        // Admitted jobs are counted at once, so that writers committing side by side cannot
        // together overshoot the limit; the commit corrects for duplicates, a failure undoes it.
        var admitted: [PendingAppend] = []
        var refusals: [(PendingAppend, Int)] = []
        let reserved = condition.withLock { () -> Int in
            var reserved = 0
            for request in requests {
                if request.newJobCount > 0 && queueDepthEstimate + request.newJobCount > maxDepth {
                    refusals.append((request, queueDepthEstimate))
                    continue
                }
                queueDepthEstimate += request.newJobCount
                reserved += request.newJobCount
                admitted.append(request)
            }
            return reserved
        }
        for (request, depth) in refusals {
            request.completion(.failure(.capacityExceeded(
                reason: "the delivery queue holds about \(depth) unfinished jobs (limit \(maxDepth)); delivery must catch up",
                retryAfterSeconds: configuration.queueFullRetryAfterSeconds)))
        }
        guard !admitted.isEmpty else { return }
        let now = Self.milliseconds(configuration.clock())
        // Recorded Adobe calls ride along in the flushing writer's group transactions.
        let adobeCallFlush = flushingAdobeCalls ? adobeCalls.beginFlush() : nil
        do {
            let result: GroupResult
            if let adobeCallFlush {
                result = try writer.transaction { connection -> GroupResult in
                    let result = try writeGroup(connection, admitted, now: now)
                    try writeAdobeCalls(adobeCallFlush, connection)
                    return result
                }
                adobeCalls.finishFlush(committed: true)
            } else {
                // The usual case: the group's one statement is its own transaction.
                result = try writer.retryingTransientFailures { connection in try writeGroup(connection, admitted, now: now) }
            }
            condition.withLock {
                queueDepthEstimate += result.newUnfinishedJobs - reserved
                committedGroups += 1
                lastCommitFailure = nil
            }
            for (request, receipt) in zip(admitted, result.receipts) { request.completion(.success(receipt)) }
        } catch {
            if adobeCallFlush != nil { adobeCalls.finishFlush(committed: false) }
            let failure = storeError(error, operation: "storing \(admitted.count) ingest request(s)")
            logger.error("group commit failed; nothing of these requests was stored", metadata: [
                "requests": "\(admitted.count)", "error": "\(failure)",
            ])
            condition.withLock {
                queueDepthEstimate -= reserved
                lastCommitFailure = failure
            }
            fail(admitted, with: failure)
        }
    }

    private func fail(_ requests: [PendingAppend], with failure: StoreError) {
        for request in requests { request.completion(.failure(failure)) }
    }

    private func refreshQueueDepthIfStale(_ writer: PostgresConnection) {
        let interval = UInt64(max(0, configuration.queueDepthRefreshInterval) * 1e9)
        let stale = condition.withLock { DispatchTime.now().uptimeNanoseconds >= queueDepthCountedAt.uptimeNanoseconds + interval }
        guard stale else { return }
        do {
            let counted = try writer.count(PostgresSchema.queueDepthQuery)
            condition.withLock {
                queueDepthEstimate = counted
                queueDepthCountedAt = .now()
            }
        } catch {
            logger.warning("counting the queue failed; the capacity check uses the last count", metadata: ["error": "\(error)"])
        }
    }

    /// The whole group as one statement: sequences, dedup claims, events, jobs and counters.
    ///
    /// One statement is one round trip and, outside a transaction block, its own transaction:
    /// a group costs one parse-free execution and one WAL flush however many requests it
    /// holds. Deduplication stays the database's decision: the first accepted occurrence of a
    /// messageId in the group claims it, and the claim only succeeds when no claim within the
    /// window holds (this group's, an earlier one's, another replica's). Claims are inserted in
    /// messageId order, so two replicas claiming overlapping messageIds lock them in the same
    /// order and cannot deadlock.
    static let groupStatement = """
        WITH input AS (
            -- Ascending within the group (the scan is in ordinality order); other replicas'
            -- groups may interleave, leaving gaps.
            SELECT nextval('events_seq') AS seq, e.o, e.m COLLATE "C" AS m, e.r, e.b
            FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS e(m, r, b, o)
        ),
        claimed AS (
            INSERT INTO message_ids(message_id, event_seq, accepted_at)
            SELECT m, seq, $4::bigint
            FROM (SELECT DISTINCT ON (m) m, seq FROM input WHERE r IS NULL AND m IS NOT NULL ORDER BY m, o) AS firsts
            ORDER BY m
            ON CONFLICT (message_id) DO UPDATE SET event_seq = excluded.event_seq, accepted_at = excluded.accepted_at
            WHERE message_ids.accepted_at < $5::bigint
            RETURNING event_seq
        ),
        stored AS (
            INSERT INTO events(seq, message_id, received_at, status, reason, body)
            SELECT i.seq, i.m, $4::bigint,
                   CASE WHEN i.r IS NOT NULL THEN \(EventStatus.rejected.rawValue)
                        WHEN i.m IS NULL OR c.event_seq IS NOT NULL THEN \(EventStatus.accepted.rawValue)
                        ELSE \(EventStatus.duplicate.rawValue) END,
                   i.r, i.b
            FROM input AS i LEFT JOIN claimed AS c ON c.event_seq = i.seq
            RETURNING seq, status
        ),
        queued AS (
            -- In ordinality order, so job ids ascend with the events (per-user delivery order).
            INSERT INTO jobs(event_seq, message_id, mapping_id, user_id, payload, state, created_at, enqueued_at,
                             next_attempt_at, dead_reason, dead_message, finished_at)
            SELECT i.seq, i.m, j.map, j.u, j.p,
                   CASE WHEN j.dm IS NULL THEN \(JobState.pending.rawValue) ELSE \(JobState.dead.rawValue) END,
                   $4::bigint, $4::bigint, $12::bigint,
                   CASE WHEN j.dm IS NOT NULL THEN '\(DeadLetterReason.mappingError.rawValue)' END, j.dm,
                   CASE WHEN j.dm IS NOT NULL THEN $4::bigint END
            FROM unnest($6::bigint[], $7::text[], $8::text[], $9::bytea[], $10::text[]) WITH ORDINALITY AS j(eo, map, u, p, dm, o)
            JOIN input AS i ON i.o = j.eo
            JOIN stored AS s ON s.seq = i.seq AND s.status = \(EventStatus.accepted.rawValue)
            ORDER BY j.o
            RETURNING state
        ),
        counted AS (
            INSERT INTO counters(name, replica, value)
            SELECT n, $11::text, v FROM (
                SELECT 'accepted' AS n, count(*) FILTER (WHERE status = \(EventStatus.accepted.rawValue)) AS v FROM stored
                UNION ALL SELECT 'rejected', count(*) FILTER (WHERE status = \(EventStatus.rejected.rawValue)) FROM stored
                UNION ALL SELECT 'duplicate', count(*) FILTER (WHERE status = \(EventStatus.duplicate.rawValue)) FROM stored
                UNION ALL SELECT 'dead', count(*) FILTER (WHERE state = \(JobState.dead.rawValue)) FROM queued
                UNION ALL SELECT 'enqueued', count(*) FILTER (WHERE state = \(JobState.pending.rawValue)) FROM queued
            ) AS c
            WHERE v > 0
            ORDER BY n
            ON CONFLICT (name, replica) DO UPDATE SET value = counters.value + excluded.value
        )
        SELECT i.seq, s.status FROM input AS i JOIN stored AS s ON s.seq = i.seq ORDER BY i.o
        """

    private func writeGroup(_ connection: PostgresConnection, _ requests: [PendingAppend], now: Int64) throws -> GroupResult {
        let eventCount = requests.reduce(0) { $0 + $1.events.count }
        var result = GroupResult()
        guard eventCount > 0 else {
            result.receipts = requests.map { _ in AppendReceipt(events: []) }
            return result
        }
        var messageIds: [String?] = [], reasons: [String?] = [], bodies: [[UInt8]?] = []
        var jobEvents: [Int64] = [], mappingIDs: [String?] = [], userIDs: [String?] = []
        var payloads: [[UInt8]?] = [], mappingErrors: [String?] = []
        messageIds.reserveCapacity(eventCount)
        reasons.reserveCapacity(eventCount)
        bodies.reserveCapacity(eventCount)
        var ordinal: Int64 = 0
        for request in requests {
            for event in request.events {
                ordinal += 1
                messageIds.append(event.messageId)
                reasons.append(event.rejectionReason)
                bodies.append(event.body)
                for job in event.jobs {
                    jobEvents.append(ordinal)
                    mappingIDs.append(job.mappingID)
                    userIDs.append(job.userID)
                    payloads.append(job.payload)
                    mappingErrors.append(job.mappingError)
                }
            }
        }
        let cutoff = now - Int64(configuration.dedupWindow * 1000)
        let rows = try connection.executePrepared("append_group", Self.groupStatement, [
            PostgresBinaryArray.text(messageIds), PostgresBinaryArray.text(reasons), PostgresBinaryArray.bytea(bodies),
            .text("\(now)"), .text("\(cutoff)"),
            PostgresBinaryArray.int64(jobEvents), PostgresBinaryArray.text(mappingIDs), PostgresBinaryArray.text(userIDs),
            PostgresBinaryArray.bytea(payloads), PostgresBinaryArray.text(mappingErrors), .text(replicaID),
            // First attempts wait out the coalescing delay (`firstAttemptDelaySeconds`).
            .text("\(now + Int64((configuration.firstAttemptDelaySeconds * 1000).rounded()))"),
        ])
        guard rows.count == eventCount else {
            throw StoreError.databaseFailure("the group commit stored \(rows.count) of \(eventCount) events; check the server's log")
        }
        var index = 0
        for request in requests {
            var entries: [AppendReceipt.Entry] = []
            entries.reserveCapacity(request.events.count)
            for event in request.events {
                guard let sequence = rows[index].int64(0), let raw = rows[index].int(1), let status = EventStatus(rawValue: raw) else {
                    throw StoreError.databaseFailure("the group commit returned an unreadable row \(rows[index].values); check the schema version")
                }
                index += 1
                entries.append(AppendReceipt.Entry(sequence: sequence, status: status))
                if status == .accepted {
                    result.newUnfinishedJobs += event.jobs.count(where: { $0.mappingError == nil })
                }
            }
            result.receipts.append(AppendReceipt(events: entries))
        }
        return result
    }

    /// Adds to this replica's row of each lifetime counter.
    func addToCounters(_ connection: PostgresConnection, _ amounts: KeyValuePairs<String, Int64>) throws {
        let changed = amounts.filter { $0.value != 0 }
        guard !changed.isEmpty else { return }
        try connection.execute("""
            INSERT INTO counters(name, replica, value) SELECT n, $3::text, v FROM unnest($1::text[], $2::bigint[]) AS c(n, v)
            ON CONFLICT (name, replica) DO UPDATE SET value = counters.value + excluded.value
            """, [PostgresArray.text(changed.map(\.key)), PostgresArray.int64(changed.map(\.value)), replicaID])
    }

    public func writeProblem() -> String? {
        let (closing, failure, depth) = condition.withLock { (isClosing, lastCommitFailure, queueDepthEstimate) }
        if closing { return StoreError.closed.description }
        if depth >= configuration.maxQueueDepth {
            return "the delivery queue is full (about \(depth) unfinished jobs, limit \(configuration.maxQueueDepth))"
        }
        if let failure { return "the last write failed: \(failure)" }
        return nil
    }

    /// Transactions the writer thread has committed: fewer than the requests when they
    /// shared a group commit.
    public var groupCommitCount: Int { condition.withLock { committedGroups } }

    // MARK: - Adobe call accounting

    /// How long recorded Adobe calls may wait for a group commit to carry them.
    static let adobeCallFlushDelay: TimeInterval = 1

    func bufferAdobeCalls(_ count: Int, minute: Int64) {
        // Every writer may be waiting; only the first flushes. Each reads `isEmpty` under
        // `condition` before it waits: signalled under it, none can miss this.
        if adobeCalls.add(count, minute: minute) { condition.withLock { condition.broadcast() } }
    }

    /// This replica's calls recorded but not yet committed, from `minute` on.
    func bufferedAdobeCalls(since minute: Int64) -> Int { adobeCalls.count(since: minute) }

    /// Writes counts taken from `adobeCalls.beginFlush()` inside the caller's transaction.
    private func writeAdobeCalls(_ calls: [Int64: Int], _ connection: PostgresConnection) throws {
        let minutes = calls.keys.sorted()
        try connection.execute("""
            INSERT INTO adobe_calls(minute, replica, count) SELECT m, $3::text, c FROM unnest($1::bigint[], $2::bigint[]) AS a(m, c)
            ON CONFLICT (minute, replica) DO UPDATE SET count = adobe_calls.count + excluded.count
            """, [PostgresArray.int64(minutes), PostgresArray.int64(minutes.map { Int64(calls[$0]!) }), replicaID])
    }

    private func flushAdobeCalls() {
        do {
            try adobeCalls.flush { calls in
                if writer.isBroken { try writer.reset() }
                try writer.transaction { connection in try writeAdobeCalls(calls, connection) }
            }
        } catch {
            logger.error("recording Adobe call counts failed; they are retried with the next write", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Background purge

    private func startPurgeIfDue() {
        guard let interval = configuration.automaticPurgeInterval else { return }
        let now = configuration.clock()
        let start = condition.withLock { () -> Bool in
            guard !isPurging, !isClosing, now.timeIntervalSince(lastPurge) >= interval else { return false }
            isPurging = true
            lastPurge = now
            return true
        }
        guard start else { return }
        // Off the writer thread: purging must not hold up appends.
        DispatchQueue.global(qos: .utility).async {
            defer {
                self.condition.withLock {
                    self.isPurging = false
                    self.condition.broadcast()
                }
            }
            do {
                guard let summary = try self.purgeIfNoOtherReplicaIs(now: now) else { return }
                self.logger.debug("purged expired data", metadata: ["jobs": "\(summary.jobs)", "events": "\(summary.events)"])
            } catch {
                self.logger.error("purging expired data failed; it is retried at the next interval", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: - Shared helpers

    func adjustQueueDepth(by change: Int) {
        guard change != 0 else { return }
        condition.withLock { queueDepthEstimate += change }
    }

    func noteQueueDepth(_ counted: Int) {
        condition.withLock {
            queueDepthEstimate = counted
            queueDepthCountedAt = .now()
        }
    }

    func ensureOpen() throws(StoreError) {
        let closed = condition.withLock { isClosing }
        if closed { throw .closed }
    }

    /// Runs `body` on a pooled connection, mapping errors.
    func withConnection<T>(_ operation: String, _ body: (PostgresConnection) throws -> T) throws(StoreError) -> T {
        try ensureOpen()
        do {
            return try pool.withConnection(body)
        } catch {
            throw storeError(error, operation: operation)
        }
    }

    /// Runs `body` in a transaction on a pooled connection, mapping errors.
    @discardableResult
    func transaction<T>(
        _ operation: String, durable: Bool = true, _ body: (PostgresConnection) throws -> T
    ) throws(StoreError) -> T {
        // A lease lost in a server crash only makes its jobs due again, so leasing need not
        // wait for the flush. Both statements go in one simple query: one round trip.
        let begin = "BEGIN ISOLATION LEVEL READ COMMITTED" + (durable ? "" : "; SET LOCAL synchronous_commit TO off")
        return try withConnection(operation) { connection in
            try connection.transaction(begin) { connection in try body(connection) }
        }
    }

    func storeError(_ error: any Error, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PostgresError {
            if error.isDiskFull {
                return .capacityExceeded(
                    reason: "the PostgreSQL server's disk is full (\(error.message)); free disk space on the database server",
                    retryAfterSeconds: configuration.diskFullRetryAfterSeconds)
            }
            if error.sqlState == nil {
                return .databaseFailure("\(operation) failed: PostgreSQL at \(redactedURL) cannot be reached (\(error.message)); check the server and the network")
            }
            return .databaseFailure("\(operation) failed: PostgreSQL error \(error); check the server's log")
        }
        return .databaseFailure("\(operation) failed: \(error)")
    }
}
