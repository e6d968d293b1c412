import EventStore
import Foundation
import JSONKit

extension PostgresEventStore {
    /// Rows of the due index examined per page while looking for eligible users: twice the
    /// limit, within these bounds. Every row read costs a heap fetch, so a small lease reads
    /// a small page.
    static let leaseScanPageSizes = 64...512
    /// Rows examined per call: bounds the work when many due jobs sit behind blocked users.
    static let leaseScanMaxRows = 8_192

    /// Locks a chunk of candidate users and leases their runs, in one round trip (a
    /// pipeline of two prepared statements):
    /// 1. tries each user's lock ($1 users, $2 lock space) and keeps the locked ones in a
    ///    transaction-local setting;
    /// 2. in a new statement, and so a snapshot taken once the locks are held, reads the
    ///    locked users' unfinished jobs in acceptance order, skips users with an unexpired
    ///    lease ($1 now), keeps each user's run from a due head: the following jobs up to the
    ///    first that blocks, one not due unless never tried (a job waiting out
    ///    `firstAttemptDelaySeconds` joins the first's lease: coalescing), at most $5 jobs a
    ///    user; users in lock order while fewer than $2 jobs came before them, each run whole;
    ///    and marks them in flight until $3 for replica $4.
    static let leaseLockStatement = """
        SELECT set_config('adobe_target_destination.locked', coalesce(array_agg(u ORDER BY o)::text, '{}'), true)
        FROM unnest($1::text[]) WITH ORDINALITY AS c(u, o)
        WHERE pg_try_advisory_xact_lock($2::integer, hashtext(u))
        """
    static let leaseMarkStatement = """
        WITH users AS (
            SELECT u COLLATE "C" AS u, o FROM unnest(current_setting('adobe_target_destination.locked')::text[]) WITH ORDINALITY AS l(u, o)
        ),
        unfinished AS (
            SELECT j.id, users.o, j.next_attempt_at > $1::bigint AND (j.k = 1 OR j.state <> 0 OR j.attempts <> 0) AS blocks
            FROM users CROSS JOIN LATERAL (
                SELECT id, next_attempt_at, state, attempts, row_number() OVER (ORDER BY id) AS k
                FROM jobs WHERE jobs.user_id = users.u AND state < 2 ORDER BY id LIMIT $5::integer
            ) AS j
            WHERE NOT EXISTS (
                SELECT 1 FROM jobs AS l WHERE l.user_id = users.u AND l.state = 1 AND l.lease_expires_at > $1::bigint
            )
        ),
        runs AS (
            SELECT id, o, count(*) FILTER (WHERE blocks) OVER (PARTITION BY o ORDER BY id) AS blocked
            FROM unfinished
        ),
        chosen AS (
            SELECT id, o FROM (
                SELECT id, o, min(n) OVER (PARTITION BY o) AS first FROM (
                    SELECT id, o, row_number() OVER (ORDER BY o, id) AS n FROM runs WHERE blocked = 0
                ) AS numbered
            ) AS r
            WHERE first <= $2::integer
        )
        UPDATE jobs SET state = 1, next_attempt_at = $3::bigint, lease_expires_at = $3::bigint, lease_owner = $4::text
        FROM chosen WHERE jobs.id = chosen.id AND jobs.state < 2
        RETURNING chosen.o, jobs.id, jobs.event_seq, jobs.message_id, jobs.mapping_id, jobs.payload, jobs.attempts,
                  jobs.created_at, jobs.enqueued_at, jobs.first_profile_not_found_at, jobs.last_status, jobs.last_body,
                  jobs.user_id
        """

