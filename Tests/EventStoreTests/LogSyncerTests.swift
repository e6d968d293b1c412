import Foundation
import Testing
@testable import EventStore

@Suite("LogSyncer")
struct LogSyncerTests {
    @Test func answersRunAfterASyncOnItsOwnThreadInOrder() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/log"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("frames".utf8)))
        let syncer = try LogSyncer(logPath: path, diskFullRetryAfterSeconds: 60)
        defer { syncer.stop() }
        let order = OrderBox()
        let done = DispatchGroup()
        for request in 0..<20 {
            done.enter()
            syncer.enqueue(requests: 1) { failure in
                order.append(request, failure: failure, onSyncer: syncer.isCurrentThread)
                done.leave()
            }
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(order.requests == Array(0..<20))
        #expect(order.failures == 0)
        #expect(order.allOnSyncer)
        #expect(!syncer.isCurrentThread)
        #expect(syncer.pendingCount == 0)
    }

    @Test func aLogThatWasDeletedHasNothingToSync() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/log"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let syncer = try LogSyncer(logPath: path, diskFullRetryAfterSeconds: 60)
        defer { syncer.stop() }
        try FileManager.default.removeItem(atPath: path)
        try syncer.syncNow()
        // Created again (a new inode): synced through a fresh descriptor.
        #expect(FileManager.default.createFile(atPath: path, contents: Data("again".utf8)))
        try syncer.syncNow()
    }

    @Test func stoppingAnswersWhatIsWaiting() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/log"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        let syncer = try LogSyncer(logPath: path, diskFullRetryAfterSeconds: 60)
        let order = OrderBox()
        for request in 0..<5 {
            syncer.enqueue(requests: 1) { failure in order.append(request, failure: failure, onSyncer: true) }
        }
        syncer.stop()
        #expect(order.requests == Array(0..<5))
    }
}

private final class OrderBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [Int] = []
    private var failed = 0
    private var offThread = false

    func append(_ request: Int, failure: StoreError?, onSyncer: Bool) {
        lock.withLock {
            stored.append(request)
            if failure != nil { failed += 1 }
            if !onSyncer { offThread = true }
        }
    }

    var requests: [Int] { lock.withLock { stored } }
    var failures: Int { lock.withLock { failed } }
    var allOnSyncer: Bool { lock.withLock { !offThread } }
}
