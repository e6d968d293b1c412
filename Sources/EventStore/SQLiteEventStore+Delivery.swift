import Foundation
import GRDB
import JSONKit

extension SQLiteEventStore {
    /// Rows of the due index examined per page while looking for eligible users.
    private static let leaseScanPageSize = 512
    /// Pages examined per call: bounds the work when many due jobs sit behind blocked users.
    private static let leaseScanMaxPages = 16

    public func leaseDueJobs(now: Date, limit: Int, leaseSeconds: Double) throws(StoreError) -> [LeasedJobGroup] {
        guard limit > 0 else { return [] }
        guard leaseSeconds > 0 else {
            throw .invalidArgument("leaseSeconds must be positive (got \(leaseSeconds)); pass the delivery timeout plus a margin")
        }
        let nowMs = Self.milliseconds(now)
        let expiryMs = nowMs + Int64((leaseSeconds * 1000).rounded(.up))
        let expiry = Self.date(expiryMs)
        // The transaction holds the writer that appends wait for: it only selects and marks
        // rows; payloads are parsed after it commits.
        let (runs, newlyLeased) = try groupWrite("leasing due jobs") { db -> ([(String, [DueJob])], Int) in
            var runs: [(String, [DueJob])] = []
            var newlyLeased = 0
            var leased = 0
            var examinedUsers = Set<String>()
            var cursorTime = Int64.min
            var cursorID = Int64.min
            var pages = 0
            scan: while leased < limit && pages < Self.leaseScanMaxPages {
                pages += 1
                // Keyset paging over the due index, ordered by (nextAttemptAt, id); the plain
                // lower bound on nextAttemptAt lets SQLite seek instead of rescanning.
                // Cached statements: preparing these queries costs far more than running them
                // (callgrind: ~380k instructions a prepare), and leasing runs on the writer
                // thread, where every instruction delays the ingest commits queued behind it.
                let page = try db.cachedStatement(sql: """
                    SELECT id, nextAttemptAt, userID FROM jobs INDEXED BY jobs_due
                    WHERE state < 2 AND nextAttemptAt <= ?1 AND nextAttemptAt >= ?2 AND NOT (nextAttemptAt = ?2 AND id <= ?3)
                    ORDER BY nextAttemptAt, id LIMIT ?4
                    """)
                let rows = try Row.fetchAll(page, arguments: [nowMs, cursorTime, cursorID, Self.leaseScanPageSize])
                guard let last = rows.last else { break }
                cursorTime = last["nextAttemptAt"]
                cursorID = last["id"]
                var candidates: [String] = []
                for row in rows {
                    guard let userID: String = row["userID"], examinedUsers.insert(userID).inserted else { continue }
                    candidates.append(userID)
                }
                for userID in candidates {
                    // The whole run (up to `limit`), however many jobs came before: see the protocol.
                    let (run, pendingCount) = try self.dueRun(db, userID: userID, now: nowMs, limit: limit)
                    guard !run.isEmpty else { continue }
                    newlyLeased += pendingCount
                    let mark = try db.cachedStatement(sql: """
                        UPDATE jobs SET state = 1, nextAttemptAt = ?1, leaseExpiresAt = ?1 WHERE id = ?2
                        """)
                    for job in run { try mark.execute(arguments: [expiryMs, job.id]) }
                    runs.append((userID, run))
                    leased += run.count
                    if leased >= limit { break scan }
                }
                if rows.count < Self.leaseScanPageSize { break }
            }
            return (runs, newlyLeased)
        }
        adjustQueueCounts(unfinished: 0, leased: newlyLeased)
        var groups: [LeasedJobGroup] = []
        groups.reserveCapacity(runs.count)
        for (userID, run) in runs {
            var jobs: [LeasedJob] = []
            jobs.reserveCapacity(run.count)
            for due in run {
                let payload: JSONValue
                do {
                    payload = try JSONParser().parse(due.payload)
                } catch {
                    throw .databaseFailure("job \(due.id) has an unreadable payload (\(error)); the database file is damaged")
                }
                jobs.append(LeasedJob(
                    id: due.id, eventSequence: due.eventSequence, messageId: due.messageId, mappingID: due.mappingID,
                    userID: userID, payload: payload, attempts: due.attempts, createdAt: due.createdAt,
                    enqueuedAt: due.enqueuedAt, firstProfileNotFoundAt: due.firstProfileNotFoundAt, lastAnswer: due.lastAnswer))
            }
            groups.append(LeasedJobGroup(userID: userID, jobs: jobs, leaseExpiresAt: expiry))
        }
        return groups
    }

