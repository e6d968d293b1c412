import Foundation
import JSONKit

/// Sequence number of a received event: strictly increasing in acceptance order.
public typealias EventSequence = Int64

/// Identifier of one delivery job.
public typealias JobID = Int64

/// The durable store behind ingest and delivery.
///
/// The SQLite implementation is `SQLiteEventStore`; a PostgreSQL backend implements the same
/// protocol later, and `Tests/EventStoreTests` hold contract tests that run against any
/// implementation. Every method may be called from any thread.
public protocol EventStore: AnyObject, Sendable {
    /// Stores one request's events in one durable step.
    ///
    /// `completion` runs on the store's writer thread once the events are committed and
    /// fsync'd, or with the reason nothing of the request was stored. It must not block.
    /// Concurrent calls share a transaction and its fsync (group commit).
    func append(_ batch: [IncomingEvent], completion: @escaping @Sendable (Result<AppendReceipt, StoreError>) -> Void)

    /// Due jobs, leased until `now + leaseSeconds`, grouped per user.
    ///
    /// A user's job is only handed out when no earlier unfinished job of that user exists;
    /// each group is, in acceptance order, the user's first unfinished job (which must be
    /// due) and the consecutive run after it of jobs that are due or have never been tried
    /// (new jobs wait out the store's first-attempt delay: the group takes them along), so the
    /// caller may coalesce them into one update (later values win). `limit` bounds each run,
    /// and users are added while fewer than `limit` jobs came before them, each run whole: the
    /// total may pass `limit` by the last run. So a run is always cut at the same place, and a
    /// lease that a crash lost is followed by one carrying at least the same jobs, never an
    /// older, shorter run that would set a profile back. A lease that is not followed by
    /// `recordOutcome` before it expires (the process crashed) makes the jobs due again.
    func leaseDueJobs(now: Date, limit: Int, leaseSeconds: Double) throws(StoreError) -> [LeasedJobGroup]

    /// Records what happened to leased jobs, atomically for all of them. Jobs already delivered
    /// or dead are left untouched, so recording the same outcome twice is harmless.
    func recordOutcome(_ jobIDs: [JobID], _ outcome: JobOutcome) throws(StoreError)

    /// Dead letters in the order they were created.
    func deadLetters(limit: Int, offset: Int) throws(StoreError) -> [DeadLetter]

    /// Puts dead letters back in the queue, due now, with their attempts reset: all of them
    /// (`ids == nil`) or the listed ones. Dead letters without a payload (mapping errors)
    /// cannot be delivered as they are and stay dead; they are counted in the result.
    @discardableResult
    func replayDeadLetters(ids: [JobID]?) throws(StoreError) -> ReplaySummary

    /// Makes every pending job due now (after an outage is fixed). Returns how many moved.
    @discardableResult
    func makeAllPendingDueNow() throws(StoreError) -> Int

    func stats() throws(StoreError) -> StoreStats

    /// Why appends would be refused or fail right now (closed, disk nearly full, queue full,
    /// the last commit failed), or `nil` when the store takes writes: for `GET /ready`. Cheap.
    func writeProblem() -> String?

    /// A durable small setting (mappings managed through the admin API, the bearer token, …).
    func setting(named name: String) throws(StoreError) -> JSONValue?

    /// Stores a setting durably; `nil` removes it.
    func setSetting(_ value: JSONValue?, named name: String) throws(StoreError)

    /// Counts Adobe calls in per-minute buckets, for a rate limit that survives restarts.
    /// Cheap: counts are written with the next commit, within about a second, so a crash may
    /// forget the last second's calls.
    func recordAdobeCalls(_ count: Int, at time: Date) throws(StoreError)

    /// Adobe calls recorded in the minutes from the one containing `time` onwards.
    func adobeCalls(since time: Date) throws(StoreError) -> Int

    /// Received events in sequence order, starting after `sequence` (for inspection and tests).
    func receivedEvents(after sequence: EventSequence, limit: Int) throws(StoreError) -> [ReceivedEvent]

    /// Every job created for one received event.
    func jobs(forEvent sequence: EventSequence) throws(StoreError) -> [Job]

    /// Deletes finished data older than the retention period: delivered and dead jobs, events
    /// with no remaining job, old rate-limit buckets.
    /// Unfinished jobs and their events are never purged.
    @discardableResult
    func purgeExpiredData(now: Date) throws(StoreError) -> PurgeSummary

    /// Finishes pending appends, then closes the database. Later calls fail with `.closed`.
    func close()
}

