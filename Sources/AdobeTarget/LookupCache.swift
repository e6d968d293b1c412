import Foundation

/// Remembers which profiles a lookup found, so that a burst of updates for one user costs one
/// lookup. Only positive answers are kept (a missing profile may appear at any moment), each
/// for `timeToLive` seconds; beyond `capacity` entries the oldest insertions go first.
public final class LookupCache: @unchecked Sendable {
    public let timeToLive: Double
    public let capacity: Int

    private let lock = NSLock()
    private var expiries: [String: (expiry: Double, sequence: Int)] = [:]
    /// Insertion order, oldest first, from `head` on; stale entries (re-inserted or evicted
    /// keys) are skipped when their sequence no longer matches.
    private var order: [(key: String, sequence: Int)] = []
    private var head = 0
    private var nextSequence = 0

    public init(timeToLive: Double, capacity: Int) {
        self.timeToLive = timeToLive
        self.capacity = max(0, capacity)
    }

    public var count: Int { lock.withLock { expiries.count } }

    /// Whether a lookup for `userID` succeeded less than `timeToLive` seconds before `now`.
    public func contains(_ userID: String, now: Double) -> Bool {
        lock.withLock {
            guard let entry = expiries[userID] else { return false }
            if entry.expiry > now { return true }
            expiries[userID] = nil
            return false
        }
    }

    public func insert(_ userID: String, now: Double) {
        guard timeToLive > 0, capacity > 0 else { return }
        lock.withLock {
            let sequence = nextSequence
            nextSequence += 1
            expiries[userID] = (now + timeToLive, sequence)
            order.append((userID, sequence))
            while expiries.count > capacity, head < order.count {
                let oldest = order[head]
                head += 1
                if expiries[oldest.key]?.sequence == oldest.sequence { expiries[oldest.key] = nil }
            }
            compactIfNeeded()
        }
    }

    public func remove(_ userID: String) {
        lock.withLock { _ = expiries.removeValue(forKey: userID) }
    }

    public func removeAll() {
        lock.withLock {
            expiries.removeAll()
            order.removeAll()
            head = 0
        }
    }

    /// Keeps `order` proportional to the live entries however often keys are refreshed.
    private func compactIfNeeded() {
        let live = order.count - head
        guard live > 2 * max(expiries.count, 32) || head > max(order.count / 2, 64) else { return }
        order = order[head...].filter { expiries[$0.key]?.sequence == $0.sequence }
        head = 0
    }
}