    /// A due job as read inside the leasing transaction, payload still serialised.
    private struct DueJob {
        var id: JobID
        var eventSequence: EventSequence
        var messageId: String?
        var mappingID: String
        var payload: [UInt8]
        var attempts: Int
        var createdAt: Date
        var enqueuedAt: Date
        var firstProfileNotFoundAt: Date?
        var lastAnswer: AdobeAnswer?
    }

    /// The user's earliest unfinished jobs when the first is due: empty when it is in flight
    /// or scheduled later. The run goes on over due jobs and over pending jobs never tried,
    /// due or not (still waiting out `firstAttemptDelaySeconds`: sending them with the first
    /// is what coalescing is for); it stops at a job scheduled later after a failed attempt.
    /// Also counts the jobs that were pending (the others are expired leases, already counted
    /// as in flight).
    /// Runs on the writer thread (inside a group), which owns `unfinishedByUser`.
    private func dueRun(_ db: Database, userID: String, now: Int64, limit: Int) throws -> ([DueJob], Int) {
        let statement = try db.cachedStatement(sql: """
            SELECT id, eventSeq, messageId, mappingID, payload, attempts, createdAt, enqueuedAt, nextAttemptAt,
                   firstProfileNotFoundAt, lastStatus, lastBody, state, userID
            FROM jobs WHERE id = ?
            """)
        let user = UnfinishedJobsByUser.hash(userID: userID)
        var run: [DueJob] = []
        var pendingCount = 0
        var finished: [JobID] = []
        defer { for id in finished { unfinishedByUser.remove(id, user: user) } }
        for id in unfinishedByUser.jobs(ofUser: user) {
            guard run.count < limit else { break }
            // The index may hold more than the truth (see UnfinishedJobsByUser): the row decides.
            guard let row = try Row.fetchOne(statement, arguments: [id]), (row["state"] as Int) < JobState.delivered.rawValue else {
                finished.append(id)
                continue
            }
            guard let rowUser: String = row["userID"], rowUser.utf8.elementsEqual(userID.utf8) else { continue }
            let nextAttemptAt: Int64 = row["nextAttemptAt"]
            let isPending = (row["state"] as Int) == JobState.pending.rawValue
            if nextAttemptAt > now {
                guard !run.isEmpty, isPending, (row["attempts"] as Int) == 0 else { break }
            }
            if isPending { pendingCount += 1 }
            run.append(DueJob(
                id: row["id"], eventSequence: row["eventSeq"], messageId: row["messageId"], mappingID: row["mappingID"],
                payload: (row["payload"] as Data?).map { Array($0) } ?? [], attempts: row["attempts"],
                createdAt: Self.date(row["createdAt"] as Int64), enqueuedAt: Self.date(row["enqueuedAt"] as Int64),
                firstProfileNotFoundAt: Self.date(row["firstProfileNotFoundAt"] as Int64?),
                lastAnswer: Self.answer(status: row["lastStatus"], body: row["lastBody"])))
        }
        return (run, pendingCount)
    }

    static func answer(status: Int?, body: String?) -> AdobeAnswer? {
        if status == nil && body == nil { return nil }
        return AdobeAnswer(status: status, body: body)
    }

    static func snippet(_ body: String?) -> String? {
        AdobeAnswer.storedBody(body)
    }