extension EventStore {
    /// Appends and waits for the durable result: for tests and command-line tools, never for
    /// an event-loop thread.
    public func appendAndWait(_ batch: [IncomingEvent]) throws(StoreError) -> AppendReceipt {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        append(batch) { result in
            box.set(result)
            done.signal()
        }
        done.wait()
        return try box.get()
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<AppendReceipt, StoreError>?

    func set(_ result: Result<AppendReceipt, StoreError>) {
        lock.withLock { self.result = result }
    }

    func get() throws(StoreError) -> AppendReceipt {
        let result = lock.withLock { self.result }
        guard let result else { throw StoreError.databaseFailure("append finished without a result") }
        return try result.get()
    }
}

// MARK: - Write path types

/// One event of an ingest request, already validated and mapped by the ingest layer.
public struct IncomingEvent: Sendable, Equatable {
    public enum Disposition: Sendable, Equatable {
        /// A valid event; `jobs` holds one entry per matching mapping (possibly none).
        case accepted(jobs: [JobSpec])
        /// An event that is invalid on its own; kept with the reason, never delivered.
        case rejected(reason: String)
    }

    /// Segment's `messageId`; `nil` when the event has none (such events are never deduplicated).
    public var messageId: String?
    /// The event as compact JSON bytes, stored verbatim.
    public var body: [UInt8]
    public var disposition: Disposition

    public init(messageId: String?, body: [UInt8], disposition: Disposition) {
        self.messageId = messageId
        self.body = body
        self.disposition = disposition
    }

    public static func accepted(messageId: String?, body: [UInt8], jobs: [JobSpec]) -> IncomingEvent {
        IncomingEvent(messageId: messageId, body: body, disposition: .accepted(jobs: jobs))
    }

    public static func rejected(messageId: String?, body: [UInt8], reason: String) -> IncomingEvent {
        IncomingEvent(messageId: messageId, body: body, disposition: .rejected(reason: reason))
    }
}

/// What one mapping produced for one accepted event.
public enum JobSpec: Sendable, Equatable {
    /// A profile update to deliver: `userID` is the mbox3rdPartyId, `payload` the resolved traits.
    case delivery(mappingID: String, userID: String, payload: JSONValue)
    /// The mapping failed for this event; stored at once as a `MAPPING_ERROR` dead letter.
    case mappingError(mappingID: String, userID: String?, message: String)
}

public enum EventStatus: Int, Sendable, Equatable, CustomStringConvertible {
    case accepted = 0
    case rejected = 1
    /// Accepted again within the dedup window of an earlier acceptance: stored, no new jobs.
    case duplicate = 2

    public var description: String {
        switch self {
        case .accepted: return "accepted"
        case .rejected: return "rejected"
        case .duplicate: return "duplicate"
        }
    }
}

/// The durable result of one `append`: one entry per event, in the order given.
public struct AppendReceipt: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var sequence: EventSequence
        public var status: EventStatus

        public init(sequence: EventSequence, status: EventStatus) {
            self.sequence = sequence
            self.status = status
        }
    }

    public var events: [Entry]

    public var acceptedCount: Int { events.count { $0.status == .accepted } }
    public var duplicateCount: Int { events.count { $0.status == .duplicate } }
    public var rejectedCount: Int { events.count { $0.status == .rejected } }

    public init(events: [Entry]) {
        self.events = events
    }
}

// MARK: - Read path types

public enum JobState: Int, Sendable, Equatable, CustomStringConvertible {
    case pending = 0
    case inFlight = 1
    case delivered = 2
    case dead = 3

    public var isFinished: Bool { self == .delivered || self == .dead }

    public var description: String {
        switch self {
        case .pending: return "pending"
        case .inFlight: return "in-flight"
        case .delivered: return "delivered"
        case .dead: return "dead"
        }
    }
}

/// Why a job became a dead letter. Codes are stable strings shown to operators.
public struct DeadLetterReason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let profileNotFound = DeadLetterReason(rawValue: "PROFILE_NOT_FOUND")
    public static let mappingError = DeadLetterReason(rawValue: "MAPPING_ERROR")
    public static let adobeRejected = DeadLetterReason(rawValue: "ADOBE_REJECTED")
    public static let expired = DeadLetterReason(rawValue: "EXPIRED")

    public var description: String { rawValue }
}

/// The last answer Adobe gave for a job; the body is cut to at most 2 KB.
public struct AdobeAnswer: Sendable, Equatable {
    public var status: Int?
    public var body: String?

    public init(status: Int?, body: String?) {
        self.status = status
        self.body = body
    }
}

/// What the delivery layer learned about leased jobs.
public enum JobOutcome: Sendable, Equatable {
    case delivered(at: Date)
    /// Try again at `nextAttemptAt`; `profileNotFound` starts the profile-not-found window on
    /// its first occurrence. `status`/`body` describe Adobe's answer when there was one.
    case retry(nextAttemptAt: Date, status: Int?, body: String?, profileNotFound: Bool)
    case deadLetter(reason: DeadLetterReason, message: String, status: Int?, body: String?)
}

