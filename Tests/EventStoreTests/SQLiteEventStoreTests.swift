import Foundation
import JSONKit
import Testing
@testable import EventStore

/// Behaviour specific to the SQLite implementation.
@Suite("SQLiteEventStore")
struct SQLiteEventStoreTests {
    @Test func concurrentAppendsShareOneCommit() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let writerHeld = DispatchSemaphore(value: 0)
        let releaseWriter = DispatchSemaphore(value: 0)
        // Hold GRDB's writer connection so that appends pile up behind it.
        DispatchQueue.global().async {
            try? store.pool.write { _ in
                writerHeld.signal()
                releaseWriter.wait()
            }
        }
        writerHeld.wait()
        let done = DispatchGroup()
        for request in 0..<50 {
            done.enter()
            store.append([identify("g\(request)")]) { result in
                if case .failure(let error) = result { Issue.record("append failed: \(error)") }
                done.leave()
            }
        }
        waitUntil { store.unansweredRequestCount == 50 }
        releaseWriter.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        // The writer may have taken the first request alone before it blocked; every other
        // request waited and must have shared one transaction.
        #expect(store.groupCommitCount <= 2)
        #expect(try allEvents(store).count == 50)
    }

    @Test func deliveryWritesJoinTheGroupAndFailAlone() throws {
        struct Refused: Error {}
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let writerHeld = DispatchSemaphore(value: 0)
        let releaseWriter = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try? store.pool.write { _ in
                writerHeld.signal()
                releaseWriter.wait()
            }
        }
        writerHeld.wait()
        let done = DispatchGroup()
        for request in 0..<20 {
            done.enter()
            store.append([identify("w\(request)")]) { result in
                if case .failure(let error) = result { Issue.record("append failed: \(error)") }
                done.leave()
            }
        }
        let failure = ErrorBox()
        done.enter()
        DispatchQueue.global().async {
            defer { done.leave() }
            do {
                try store.groupWrite("a write that fails halfway") { db in
                    try db.execute(sql: "INSERT INTO settings(name, value) VALUES ('half', x'31')")
                    throw Refused()
                }
            } catch {
                failure.set(error)
            }
        }
        done.enter()
        DispatchQueue.global().async {
            defer { done.leave() }
            do { try store.setSetting("kept", named: "whole") } catch { Issue.record("setSetting failed: \(error)") }
        }
        waitUntil { store.unansweredRequestCount == 22 }
        releaseWriter.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(store.groupCommitCount <= 2, "appends and delivery writes shared the commit")
        #expect(failure.value is StoreError)
        #expect(try store.setting(named: "half") == nil, "the failed write's savepoint was rolled back")
        #expect(try store.setting(named: "whole") == "kept")
        #expect(try allEvents(store).count == 20)
    }

    @Test func aCompletionMayWriteToTheStore() throws {
        // Completions run on the store's writer thread; a write from there must run at once,
        // not wait for a group that only that thread can commit.
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        store.append([identify("from-completion")]) { result in
            do {
                _ = try result.get()
                try store.setSetting("written", named: "from-completion")
            } catch {
                failure.set(error)
            }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(failure.value == nil)
        #expect(try store.setting(named: "from-completion") == "written")
    }

    @Test func largeRequestsKeepEveryRowAndItsOrder() throws {
        // 16 + 16 + 4 + 1 rows: every multi-row statement size, with rejections, duplicates,
        // events without jobs and mapping errors among them.
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        var batch: [IncomingEvent] = []
        for index in 0..<37 {
            switch index % 6 {
            case 1: batch.append(.rejected(messageId: "r\(index)", body: eventBody(messageId: "r\(index)"), reason: "bad \(index)"))
            case 2: batch.append(identify("big-\(index - 2)", user: "u\(index)"))
            case 3: batch.append(.accepted(messageId: "none-\(index)", body: eventBody(messageId: "none-\(index)"), jobs: []))
            case 4:
                batch.append(.accepted(messageId: "err-\(index)", body: eventBody(messageId: "err-\(index)"), jobs: [
                    .mappingError(mappingID: "broken", userID: nil, message: "no user \(index)"),
                    .delivery(mappingID: "second", userID: "u\(index)", payload: ["n": .number(Double(index))]),
                ]))
            default: batch.append(identify("big-\(index)", user: "u\(index)"))
            }
        }
        let receipt = try store.appendAndWait(batch)
        #expect(receipt.events.count == 37)
        #expect(zip(receipt.events, receipt.events.dropFirst()).allSatisfy { $0.sequence + 1 == $1.sequence })
        for (index, entry) in receipt.events.enumerated() {
            let expected: EventStatus = index % 6 == 1 ? .rejected : index % 6 == 2 ? .duplicate : .accepted
            #expect(entry.status == expected, "event \(index)")
        }
        let stored = try allEvents(store)
        #expect(stored.map(\.messageId) == batch.map(\.messageId))
        #expect(stored.map(\.body) == batch.map(\.body))
        for (index, entry) in receipt.events.enumerated() {
            let jobs = try store.jobs(forEvent: entry.sequence)
            switch index % 6 {
            case 1, 2, 3: #expect(jobs.isEmpty, "event \(index)")
            case 4:
                #expect(jobs.map(\.mappingID) == ["broken", "second"])
                #expect(jobs.map(\.state) == [.dead, .pending])
                #expect(jobs[1].payload == ["n": .number(Double(index))])
                #expect(jobs[1].messageId == "err-\(index)")
            default:
                #expect(jobs.map(\.userID) == ["u\(index)"])
                #expect(jobs.first?.messageId == "big-\(index)")
            }
        }
        // Pending: 13 identify events and 6 second mappings; the mapping errors are dead.
        #expect(try store.stats().queueDepth == 19)
    }

    @Test func aSecondOpenOfTheSameDirectoryIsRefused() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        #expect {
            _ = try SQLiteEventStore(directory: directory.path)
        } throws: { error in
            guard case .cannotOpen(let reason) = error as? StoreError else { return false }
            return reason.contains("in use")
        }
        store.close()
        // Closing releases the directory.
        let reopened = try SQLiteEventStore(directory: directory.path)
        reopened.close()
    }

    @Test func appendsAfterCloseFailWithClosed() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        store.close()
        #expect(throws: StoreError.closed) { try store.appendAndWait([identify("late")]) }
        #expect(throws: StoreError.closed) { try store.stats() }
    }

    @Test func theQueueDepthCountedInMemorySurvivesAReopen() throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteEventStoreConfiguration()
        configuration.maxQueueDepth = 3
        do {
            let store = try SQLiteEventStore(directory: directory.path, configuration: configuration)
            defer { store.close() }
            _ = try store.appendAndWait([identify("a"), identify("b")])
        }
        let store = try SQLiteEventStore(directory: directory.path, configuration: configuration)
        defer { store.close() }
        #expect(throws: StoreError.self) { try store.appendAndWait([identify("c"), identify("d")]) }
        #expect(try store.appendAndWait([identify("c")]).acceptedCount == 1)
    }

    /// Each user's unfinished jobs are indexed in memory (UnfinishedJobsByUser), rebuilt at
    /// open: partly delivered backlogs must come back whole and in order.
    @Test func usersBacklogsAreLeasedInOrderAfterAReopen() throws {
        let directory = try TemporaryDirectory()
        let later = Date().addingTimeInterval(60)
        do {
            let store = try SQLiteEventStore(directory: directory.path)
            defer { store.close() }
            for position in 1...4 {
                _ = try store.appendAndWait(["A", "B", "C"].map { identify("\($0.lowercased())\(position)", user: $0) })
            }
            // a2 delivered; a1 dead-lettered, then replayed: back in the queue ahead of a3.
            let first = try store.leaseDueJobs(now: later, limit: 2, leaseSeconds: 60)
            let leasedA = try #require(first.first { $0.userID == "A" }).jobs
            #expect(leasedA.map(\.messageId) == ["a1", "a2"])
            try store.recordOutcome([leasedA[1].id], .delivered(at: later))
            try store.recordOutcome([leasedA[0].id], .deadLetter(reason: .adobeRejected, message: "test", status: 400, body: nil))
            #expect(try store.replayDeadLetters(ids: nil).replayed == 1)
            try store.recordOutcome(first.filter { $0.userID != "A" }.flatMap { $0.jobs.map(\.id) },
                                    .retry(nextAttemptAt: later, status: 500, body: nil, profileNotFound: false))
            #expect(describe(try store.leaseDueJobs(now: later.addingTimeInterval(120), limit: 10, leaseSeconds: 60)) == [
                "A": ["a1", "a3", "a4"], "B": ["b1", "b2", "b3", "b4"], "C": ["c1", "c2", "c3", "c4"],
            ])
        }
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        #expect(describe(try store.leaseDueJobs(now: later, limit: 10, leaseSeconds: 60)) == [
            "A": ["a1", "a3", "a4"], "B": ["b1", "b2", "b3", "b4"], "C": ["c1", "c2", "c3", "c4"],
        ])
    }

    /// A group whose transaction fails as a whole (here the Adobe call counts it carries are
    /// refused) takes back the outcome it recorded, in the in-memory index as in the table.
    @Test func aGroupThatRollsBackLeavesItsJobsLeasable() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let later = Date().addingTimeInterval(60)
        _ = try store.appendAndWait([identify("a1", user: "A")])
        let ids = try store.leaseDueJobs(now: later, limit: 10, leaseSeconds: 60).flatMap { $0.jobs.map(\.id) }
        #expect(ids.count == 1)
        try store.pool.write { db in
            try db.execute(sql: "CREATE TRIGGER refuse_calls BEFORE INSERT ON adobe_calls BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        }
        try store.recordAdobeCalls(1, at: later)
        #expect(throws: StoreError.self) { try store.recordOutcome(ids, .delivered(at: later)) }
        try store.pool.write { db in try db.execute(sql: "DROP TRIGGER refuse_calls") }
        #expect(describe(try store.leaseDueJobs(now: later.addingTimeInterval(120), limit: 10, leaseSeconds: 60)) == ["A": ["a1"]])
        #expect(try store.adobeCalls(since: later.addingTimeInterval(-60)) == 1, "the refused call count waits for the next commit")
    }

    /// An outcome whose savepoint rolls back (here a trigger refuses the second job) must
    /// leave the first job unfinished in the in-memory index as well as in the table.
    @Test func anOutcomeThatRollsBackLeavesItsJobsLeasable() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let later = Date().addingTimeInterval(60)
        _ = try store.appendAndWait([identify("a1", user: "A"), identify("a2", user: "A")])
        try store.pool.write { db in
            try db.execute(sql: """
                CREATE TRIGGER refuse_a2 BEFORE UPDATE OF state ON jobs WHEN NEW.state = 2 AND OLD.messageId = 'a2'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
        }
        let ids = try store.leaseDueJobs(now: later, limit: 10, leaseSeconds: 60).flatMap { $0.jobs.map(\.id) }
        #expect(ids.count == 2)
        #expect(throws: StoreError.self) { try store.recordOutcome(ids, .delivered(at: later)) }
        try store.recordOutcome(ids, .retry(nextAttemptAt: later, status: 500, body: nil, profileNotFound: false))
        #expect(describe(try store.leaseDueJobs(now: later, limit: 10, leaseSeconds: 60)) == ["A": ["a1", "a2"]])
    }

    @Test func adobeCallsAreCountedAtOnceAndWrittenWithoutAnAppend() throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteEventStore(directory: directory.path)
        defer { store.close() }
        let now = Date()
        try store.recordAdobeCalls(4, at: now)
        try store.recordAdobeCalls(1, at: now)
        #expect(try store.adobeCalls(since: now.addingTimeInterval(-60)) == 5)
        // The writer flushes buffered counts on its own within about a second.
        let deadline = Date().addingTimeInterval(5)
        var stored = 0
        while Date() < deadline {
            stored = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT coalesce(sum(count), 0) FROM adobe_calls") ?? 0 }
            if stored == 5 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(stored == 5)
        #expect(try store.adobeCalls(since: now.addingTimeInterval(-60)) == 5)
    }

    @Test func writeProblemsNameTheirCause() throws {
        let directory = try TemporaryDirectory()
        var configuration = SQLiteEventStoreConfiguration()
        configuration.maxQueueDepth = 1
        let store = try SQLiteEventStore(directory: directory.path, configuration: configuration)
        #expect(store.writeProblem() == nil)
        _ = try store.appendAndWait([identify("a")])
        #expect(store.writeProblem()?.contains("queue is full") == true)
        store.close()
        #expect(store.writeProblem()?.contains("closed") == true)

        let fullDisk = try TemporaryDirectory()
        configuration.minFreeDiskBytes = .max
        let starved = try SQLiteEventStore(directory: fullDisk.path, configuration: configuration)
        defer { starved.close() }
        #expect(starved.writeProblem()?.contains("disk") == true)
    }

    @Test func bodySnippetsAreCutOnCharacterBoundaries() {
        #expect(SQLiteEventStore.snippet("short") == "short")
        #expect(SQLiteEventStore.snippet(nil) == nil)
        let cut = SQLiteEventStore.snippet(String(repeating: "a", count: 2047) + "é")
        #expect(cut == String(repeating: "a", count: 2047))
        #expect(SQLiteEventStore.snippet(String(repeating: "b", count: 5000))?.utf8.count == 2048)
    }
}

import GRDB

@Suite("Schema.firstRowID")
struct FirstRowIDTests {
    @Test func findsTheFirstQualifyingRowAcrossGaps() throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")
            // Rowids with gaps, times ascending.
            for (id, at) in [(3, 10), (4, 10), (9, 20), (10, 30), (25, 30), (26, 40)] {
                try db.execute(sql: "INSERT INTO t VALUES (?, ?)", arguments: [id, at])
            }
        }
        // The first existing row at or after the answer: what callers scan from.
        func firstRow(atLeast value: Int64) throws -> Int64? {
            try queue.read { db -> Int64? in
                guard let bound = try Schema.firstRowID(db, table: "t", rowID: "id", column: "at", atLeast: value) else {
                    return nil
                }
                return try Int64.fetchOne(db, sql: "SELECT min(id) FROM t WHERE id >= ?", arguments: [bound])
            }
        }
        #expect(try firstRow(atLeast: 0) == 3)
        #expect(try firstRow(atLeast: 10) == 3)
        #expect(try firstRow(atLeast: 11) == 9)
        #expect(try firstRow(atLeast: 30) == 10)
        #expect(try firstRow(atLeast: 31) == 26)
        #expect(try firstRow(atLeast: 41) == nil)
        let empty = try DatabaseQueue()
        let bound = try empty.write { db -> Int64? in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)")
            return try Schema.firstRowID(db, table: "t", rowID: "id", column: "at", atLeast: 1)
        }
        #expect(bound == nil)
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    func set(_ error: any Error) { lock.withLock { stored = error } }
    var value: (any Error)? { lock.withLock { stored } }
}

/// Polls `condition` for up to ten seconds; the assertions that follow tell what went wrong.
private func waitUntil(_ condition: () -> Bool) {
    let deadline = Date().addingTimeInterval(10)
    while !condition() && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
}