    /// Due jobs, leased until `now + leaseSeconds`, grouped per user.
    ///
    /// How replicas never hand out one user's jobs at once, or out of order:
    /// 1. Candidate users come from the due index (`next_attempt_at <= now`), oldest first.
    /// 2. Each candidate's transaction-scoped advisory lock is *tried*
    ///    (`pg_try_advisory_xact_lock`); a user whose lock another replica holds (leasing or
    ///    recording an outcome for that user right now) is skipped, never waited for.
    /// 3. Only then, in a new statement and so a new snapshot (READ COMMITTED), the user's
    ///    unfinished jobs are read in acceptance order. The lock is released only after the
    ///    holder's commit is visible, so this read sees every lease committed before. A user
    ///    with any unexpired lease is skipped whole; otherwise the run is the consecutive due
    ///    jobs from the head, stopping at the first that is not due.
    /// 4. The run is marked in flight, with this replica as the lease owner, in the same
    ///    transaction. `recordOutcome` takes the same user locks (waiting), so a job cannot
    ///    change state between the read and the mark.
    /// The "any unexpired lease" rule, stricter than "the head is not leased", matters across
    /// replicas: two replicas' appends for one user may commit in the opposite order of their
    /// job ids, so a lower-id job can appear after a higher one was leased; it then waits.
    public func leaseDueJobs(now: Date, limit: Int, leaseSeconds: Double) throws(StoreError) -> [LeasedJobGroup] {
        guard limit > 0 else { return [] }
        guard leaseSeconds > 0 else {
            throw .invalidArgument("leaseSeconds must be positive (got \(leaseSeconds)); pass the delivery timeout plus a margin")
        }
        let nowMs = Self.milliseconds(now)
        let expiryMs = nowMs + Int64((leaseSeconds * 1000).rounded(.up))
        let expiry = Self.date(expiryMs)
        let userLockSpace = "\(self.userLockSpace)"
        let replicaID = self.replicaID
        let pageSize = min(max(2 * limit, Self.leaseScanPageSizes.lowerBound), Self.leaseScanPageSizes.upperBound)
        let runs = try transaction("leasing due jobs", durable: false) { connection -> [(String, [PostgresRow])] in
            var runs: [(String, [PostgresRow])] = []
            var leased = 0
            var examinedUsers = Set<String>()
            var cursorTime = Int64.min
            var cursorID = Int64.min
            var scannedRows = 0
            scan: while leased < limit && scannedRows < Self.leaseScanMaxRows {
                let rows = try connection.executePrepared("lease_page", """
                    SELECT id, next_attempt_at, user_id FROM jobs
                    WHERE state < 2 AND next_attempt_at <= $1::bigint AND (next_attempt_at, id) > ($2::bigint, $3::bigint)
                    ORDER BY next_attempt_at, id LIMIT $4::integer
                    """, [.text("\(nowMs)"), .text("\(cursorTime)"), .text("\(cursorID)"), .text("\(pageSize)")])
                guard let last = rows.last else { break }
                scannedRows += rows.count
                cursorTime = last.int64(1)!
                cursorID = last.int64(0)!
                var candidates: [String] = []
                for row in rows {
                    guard let userID = row.string(2), examinedUsers.insert(userID).inserted else { continue }
                    candidates.append(userID)
                }
                // Each eligible user yields at least one job: lock no more users than can be used.
                var start = 0
                while start < candidates.count && leased < limit {
                    let chunk = Array(candidates[start..<min(candidates.count, start + limit - leased)])
                    start += chunk.count
                    let results = try connection.pipeline([
                        PostgresStatement(name: "lease_lock", sql: Self.leaseLockStatement,
                                          parameters: [.text(PostgresArray.text(chunk)), .text(userLockSpace)]),
                        PostgresStatement(name: "lease_mark", sql: Self.leaseMarkStatement, parameters: [
                            .text("\(nowMs)"), .text("\(limit - leased)"), .text("\(expiryMs)"), .text(replicaID),
                            .text("\(limit)"),
                        ]),
                    ])
                    guard results.count == 2 else {
                        throw StoreError.databaseFailure("leasing returned \(results.count) results instead of 2; check the server's log")
                    }
                    // RETURNING comes in no particular order: back to lock order, then acceptance order.
                    let marked = results[1].sorted { ($0.int64(0)!, $0.int64(1)!) < ($1.int64(0)!, $1.int64(1)!) }
                    var index = marked.startIndex
                    while index < marked.endIndex {
                        let userID = marked[index].string(12)!
                        let end = marked[index...].firstIndex { $0.string(12)! != userID } ?? marked.endIndex
                        runs.append((userID, Array(marked[index..<end])))
                        index = end
                    }
                    leased += marked.count
                }
                if rows.count < pageSize { break }
            }
            return runs
        }
        var groups: [LeasedJobGroup] = []
        groups.reserveCapacity(runs.count)
        for (userID, run) in runs {
            var jobs: [LeasedJob] = []
            jobs.reserveCapacity(run.count)
            for row in run {
                let id = row.int64(1)!
                let payload: JSONValue
                do {
                    payload = try JSONParser().parse(row.bytes(5) ?? [])
                } catch {
                    throw .databaseFailure("job \(id) has an unreadable payload (\(error)); the jobs table was changed outside the store")
                }
                jobs.append(LeasedJob(
                    id: id, eventSequence: row.int64(2)!, messageId: row.string(3), mappingID: row.string(4) ?? "",
                    userID: userID, payload: payload, attempts: row.int(6) ?? 0, createdAt: Self.date(row.int64(7)!),
                    enqueuedAt: Self.date(row.int64(8)!), firstProfileNotFoundAt: Self.date(row.int64(9)),
                    lastAnswer: Self.answer(status: row.int(10), body: row.string(11))))
            }
            groups.append(LeasedJobGroup(userID: userID, jobs: jobs, leaseExpiresAt: expiry))
        }
        return groups
    }