    public func recordOutcome(_ jobIDs: [JobID], _ outcome: JobOutcome) throws(StoreError) {
        guard !jobIDs.isEmpty else { return }
        let now = Self.milliseconds(configuration.clock())
        let hasAnswer: Bool
        let update: String
        switch outcome {
        case .delivered:
            hasAnswer = false
            update = """
                UPDATE jobs SET state = 2, attempts = attempts + 1, finishedAt = ?1, leaseExpiresAt = NULL WHERE id = ?2
                """
        case .retry(_, let status, let body, _):
            hasAnswer = status != nil || body != nil
            update = """
                UPDATE jobs SET state = 0, attempts = attempts + 1, nextAttemptAt = ?1, leaseExpiresAt = NULL,
                    firstProfileNotFoundAt = CASE WHEN ?2 THEN coalesce(firstProfileNotFoundAt, ?3) ELSE firstProfileNotFoundAt END,
                    lastStatus = CASE WHEN ?4 THEN ?5 ELSE lastStatus END,
                    lastBody = CASE WHEN ?4 THEN ?6 ELSE lastBody END
                WHERE id = ?7
                """
        case .deadLetter(_, _, let status, let body):
            hasAnswer = status != nil || body != nil
            update = """
                UPDATE jobs SET state = 3, attempts = attempts + ?1, finishedAt = ?2, leaseExpiresAt = NULL,
                    deadReason = ?3, deadMessage = ?4,
                    lastStatus = CASE WHEN ?5 THEN ?6 ELSE lastStatus END,
                    lastBody = CASE WHEN ?5 THEN ?7 ELSE lastBody END
                WHERE id = ?8
                """
        }
        let (finished, released) = try groupWrite("recording the outcome of \(jobIDs.count) job(s)") { db -> (Int, Int) in
            let stateOfJob = try db.cachedStatement(sql: "SELECT state, userID FROM jobs WHERE id = ?")
            let statement = try db.cachedStatement(sql: update)
            var finished = 0
            var released = 0
            for id in jobIDs {
                // Finished jobs are left alone: a late or repeated outcome changes nothing.
                guard let job = try Row.fetchOne(stateOfJob, arguments: [id]) else { continue }
                let state: Int = job["state"]
                guard state < JobState.delivered.rawValue else { continue }
                if state == JobState.inFlight.rawValue { released += 1 }
                if case .retry = outcome {} else if let userID: String = job["userID"] {
                    self.unfinishedByUser.remove(id, user: UnfinishedJobsByUser.hash(userID: userID))
                }
                switch outcome {
                case .delivered(let at):
                    try statement.execute(arguments: [Self.milliseconds(at), id])
                    finished += 1
                case .retry(let nextAttemptAt, let status, let body, let profileNotFound):
                    try statement.execute(arguments: [
                        Self.milliseconds(nextAttemptAt), profileNotFound, now, hasAnswer, status, Self.snippet(body), id,
                    ])
                case .deadLetter(let reason, let message, let status, let body):
                    // A dead letter decided on Adobe's answer counts that call as an attempt; one
                    // decided without a call (expired in the queue) does not.
                    try statement.execute(arguments: [
                        hasAnswer ? 1 : 0, now, reason.rawValue, message, hasAnswer, status, Self.snippet(body), id,
                    ])
                    finished += 1
                }
            }
            switch outcome {
            case .delivered: try Self.addToCounters(db, ["delivered": Int64(finished)])
            case .deadLetter: try Self.addToCounters(db, ["dead": Int64(finished)])
            case .retry: break
            }
            return (finished, released)
        }
        adjustQueueCounts(unfinished: -finished, leased: -released)
    }

    public func deadLetters(limit: Int, offset: Int) throws(StoreError) -> [DeadLetter] {
        guard limit > 0 else { return [] }
        return try read("listing dead letters") { db in
            try Row.fetchAll(db, sql: """
                SELECT j.*, e.body AS eventBody FROM jobs j INDEXED BY jobs_dead
                LEFT JOIN events e ON e.seq = j.eventSeq
                WHERE j.state = 3 ORDER BY j.id LIMIT ? OFFSET ?
                """, arguments: [limit, max(0, offset)]).map { row in
                let job = try Self.job(row)
                return DeadLetter(
                    id: job.id, eventSequence: job.eventSequence, messageId: job.messageId, mappingID: job.mappingID,
                    userID: job.userID, reason: job.deadReason ?? DeadLetterReason(rawValue: "UNKNOWN"),
                    message: job.deadMessage ?? "", attempts: job.attempts, lastAnswer: job.lastAnswer,
                    payload: job.payload, event: (row["eventBody"] as Data?).map { Array($0) },
                    createdAt: job.createdAt, deadAt: job.finishedAt ?? job.createdAt)
            }
        }
    }

