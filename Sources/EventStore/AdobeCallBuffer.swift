import Foundation

/// Adobe calls counted per minute that wait for a store's next commit to carry them, so the
/// rate limit costs no write of its own. Thread-safe.
///
/// One flush at a time: `beginFlush` hands the waiting calls to one transaction and refuses a
/// second until that one's `finishFlush`, so a writer that did not start the flush can neither
/// forget calls still being written nor put back calls already committed.
public final class AdobeCallBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: [Int64: Int] = [:]
    private var flushing: [Int64: Int] = [:]
    private var isFlushing = false

    public init() {}

    /// Nothing waits for a commit.
    public var isEmpty: Bool { lock.withLock { waiting.isEmpty } }

    /// Counts `count` calls in `minute`; `true` when nothing waited before, i.e. the writer
    /// should be woken to carry them.
    public func add(_ count: Int, minute: Int64) -> Bool {
        lock.withLock {
            let wasEmpty = waiting.isEmpty
            waiting[minute, default: 0] += count
            return wasEmpty
        }
    }

    /// Calls counted but not yet committed, from `minute` on. While a transaction writes them
    /// they may be counted twice for a moment: the rate limit errs on the safe side.
    public func count(since minute: Int64) -> Int {
        lock.withLock {
            waiting.reduce(0) { $0 + ($1.key >= minute ? $1.value : 0) }
                + flushing.reduce(0) { $0 + ($1.key >= minute ? $1.value : 0) }
        }
    }

    /// The calls a transaction should write, or `nil` when none wait or another flush is under
    /// way. A non-nil answer must be followed by `finishFlush` once that transaction ended.
    public func beginFlush() -> [Int64: Int]? {
        lock.withLock {
            guard !isFlushing, !waiting.isEmpty else { return nil }
            isFlushing = true
            flushing = waiting
            waiting.removeAll()
            return flushing
        }
    }

    /// After the flush's transaction: committed calls are forgotten, failed ones wait again.
    public func finishFlush(committed: Bool) {
        lock.withLock {
            if !committed {
                for (minute, count) in flushing { waiting[minute, default: 0] += count }
            }
            flushing.removeAll()
            isFlushing = false
        }
    }

    /// Writes the waiting calls in a transaction of their own (`write`), for when no other
    /// commit comes to carry them. On failure they wait for the next flush, and the error is
    /// rethrown for the store to report.
    public func flush(_ write: ([Int64: Int]) throws -> Void) throws {
        guard let calls = beginFlush() else { return }
        do {
            try write(calls)
            finishFlush(committed: true)
        } catch {
            finishFlush(committed: false)
            throw error
        }
    }
}