    static func answer(status: Int?, body: String?) -> AdobeAnswer? {
        if status == nil && body == nil { return nil }
        return AdobeAnswer(status: status, body: body)
    }

    /// Adobe's answer body as stored (see `AdobeAnswer.storedBody`), without NULs, which
    /// PostgreSQL text cannot hold.
    static func snippet(_ body: String?) -> String? {
        AdobeAnswer.storedBody(body.map { $0.utf8.contains(0) ? $0.replacingOccurrences(of: "\0", with: "\u{FFFD}") : $0 })
    }

    public func recordOutcome(_ jobIDs: [JobID], _ outcome: JobOutcome) throws(StoreError) {
        guard !jobIDs.isEmpty else { return }
        let now = Self.milliseconds(configuration.clock())
        let ids = PostgresArray.int64(jobIDs)
        let update: String
        var parameters: [String?] = [ids]
        switch outcome {
        case .delivered(let at):
            update = """
                UPDATE jobs SET state = 2, attempts = attempts + 1, finished_at = $2, lease_expires_at = NULL, lease_owner = NULL
                WHERE id = ANY($1::bigint[]) AND state < 2 RETURNING id
                """
            parameters += ["\(Self.milliseconds(at))"]
        case .retry(let nextAttemptAt, let status, let body, let profileNotFound):
            let hasAnswer = status != nil || body != nil
            update = """
                UPDATE jobs SET state = 0, attempts = attempts + 1, next_attempt_at = $2, lease_expires_at = NULL, lease_owner = NULL,
                    first_profile_not_found_at = CASE WHEN $3::boolean THEN coalesce(first_profile_not_found_at, $4) ELSE first_profile_not_found_at END,
                    last_status = CASE WHEN $5::boolean THEN $6::integer ELSE last_status END,
                    last_body = CASE WHEN $5::boolean THEN $7::text ELSE last_body END
                WHERE id = ANY($1::bigint[]) AND state < 2 RETURNING NULL
                """
            parameters += ["\(Self.milliseconds(nextAttemptAt))", profileNotFound ? "t" : "f", "\(now)",
                           hasAnswer ? "t" : "f", status.map { "\($0)" }, Self.snippet(body)]
        case .deadLetter(let reason, let message, let status, let body):
            let hasAnswer = status != nil || body != nil
            // A dead letter decided on Adobe's answer counts that call as an attempt; one
            // decided without a call (expired in the queue) does not.
            update = """
                UPDATE jobs SET state = 3, attempts = attempts + $2, finished_at = $3, lease_expires_at = NULL, lease_owner = NULL,
                    dead_reason = $4, dead_message = $5,
                    last_status = CASE WHEN $6::boolean THEN $7::integer ELSE last_status END,
                    last_body = CASE WHEN $6::boolean THEN $8::text ELSE last_body END
                WHERE id = ANY($1::bigint[]) AND state < 2 RETURNING id
                """
            parameters += [hasAnswer ? "1" : "0", "\(now)", reason.rawValue,
                           message.replacingOccurrences(of: "\0", with: "\u{FFFD}"),
                           hasAnswer ? "t" : "f", status.map { "\($0)" }, Self.snippet(body)]
        }
        let counter: String? = switch outcome {
        case .delivered: "delivered"
        case .deadLetter: "dead"
        case .retry: nil
        }
        // The replica names the counter row; a retry counts nothing.
        if counter != nil { parameters.append(replicaID) }
        let counting = counter.map { name in
            """
            , counted AS (
                -- Every changed job was unfinished: it leaves the queue depth too.
                INSERT INTO counters(name, replica, value)
                SELECT n, $\(parameters.count)::text, c FROM (SELECT count(*) AS c FROM changed) AS t,
                    (VALUES ('\(name)'), ('dequeued')) AS v(n)
                WHERE c > 0 ORDER BY n
                ON CONFLICT (name, replica) DO UPDATE SET value = counters.value + excluded.value
            )
            """
        } ?? ""
        let kind = switch outcome {
        case .delivered: "delivered"
        case .retry: "retry"
        case .deadLetter: "dead"
        }
        // One round trip, statements prepared once per session. Committed without waiting
        // for the flush, like a lease: an outcome lost in a server crash leaves its jobs
        // leased, and they are delivered again when the lease expires, as after a replica
        // crash. Accepted events, which a 200 promises, are always flushed (the append writers).
        // The users' locks, in one global order so that two outcomes cannot deadlock: a
        // replica leasing one of these users meanwhile skips it instead of reading its jobs
        // half-way through this change. The update is a later statement, so it reads a
        // snapshot taken once the locks are held.
        let statements: [PostgresStatement] = [
            .unnamed("BEGIN ISOLATION LEVEL READ COMMITTED"),
            .unnamed("SET LOCAL synchronous_commit TO off"),
            PostgresStatement(name: "outcome_locks", sql: """
                SELECT pg_advisory_xact_lock($2::integer, h)
                FROM (
                    -- A lookup per id (LIMIT keeps the planner from turning it into a scan
                    -- of the whole table for a generic plan).
                    SELECT DISTINCT hashtext(j.user_id) AS h
                    FROM unnest($1::bigint[]) AS i(id)
                    CROSS JOIN LATERAL (SELECT user_id FROM jobs WHERE jobs.id = i.id LIMIT 1) AS j
                    WHERE j.user_id IS NOT NULL ORDER BY h
                ) AS s
                """, parameters: [.text(ids), .text("\(userLockSpace)")]),
            PostgresStatement(name: "outcome_\(kind)", sql: "WITH changed AS (\(update))\(counting) SELECT count(*) FROM changed",
                              parameters: parameters.map { .text($0) }),
            .unnamed("COMMIT"),
        ]
        let finished = try withConnection("recording the outcome of \(jobIDs.count) job(s)") { connection -> Int in
            let results = try connection.retryingTransientFailures { connection in try connection.pipeline(statements) }
            guard results.count == statements.count, let changed = results[3].first?.int(0) else {
                throw StoreError.databaseFailure("recording an outcome returned \(results.count) results instead of \(statements.count); check the server's log")
            }
            return counter == nil ? 0 : changed
        }
        adjustQueueDepth(by: -finished)
    }