    public func replayDeadLetters(ids: [JobID]?) throws(StoreError) -> ReplaySummary {
        let now = Self.milliseconds(configuration.clock())
        let summary = try groupWrite("replaying dead letters") { db -> ReplaySummary in
            let selection: String
            if let ids {
                guard !ids.isEmpty else { return ReplaySummary(replayed: 0, skippedWithoutPayload: 0) }
                try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS replay_ids(id INTEGER PRIMARY KEY)")
                try db.execute(sql: "DELETE FROM replay_ids")
                let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO replay_ids(id) VALUES (?)")
                for id in ids { try insert.execute(arguments: [id]) }
                selection = "state = 3 AND id IN (SELECT id FROM replay_ids)"
            } else {
                selection = "state = 3"
            }
            let skipped = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE \(selection) AND payload IS NULL") ?? 0
            let replayed = try Row.fetchCursor(db, sql: """
                SELECT id, userID FROM jobs WHERE \(selection) AND payload IS NOT NULL AND userID IS NOT NULL
                """)
            while let row = try replayed.next() {
                self.unfinishedByUser.insert(row["id"], user: UnfinishedJobsByUser.hash(userID: row["userID"]))
            }
            try db.execute(sql: """
                UPDATE jobs SET state = 0, attempts = 0, enqueuedAt = ?1, nextAttemptAt = ?1, leaseExpiresAt = NULL,
                    firstProfileNotFoundAt = NULL, deadReason = NULL, deadMessage = NULL, finishedAt = NULL
                WHERE \(selection) AND payload IS NOT NULL
                """, arguments: [now])
            return ReplaySummary(replayed: db.changesCount, skippedWithoutPayload: skipped)
        }
        adjustQueueCounts(unfinished: summary.replayed, leased: 0)
        // Replayed jobs are unfinished again, below the floor perhaps.
        if summary.replayed > 0 { resetUnfinishedJobFloor() }
        return summary
    }

    public func makeAllPendingDueNow() throws(StoreError) -> Int {
        let now = Self.milliseconds(configuration.clock())
        return try groupWrite("making pending jobs due now") { db in
            try db.execute(sql: """
                UPDATE jobs INDEXED BY jobs_due SET nextAttemptAt = ?1
                WHERE state < 2 AND state = 0 AND nextAttemptAt > ?1
                """, arguments: [now])
            return db.changesCount
        }
    }

