/// Adobe calls counted per minute that wait for a store's next commit to carry them, so the
/// rate limit costs no write of its own. Not thread-safe: a store keeps it under its own lock.
public struct AdobeCallBuffer: Sendable {
    private var waiting: [Int64: Int] = [:]
    private var flushing: [Int64: Int] = [:]

    public init() {}

    /// Nothing waits for a commit.
    public var isEmpty: Bool { waiting.isEmpty }

    /// Counts `count` calls in `minute`; `true` when the buffer was empty before, i.e. the
    /// writer should be woken to carry them.
    public mutating func add(_ count: Int, minute: Int64) -> Bool {
        let wasEmpty = waiting.isEmpty
        waiting[minute, default: 0] += count
        return wasEmpty
    }

    /// Calls counted but not yet committed, from `minute` on. While a transaction writes them
    /// they may be counted twice for a moment: the rate limit errs on the safe side.
    public func count(since minute: Int64) -> Int {
        waiting.reduce(0) { $0 + ($1.key >= minute ? $1.value : 0) }
            + flushing.reduce(0) { $0 + ($1.key >= minute ? $1.value : 0) }
    }

    /// Moves the waiting calls into the flush and returns everything the flush must write.
    public mutating func beginFlush() -> [Int64: Int] {
        for (minute, count) in waiting { flushing[minute, default: 0] += count }
        waiting.removeAll()
        return flushing
    }

    /// After the flush's transaction: committed calls are forgotten, failed ones wait again.
    public mutating func finishFlush(committed: Bool) {
        if !committed {
            for (minute, count) in flushing { waiting[minute, default: 0] += count }
        }
        flushing.removeAll()
    }
}