    static let jobColumns = """
        j.id, j.event_seq, j.message_id, j.mapping_id, j.user_id, j.payload, j.state, j.attempts, j.created_at,
        j.enqueued_at, j.next_attempt_at, j.lease_expires_at, j.first_profile_not_found_at, j.last_status, j.last_body,
        j.dead_reason, j.dead_message, j.finished_at
        """

    static func job(_ row: PostgresRow) throws(StoreError) -> Job {
        let id = row.int64(0) ?? 0
        var payload: JSONValue?
        if let bytes = row.bytes(5) {
            do {
                payload = try JSONParser().parse(bytes)
            } catch {
                throw .databaseFailure("job \(id) has an unreadable payload (\(error)); the jobs table was changed outside the store")
            }
        }
        return Job(
            id: id, eventSequence: row.int64(1) ?? 0, messageId: row.string(2), mappingID: row.string(3) ?? "",
            userID: row.string(4), payload: payload, state: JobState(rawValue: row.int(6) ?? 3) ?? .dead,
            attempts: row.int(7) ?? 0, createdAt: date(row.int64(8) ?? 0), enqueuedAt: date(row.int64(9) ?? 0),
            nextAttemptAt: date(row.int64(10) ?? 0), leaseExpiresAt: date(row.int64(11)),
            firstProfileNotFoundAt: date(row.int64(12)), lastAnswer: answer(status: row.int(13), body: row.string(14)),
            deadReason: row.string(15).map(DeadLetterReason.init(rawValue:)), deadMessage: row.string(16),
            finishedAt: date(row.int64(17)))
    }