    public func stats() throws(StoreError) -> StoreStats {
        let now = Self.milliseconds(configuration.clock())
        let counts = queueCounts
        return try read("reading statistics") { db in
            // Without an index of its own (one less B-tree per ingested job): a rowid walk from
            // the last known floor, which jobs finishing in order keep short.
            let (floor, generation) = unfinishedJobFloor
            let oldestRow = try Row.fetchOne(db, sql: """
                SELECT id, createdAt FROM jobs WHERE id >= ? AND state < 2 ORDER BY id LIMIT 1
                """, arguments: [floor])
            let oldest: Int64? = oldestRow?["createdAt"]
            if let id: Int64 = oldestRow?["id"] {
                raiseUnfinishedJobFloor(to: id, generation: generation)
            } else if let newest = try Int64.fetchOne(db, sql: "SELECT max(id) FROM jobs") {
                // Nothing unfinished: only jobs created from now on can be.
                raiseUnfinishedJobFloor(to: newest + 1, generation: generation)
            }
            let deadLetters = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs INDEXED BY jobs_dead WHERE state = 3") ?? 0
            var counters: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, value FROM counters") {
                counters[row["name"]] = row["value"]
            }
            return StoreStats(
                queueDepth: counts.unfinished, inFlight: counts.leased,
                oldestPendingAge: oldest.map { Double(max(0, now - $0)) / 1000 },
                deliveredTotal: counters["delivered"] ?? 0, deadTotal: counters["dead"] ?? 0, deadLetters: deadLetters,
                acceptedEvents: counters["accepted"] ?? 0, rejectedEvents: counters["rejected"] ?? 0,
                duplicateEvents: counters["duplicate"] ?? 0)
        }
    }

    // MARK: - Settings and rate-limit accounting

    public func setting(named name: String) throws(StoreError) -> JSONValue? {
        let bytes = try read("reading setting \(name)") { db in
            try Data.fetchOne(db, sql: "SELECT value FROM settings WHERE name = ?", arguments: [name])
        }
        guard let bytes else { return nil }
        do {
            return try JSONParser().parse(Array(bytes))
        } catch {
            throw .databaseFailure("setting \(name) holds invalid JSON (\(error)); set it again")
        }
    }

    public func setSetting(_ value: JSONValue?, named name: String) throws(StoreError) {
        try groupWrite("storing setting \(name)") { db in
            if let value {
                try db.execute(sql: """
                    INSERT INTO settings(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value
                    """, arguments: [name, Data(JSONSerializer.serialize(value))])
            } else {
                try db.execute(sql: "DELETE FROM settings WHERE name = ?", arguments: [name])
            }
        }
    }

    public func recordAdobeCalls(_ count: Int, at time: Date) throws(StoreError) {
        guard count > 0 else { return }
        try ensureOpen()
        bufferAdobeCalls(count, minute: Self.milliseconds(time) / 60_000)
    }

    public func adobeCalls(since time: Date) throws(StoreError) -> Int {
        let minute = Self.milliseconds(time) / 60_000
        // The buffer first: a flush committing between the two reads is then counted twice
        // (the safe side), never missed.
        let buffered = bufferedAdobeCalls(since: minute)
        let stored = try read("reading Adobe call counts") { db in
            try Int.fetchOne(db, sql: "SELECT coalesce(sum(count), 0) FROM adobe_calls WHERE minute >= ?", arguments: [minute]) ?? 0
        }
        return stored + buffered
    }

    // MARK: - Inspection

    public func receivedEvents(after sequence: EventSequence, limit: Int) throws(StoreError) -> [ReceivedEvent] {
        guard limit > 0 else { return [] }
        return try read("reading received events") { db in
            try Row.fetchAll(db, sql: """
                SELECT seq, messageId, receivedAt, status, reason, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?
                """, arguments: [sequence, limit]).map { row in
                ReceivedEvent(
                    sequence: row["seq"], messageId: row["messageId"], receivedAt: Self.date(row["receivedAt"] as Int64),
                    status: EventStatus(rawValue: row["status"]) ?? .rejected, rejectionReason: row["reason"],
                    body: Array(row["body"] as Data))
            }
        }
    }

    public func jobs(forEvent sequence: EventSequence) throws(StoreError) -> [Job] {
        try read("reading the jobs of event \(sequence)") { db in
            guard let low = try Schema.firstRowID(db, table: "jobs", rowID: "id", column: "eventSeq", atLeast: sequence)
            else { return [] }
            var jobs: [Job] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM jobs WHERE id >= ? ORDER BY id", arguments: [low])
            while let row = try rows.next() {
                let eventSequence: Int64 = row["eventSeq"]
                if eventSequence < sequence { continue }
                if eventSequence > sequence { break }
                jobs.append(try Self.job(row))
            }
            return jobs
        }
    }

    static func job(_ row: Row) throws -> Job {
        let payloadData: Data? = row["payload"]
        let payload: JSONValue?
        if let payloadData {
            do {
                payload = try JSONParser().parse(Array(payloadData))
            } catch {
                throw StoreError.databaseFailure("job \(row["id"] as Int64) has an unreadable payload (\(error)); the database file is damaged")
            }
        } else {
            payload = nil
        }
        return Job(
            id: row["id"], eventSequence: row["eventSeq"], messageId: row["messageId"], mappingID: row["mappingID"],
            userID: row["userID"], payload: payload, state: JobState(rawValue: row["state"]) ?? .dead,
            attempts: row["attempts"], createdAt: date(row["createdAt"] as Int64), enqueuedAt: date(row["enqueuedAt"] as Int64),
            nextAttemptAt: date(row["nextAttemptAt"] as Int64), leaseExpiresAt: date(row["leaseExpiresAt"] as Int64?),
            firstProfileNotFoundAt: date(row["firstProfileNotFoundAt"] as Int64?),
            lastAnswer: answer(status: row["lastStatus"], body: row["lastBody"]),
            deadReason: (row["deadReason"] as String?).map(DeadLetterReason.init(rawValue:)),
            deadMessage: row["deadMessage"], finishedAt: date(row["finishedAt"] as Int64?))
    }

    // MARK: - Retention

    /// Rows deleted per transaction, so purging never holds the writer long enough to stall ingest.
    private static let purgeChunk: Int64 = 5_000

    public func purgeExpiredData(now: Date) throws(StoreError) -> PurgeSummary {
        let nowMs = Self.milliseconds(now)
        let cutoff = nowMs - Int64(max(configuration.retention, configuration.dedupWindow) * 1000)
        var summary = PurgeSummary(jobs: 0, events: 0)

        // Jobs: walk the rowid range of jobs created before the cutoff (nothing newer can have
        // finished before it), deleting finished ones chunk by chunk.
        let (firstJob, lastJob) = try read("finding expired jobs") { db -> (Int64?, Int64?) in
            guard let first = try Int64.fetchOne(db, sql: "SELECT min(id) FROM jobs"),
                  let newest = try Int64.fetchOne(db, sql: "SELECT max(id) FROM jobs"),
                  let firstRecent = try Schema.firstRowID(db, table: "jobs", rowID: "id", column: "createdAt", atLeast: cutoff)
            else { return (nil, nil) }
            // The newest job is always kept, so that SQLite never hands out its id again.
            return (first, min(firstRecent, newest) - 1)
        }
        if let firstJob, let lastJob {
            var low = firstJob
            while low <= lastJob {
                let high = min(low + Self.purgeChunk - 1, lastJob)
                summary.jobs += try write("purging finished jobs") { db in
                    try db.execute(sql: """
                        DELETE FROM jobs WHERE id BETWEEN ? AND ? AND state >= 2 AND finishedAt < ?
                        """, arguments: [low, high, cutoff])
                    return db.changesCount
                }
                low = high + 1
            }
        }

        // Events: those older than the cutoff and before every remaining job's event.
        let (firstEvent, lastEvent) = try read("finding expired events") { db -> (Int64?, Int64?) in
            let keepFrom = try Int64.fetchOne(db, sql: "SELECT eventSeq FROM jobs ORDER BY id LIMIT 1") ?? Int64.max
            guard let first = try Int64.fetchOne(db, sql: "SELECT min(seq) FROM events"),
                  let newest = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events"),
                  let firstRecent = try Schema.firstRowID(db, table: "events", rowID: "seq", column: "receivedAt", atLeast: cutoff)
            else { return (nil, nil) }
            // The newest event is always kept: the next sequence continues from it after a restart.
            return (first, min(firstRecent, keepFrom, newest) - 1)
        }
        if let firstEvent, let lastEvent {
            var low = firstEvent
            while low <= lastEvent {
                let high = min(low + Self.purgeChunk - 1, lastEvent)
                summary.events += try write("purging old events") { db in
                    try db.execute(sql: "DELETE FROM events WHERE seq BETWEEN ? AND ? AND receivedAt < ?",
                                   arguments: [low, high, cutoff])
                    return db.changesCount
                }
                low = high + 1
            }
        }

        // Rate-limit buckets only matter for the last 24 hours; keep two days for inspection.
        try write("purging old Adobe call buckets") { db in
            try db.execute(sql: "DELETE FROM adobe_calls WHERE minute < ?", arguments: [(nowMs - 2 * 86_400_000) / 60_000])
        }
        return summary
    }
}
