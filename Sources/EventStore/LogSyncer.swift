import Foundation

/// Makes committed transactions durable on a thread of its own, so that the writer thread
/// never waits for the disk.
///
/// The writer connection commits with `synchronous=NORMAL`: SQLite writes the WAL frames and
/// returns without an fsync. The writer hands each committed group's answers to this thread
/// and starts on the next group; this thread fdatasyncs the WAL once for every group
/// committed since its last sync and only then answers them. One sync thus covers the groups
/// committed while the previous one was under way, and a slow fsync no longer leaves the
/// writer idle while requests pile up (the piled-up inserts, done afterwards, doubled the
/// tail latency). A commit is durable once a sync that started after it returned:
/// `fdatasync` flushes every write made to the file before the call, whichever descriptor
/// made it.
final class LogSyncer: @unchecked Sendable {
    /// Called once the groups before it are durable, or with the reason they may not be.
    typealias Completion = (StoreError?) -> Void

    private let path: String
    private let diskFullRetryAfterSeconds: Int
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var waiting: [Completion] = []
    private var waitingRequests = 0
    private var inFlightRequests = 0
    private var threadID: pthread_t?
    private var isStopping = false
    /// Held for a whole sync; guards the descriptor and what it was opened on.
    private let fileLock = NSLock()
    private var descriptor: Int32 = -1
    private var identity: (device: UInt64, inode: UInt64)?
    private let stopped = DispatchSemaphore(value: 0)

    /// `path` is the WAL file; it must exist (the store has written once).
    init(logPath path: String, diskFullRetryAfterSeconds: Int) throws(StoreError) {
        self.path = path
        self.diskFullRetryAfterSeconds = diskFullRetryAfterSeconds
        if let failure = reopenIfReplaced() { throw failure }
        let thread = Thread { self.run() }
        thread.name = "EventStore.syncer"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// Requests waiting for a sync, or in the one under way (for tests).
    var pendingCount: Int { condition.withLock { waitingRequests + inFlightRequests } }

    var isCurrentThread: Bool {
        condition.withLock { threadID.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Runs `completion`, which answers `requests` requests, on the syncer thread after the
    /// next sync.
    func enqueue(requests: Int, _ completion: @escaping Completion) {
        condition.lock()
        waiting.append(completion)
        waitingRequests += requests
        condition.signal()
        condition.unlock()
    }

    /// Syncs on the caller's thread: for the rare writes that return only once durable.
    func syncNow() throws(StoreError) {
        if let failure = sync() { throw failure }
    }

    /// Answers what is waiting, then stops the thread and closes the descriptor.
    func stop() {
        condition.lock()
        isStopping = true
        condition.signal()
        condition.unlock()
        stopped.wait()
        fileLock.withLock {
            if descriptor >= 0 { close(descriptor) }
            descriptor = -1
        }
    }

    private func run() {
        condition.withLock { threadID = pthread_self() }
        while true {
            condition.lock()
            while waiting.isEmpty && !isStopping { condition.wait() }
            if waiting.isEmpty {
                condition.unlock()
                break
            }
            let batch = waiting
            waiting.removeAll(keepingCapacity: true)
            inFlightRequests = waitingRequests
            waitingRequests = 0
            condition.unlock()
            // The lock is not held across the fsync, so the writer can hand over more groups.
            let failure = sync()
            for completion in batch { completion(failure) }
            condition.withLock { inFlightRequests = 0 }
        }
        stopped.signal()
    }

    /// One fdatasync of the WAL.
    private func sync() -> StoreError? {
        fileLock.lock()
        defer { fileLock.unlock() }
        if let failure = reopenIfReplaced() { return failure }
        // A WAL that was checkpointed completely and deleted has nothing left to sync.
        guard descriptor >= 0 else { return nil }
        while fdatasync(descriptor) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == ENOSPC || code == EDQUOT {
                return .capacityExceeded(
                    reason: "the disk is full: the write-ahead log \(path) could not be synced (\(String(cString: strerror(code)))); free disk space",
                    retryAfterSeconds: diskFullRetryAfterSeconds)
            }
            return .databaseFailure(
                "syncing the write-ahead log \(path) to disk failed (\(String(cString: strerror(code))), errno \(code)); these writes may not be durable; check the disk and the kernel log")
        }
        return nil
    }

    /// SQLite keeps the WAL's inode while any connection is open, but if it was ever deleted
    /// and created again, a descriptor on the old one would sync nothing.
    private func reopenIfReplaced() -> StoreError? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT {
                if descriptor >= 0 { close(descriptor) }
                descriptor = -1
                identity = nil
                return nil
            }
            return .databaseFailure(
                "the write-ahead log \(path) cannot be examined (\(String(cString: strerror(errno)))); check the data directory's permissions")
        }
        let current = (device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        if let identity, identity == current, descriptor >= 0 { return nil }
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else {
            return .databaseFailure(
                "the write-ahead log \(path) cannot be opened for syncing (\(String(cString: strerror(errno)))); check the data directory's permissions")
        }
        if descriptor >= 0 { close(descriptor) }
        descriptor = opened
        identity = current
        return nil
    }
}