    public func deadLetters(limit: Int, offset: Int) throws(StoreError) -> [DeadLetter] {
        guard limit > 0 else { return [] }
        let rows = try withConnection("listing dead letters") { connection in
            try connection.execute("""
                SELECT \(Self.jobColumns), e.body FROM jobs j LEFT JOIN events e ON e.seq = j.event_seq
                WHERE j.state = 3 ORDER BY j.id LIMIT $1 OFFSET $2
                """, ["\(limit)", "\(max(0, offset))"])
        }
        var letters: [DeadLetter] = []
        for row in rows {
            let job = try Self.job(row)
            letters.append(DeadLetter(
                id: job.id, eventSequence: job.eventSequence, messageId: job.messageId, mappingID: job.mappingID,
                userID: job.userID, reason: job.deadReason ?? DeadLetterReason(rawValue: "UNKNOWN"),
                message: job.deadMessage ?? "", attempts: job.attempts, lastAnswer: job.lastAnswer,
                payload: job.payload, event: row.bytes(18), createdAt: job.createdAt, deadAt: job.finishedAt ?? job.createdAt))
        }
        return letters
    }

    public func replayDeadLetters(ids: [JobID]?) throws(StoreError) -> ReplaySummary {
        if let ids, ids.isEmpty { return ReplaySummary(replayed: 0, skippedWithoutPayload: 0) }
        let now = Self.milliseconds(configuration.clock())
        let selection = ids == nil ? "state = 3" : "state = 3 AND id = ANY($2::bigint[])"
        var parameters: [String?] = ["\(now)"]
        if let ids { parameters.append(PostgresArray.int64(ids)) }
        let summary = try transaction("replaying dead letters") { connection -> ReplaySummary in
            let skipped = try connection.count(
                "SELECT count(*) FROM jobs WHERE \(selection) AND payload IS NULL AND $1::bigint IS NOT NULL", parameters)
            let replayed = try connection.execute("""
                UPDATE jobs SET state = 0, attempts = 0, enqueued_at = $1, next_attempt_at = $1, lease_expires_at = NULL,
                    lease_owner = NULL, first_profile_not_found_at = NULL, dead_reason = NULL, dead_message = NULL, finished_at = NULL
                WHERE \(selection) AND payload IS NOT NULL RETURNING NULL
                """, parameters).count
            try addToCounters(connection, ["enqueued": Int64(replayed)])
            return ReplaySummary(replayed: replayed, skippedWithoutPayload: skipped)
        }
        adjustQueueDepth(by: summary.replayed)
        return summary
    }

    public func makeAllPendingDueNow() throws(StoreError) -> Int {
        let now = Self.milliseconds(configuration.clock())
        return try transaction("making pending jobs due now") { connection in
            try connection.execute("""
                UPDATE jobs SET next_attempt_at = $1 WHERE state = 0 AND next_attempt_at > $1 RETURNING NULL
                """, ["\(now)"]).count
        }
    }