/// A job handed to the delivery layer.
public struct LeasedJob: Sendable, Equatable {
    public var id: JobID
    public var eventSequence: EventSequence
    public var messageId: String?
    public var mappingID: String
    public var userID: String
    public var payload: JSONValue
    /// Delivery attempts already made (answered or not).
    public var attempts: Int
    public var createdAt: Date
    /// When the job last entered the queue (creation, or dead-letter replay): the start of its
    /// maximum age.
    public var enqueuedAt: Date
    public var firstProfileNotFoundAt: Date?
    public var lastAnswer: AdobeAnswer?

    public init(
        id: JobID,
        eventSequence: EventSequence,
        messageId: String?,
        mappingID: String,
        userID: String,
        payload: JSONValue,
        attempts: Int,
        createdAt: Date,
        enqueuedAt: Date,
        firstProfileNotFoundAt: Date?,
        lastAnswer: AdobeAnswer?
    ) {
        self.id = id
        self.eventSequence = eventSequence
        self.messageId = messageId
        self.mappingID = mappingID
        self.userID = userID
        self.payload = payload
        self.attempts = attempts
        self.createdAt = createdAt
        self.enqueuedAt = enqueuedAt
        self.firstProfileNotFoundAt = firstProfileNotFoundAt
        self.lastAnswer = lastAnswer
    }
}

/// One user's consecutive due jobs, oldest first.
public struct LeasedJobGroup: Sendable, Equatable {
    public var userID: String
    public var jobs: [LeasedJob]
    public var leaseExpiresAt: Date

    public init(userID: String, jobs: [LeasedJob], leaseExpiresAt: Date) {
        self.userID = userID
        self.jobs = jobs
        self.leaseExpiresAt = leaseExpiresAt
    }
}

/// Any job, as stored.
public struct Job: Sendable, Equatable {
    public var id: JobID
    public var eventSequence: EventSequence
    public var messageId: String?
    public var mappingID: String
    public var userID: String?
    /// `nil` for mapping errors.
    public var payload: JSONValue?
    public var state: JobState
    public var attempts: Int
    public var createdAt: Date
    public var enqueuedAt: Date
    public var nextAttemptAt: Date
    public var leaseExpiresAt: Date?
    public var firstProfileNotFoundAt: Date?
    public var lastAnswer: AdobeAnswer?
    public var deadReason: DeadLetterReason?
    public var deadMessage: String?
    public var finishedAt: Date?

    public init(
        id: JobID,
        eventSequence: EventSequence,
        messageId: String?,
        mappingID: String,
        userID: String?,
        payload: JSONValue?,
        state: JobState,
        attempts: Int,
        createdAt: Date,
        enqueuedAt: Date,
        nextAttemptAt: Date,
        leaseExpiresAt: Date?,
        firstProfileNotFoundAt: Date?,
        lastAnswer: AdobeAnswer?,
        deadReason: DeadLetterReason?,
        deadMessage: String?,
        finishedAt: Date?
    ) {
        self.id = id
        self.eventSequence = eventSequence
        self.messageId = messageId
        self.mappingID = mappingID
        self.userID = userID
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.createdAt = createdAt
        self.enqueuedAt = enqueuedAt
        self.nextAttemptAt = nextAttemptAt
        self.leaseExpiresAt = leaseExpiresAt
        self.firstProfileNotFoundAt = firstProfileNotFoundAt
        self.lastAnswer = lastAnswer
        self.deadReason = deadReason
        self.deadMessage = deadMessage
        self.finishedAt = finishedAt
    }
}

public struct DeadLetter: Sendable, Equatable {
    public var id: JobID
    public var eventSequence: EventSequence
    public var messageId: String?
    public var mappingID: String
    public var userID: String?
    public var reason: DeadLetterReason
    /// A human explanation beside the reason code.
    public var message: String
    public var attempts: Int
    public var lastAnswer: AdobeAnswer?
    public var payload: JSONValue?
    /// The received event's bytes; `nil` once retention purged the event.
    public var event: [UInt8]?
    public var createdAt: Date
    public var deadAt: Date

    public init(
        id: JobID,
        eventSequence: EventSequence,
        messageId: String?,
        mappingID: String,
        userID: String?,
        reason: DeadLetterReason,
        message: String,
        attempts: Int,
        lastAnswer: AdobeAnswer?,
        payload: JSONValue?,
        event: [UInt8]?,
        createdAt: Date,
        deadAt: Date
    ) {
        self.id = id
        self.eventSequence = eventSequence
        self.messageId = messageId
        self.mappingID = mappingID
        self.userID = userID
        self.reason = reason
        self.message = message
        self.attempts = attempts
        self.lastAnswer = lastAnswer
        self.payload = payload
        self.event = event
        self.createdAt = createdAt
        self.deadAt = deadAt
    }
}