    public func stats() throws(StoreError) -> StoreStats {
        let now = Self.milliseconds(configuration.clock())
        let row = try withConnection("reading statistics") { connection in
            try connection.execute("""
                SELECT (\(PostgresSchema.queueDepthQuery)),
                       (SELECT count(*) FROM jobs WHERE state = 1),
                       (SELECT min(created_at) FROM jobs WHERE state < 2),
                       (SELECT count(*) FROM jobs WHERE state = 3),
                       (SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'delivered'),
                       (SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'dead'),
                       (SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'accepted'),
                       (SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'rejected'),
                       (SELECT coalesce(sum(value), 0) FROM counters WHERE name = 'duplicate')
                """)[0]
        }
        let queueDepth = row.int(0) ?? 0
        noteQueueDepth(queueDepth)
        return StoreStats(
            queueDepth: queueDepth, inFlight: row.int(1) ?? 0,
            oldestPendingAge: row.int64(2).map { Double(max(0, now - $0)) / 1000 },
            deliveredTotal: row.int(4) ?? 0, deadTotal: row.int(5) ?? 0, deadLetters: row.int(3) ?? 0,
            acceptedEvents: row.int(6) ?? 0, rejectedEvents: row.int(7) ?? 0, duplicateEvents: row.int(8) ?? 0)
    }

    // MARK: - Settings and rate-limit accounting

    public func setting(named name: String) throws(StoreError) -> JSONValue? {
        let bytes = try withConnection("reading setting \(name)") { connection in
            try connection.execute("SELECT value FROM settings WHERE name = $1", [name]).first?.bytes(0)
        }
        guard let bytes else { return nil }
        do {
            return try JSONParser().parse(bytes)
        } catch {
            throw .databaseFailure("setting \(name) holds invalid JSON (\(error)); set it again")
        }
    }

    public func setSetting(_ value: JSONValue?, named name: String) throws(StoreError) {
        guard !name.utf8.contains(0) else {
            throw .invalidArgument("the setting name contains a NUL character; use a plain name")
        }
        try transaction("storing setting \(name)") { connection in
            if let value {
                try connection.execute("""
                    INSERT INTO settings(name, value) VALUES ($1, $2::bytea) ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """, [name, Hex.bytea(JSONSerializer.serialize(value))])
            } else {
                try connection.execute("DELETE FROM settings WHERE name = $1", [name])
            }
        }
    }

    public func recordAdobeCalls(_ count: Int, at time: Date) throws(StoreError) {
        guard count > 0 else { return }
        try ensureOpen()
        bufferAdobeCalls(count, minute: Self.milliseconds(time) / 60_000)
    }

    /// Calls every replica recorded, from the minute containing `time`: one rate limit for the
    /// client code, however many replicas share it. Other replicas' last second may be missing.
    public func adobeCalls(since time: Date) throws(StoreError) -> Int {
        let minute = Self.milliseconds(time) / 60_000
        // The buffer first: a flush committing between the two reads is then counted twice
        // (the safe side), never missed.
        let buffered = bufferedAdobeCalls(since: minute)
        let stored = try withConnection("reading Adobe call counts") { connection in
            try connection.count("SELECT coalesce(sum(count), 0) FROM adobe_calls WHERE minute >= $1", ["\(minute)"])
        }
        return stored + buffered
    }

    // MARK: - Inspection

    public func receivedEvents(after sequence: EventSequence, limit: Int) throws(StoreError) -> [ReceivedEvent] {
        guard limit > 0 else { return [] }
        let rows = try withConnection("reading received events") { connection in
            try connection.execute("""
                SELECT seq, message_id, received_at, status, reason, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2
                """, ["\(sequence)", "\(limit)"])
        }
        return rows.map { row in
            ReceivedEvent(
                sequence: row.int64(0) ?? 0, messageId: row.string(1), receivedAt: Self.date(row.int64(2) ?? 0),
                status: EventStatus(rawValue: row.int(3) ?? 1) ?? .rejected, rejectionReason: row.string(4),
                body: row.bytes(5) ?? [])
        }
    }

    /// Inspection only: it scans the jobs table, as no index on `event_seq` slows every append
    /// for it (schema version 2).
    public func jobs(forEvent sequence: EventSequence) throws(StoreError) -> [Job] {
        let rows = try withConnection("reading the jobs of event \(sequence)") { connection in
            try connection.execute("SELECT \(Self.jobColumns) FROM jobs j WHERE j.event_seq = $1 ORDER BY j.id", ["\(sequence)"])
        }
        var jobs: [Job] = []
        for row in rows { jobs.append(try Self.job(row)) }
        return jobs
    }

    // MARK: - Retention

    /// Rows deleted per transaction, so that purging never holds locks long.
    static let purgeChunk = 5_000

    public func purgeExpiredData(now: Date) throws(StoreError) -> PurgeSummary {
        let nowMs = Self.milliseconds(now)
        let cutoff = nowMs - Int64(max(configuration.retention, configuration.dedupWindow) * 1000)
        let dedupCutoff = nowMs - Int64(configuration.dedupWindow * 1000)
        var summary = PurgeSummary(jobs: 0, events: 0)
        // No index on times: ids and sequences grow with time, so the expired rows are at the
        // low end of the primary keys. A job finishes after it is created, so every finished
        // job to purge lies below the first job created within retention; the walk to find
        // that job passes only rows purged now or kept for being unfinished or recent.
        let jobBoundary = try withConnection("finding the oldest job within retention") { connection in
            try connection.execute("""
                SELECT coalesce((SELECT id FROM jobs WHERE created_at >= $1 ORDER BY id LIMIT 1),
                                (SELECT max(id) + 1 FROM jobs), 0)
                """, ["\(cutoff)"]).first?.int64(0) ?? 0
        }
        while true {
            let deleted = try transaction("purging finished jobs") { connection in
                try connection.execute("""
                    DELETE FROM jobs WHERE id IN (
                        SELECT id FROM jobs WHERE id < $2 AND state >= 2 AND finished_at < $1 ORDER BY id LIMIT \(Self.purgeChunk)
                    ) RETURNING NULL
                    """, ["\(cutoff)", "\(jobBoundary)"]).count
            }
            summary.jobs += deleted
            if deleted < Self.purgeChunk { break }
        }
        // Events before the first one received within retention and before every remaining
        // job's event: an unfinished job keeps its event and everything received after it.
        // Jobs above the boundary were created with their events, within retention, so their
        // events lie above the first event received within retention: only the jobs kept below
        // the boundary need reading.
        let eventBoundary = try withConnection("finding the oldest event to keep") { connection in
            try connection.execute("""
                SELECT least(
                    coalesce((SELECT seq FROM events WHERE received_at >= $1 ORDER BY seq LIMIT 1),
                             (SELECT max(seq) + 1 FROM events), 0),
                    (SELECT min(event_seq) FROM jobs WHERE id < $2))
                """, ["\(cutoff)", "\(jobBoundary)"]).first?.int64(0) ?? 0
        }
        while true {
            let deleted = try transaction("purging old events") { connection in
                try connection.execute("""
                    DELETE FROM events WHERE seq IN (
                        SELECT seq FROM events WHERE seq < $1 ORDER BY seq LIMIT \(Self.purgeChunk)
                    ) RETURNING NULL
                    """, ["\(eventBoundary)"]).count
            }
            summary.events += deleted
            if deleted < Self.purgeChunk { break }
        }
        try transaction("purging expired messageIds and Adobe call buckets") { connection in
            try connection.execute("DELETE FROM message_ids WHERE accepted_at < $1", ["\(dedupCutoff)"])
            // Rate-limit buckets only matter for the last 24 hours; keep two days for inspection.
            try connection.execute("DELETE FROM adobe_calls WHERE minute < $1", ["\((nowMs - 2 * 86_400_000) / 60_000)"])
        }
        return summary
    }

    /// The background purge: skipped when another replica is purging. The session lock is
    /// held on one pooled connection while the purge runs on others.
    func purgeIfNoOtherReplicaIs(now: Date) throws(StoreError) -> PurgeSummary? {
        let key = ["\(purgeLockKey.0)", "\(purgeLockKey.1)"]
        return try withConnection("purging expired data") { connection -> PurgeSummary? in
            guard try connection.execute("SELECT pg_try_advisory_lock($1, $2)", key).first?.string(0) == "t" else { return nil }
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1, $2)", key) }
            return try purgeExpiredData(now: now)
        }
    }
}