public struct ReplaySummary: Sendable, Equatable {
    public var replayed: Int
    /// Dead letters left dead because they have no payload to deliver (mapping errors).
    public var skippedWithoutPayload: Int

    public init(replayed: Int, skippedWithoutPayload: Int) {
        self.replayed = replayed
        self.skippedWithoutPayload = skippedWithoutPayload
    }
}

public struct ReceivedEvent: Sendable, Equatable {
    public var sequence: EventSequence
    public var messageId: String?
    public var receivedAt: Date
    public var status: EventStatus
    public var rejectionReason: String?
    public var body: [UInt8]

    public init(
        sequence: EventSequence,
        messageId: String?,
        receivedAt: Date,
        status: EventStatus,
        rejectionReason: String?,
        body: [UInt8]
    ) {
        self.sequence = sequence
        self.messageId = messageId
        self.receivedAt = receivedAt
        self.status = status
        self.rejectionReason = rejectionReason
        self.body = body
    }
}

public struct StoreStats: Sendable, Equatable {
    /// Unfinished jobs: pending plus in flight.
    public var queueDepth: Int
    public var inFlight: Int
    /// Age of the oldest unfinished job, `nil` when the queue is empty.
    public var oldestPendingAge: TimeInterval?
    /// Jobs ever delivered, and ever dead-lettered (lifetime counters, kept across purges).
    public var deliveredTotal: Int
    public var deadTotal: Int
    /// Dead letters currently held.
    public var deadLetters: Int
    public var acceptedEvents: Int
    public var rejectedEvents: Int
    public var duplicateEvents: Int

    public init(
        queueDepth: Int,
        inFlight: Int,
        oldestPendingAge: TimeInterval?,
        deliveredTotal: Int,
        deadTotal: Int,
        deadLetters: Int,
        acceptedEvents: Int,
        rejectedEvents: Int,
        duplicateEvents: Int
    ) {
        self.queueDepth = queueDepth
        self.inFlight = inFlight
        self.oldestPendingAge = oldestPendingAge
        self.deliveredTotal = deliveredTotal
        self.deadTotal = deadTotal
        self.deadLetters = deadLetters
        self.acceptedEvents = acceptedEvents
        self.rejectedEvents = rejectedEvents
        self.duplicateEvents = duplicateEvents
    }
}

public struct PurgeSummary: Sendable, Equatable {
    public var jobs: Int
    public var events: Int

    public init(jobs: Int, events: Int) {
        self.jobs = jobs
        self.events = events
    }
}

/// Why the store refused or failed an operation.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The queue is full or the disk is nearly full: nothing of the request was stored; the
    /// client should retry after the given delay (HTTP 503 with `Retry-After`).
    case capacityExceeded(reason: String, retryAfterSeconds: Int)
    /// The store was closed.
    case closed
    /// The data directory cannot be used (missing permissions, already open elsewhere, …).
    case cannotOpen(String)
    case invalidArgument(String)
    /// SQLite failed; the message names the operation and SQLite's reason.
    case databaseFailure(String)

    public var description: String {
        switch self {
        case .capacityExceeded(let reason, let retryAfter):
            return "store at capacity: \(reason); retry after \(retryAfter) s"
        case .closed:
            return "the event store is closed; restart the process to reopen it"
        case .cannotOpen(let reason):
            return "cannot open the event store: \(reason)"
        case .invalidArgument(let reason):
            return "invalid argument: \(reason)"
        case .databaseFailure(let reason):
            return "event store database failure: \(reason)"
        }
    }
}

extension AdobeAnswer {
    /// The most of Adobe's answer body a store keeps.
    public static let storedBodyLimit = 2048

    /// Adobe's answer body as stored: at most `storedBodyLimit` bytes, cut on a character
    /// boundary (never inside a UTF-8 sequence).
    public static func storedBody(_ body: String?) -> String? {
        guard let body else { return nil }
        guard body.utf8.count > storedBodyLimit else { return body }
        let bytes = Array(body.utf8.prefix(storedBodyLimit + 1))
        var end = storedBodyLimit
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}

/// Times as the stores keep them: integer milliseconds since 1970. Conforming stores get the
/// conversions as static members.
public protocol MillisecondTimestamps {}

extension MillisecondTimestamps {
    public static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    public static func date(_ milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    public static func date(_ milliseconds: Int64?) -> Date? {
        milliseconds.map { date($0) }
    }
}
