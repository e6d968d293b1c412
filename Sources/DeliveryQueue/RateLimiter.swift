import EventStore
import Foundation

/// The rate limit as the queue last knew it.
public struct RateLimitState: Sendable, Equatable {
    /// Adobe calls allowed in any rolling window.
    public var limit: Int
    public var windowSeconds: Double
    /// Calls made in the current window (as of the last refresh from the store, plus calls
    /// made since). Minute buckets make this err on the high side by up to a minute's calls.
    public var usedInWindow: Int
    /// Calls promised to deliveries in flight.
    public var reserved: Int
    /// Calls that may still start now.
    public var headroom: Int { max(0, limit - usedInWindow - reserved) }
    /// Whether deliveries are waiting for the window to free room.
    public var isWaiting: Bool
}

/// A rolling-window limit on Adobe calls, counted through the store's per-minute accounting
/// so that a restart does not reset it.
///
/// Calls are reserved before a delivery starts and settled with the number actually made;
/// settled calls are written to the store in batches (`refresh`) rather than one write per
/// delivery. A crash loses at most the calls since the last refresh from the count.
final class RateLimiter: @unchecked Sendable {
    let limit: Int
    let windowSeconds: Double
    private let store: any EventStore

    private let lock = NSLock()
    private let refreshLock = NSLock()
    /// Calls in the window according to the store at the last refresh, plus calls flushed since.
    private var stored = 0
    /// Calls settled but not yet written to the store.
    private var unflushed = 0
    private var reserved = 0
    private var waiting = false

    init(limit: Int, windowSeconds: Double, store: any EventStore) {
        self.limit = limit
        self.windowSeconds = windowSeconds
        self.store = store
    }

    var state: RateLimitState {
        lock.withLock {
            RateLimitState(limit: limit, windowSeconds: windowSeconds, usedInWindow: stored + unflushed,
                           reserved: reserved, isWaiting: waiting)
        }
    }

    /// Reserves `calls` if the window has room for them; otherwise marks the limiter waiting.
    func reserve(_ calls: Int) -> Bool {
        lock.withLock {
            guard stored + unflushed + reserved + calls <= limit else {
                waiting = true
                return false
            }
            waiting = false
            reserved += calls
            return true
        }
    }

    /// Notes that deliveries wait for room (shown in the state until room frees up).
    func markWaiting() {
        lock.withLock { waiting = true }
    }

    /// Returns a reservation and counts the calls actually made (possibly more than reserved,
    /// when an update had to be split; the window absorbs the difference).
    func settle(reserved reservation: Int, used calls: Int) {
        lock.withLock {
            reserved = max(0, reserved - reservation)
            unflushed += max(0, calls)
        }
    }

    /// Writes the calls settled since the last refresh to the store, then re-reads the window
    /// (old minutes leave it). Blocking: call it off the cooperative thread pool.
    func refresh(now: Date) throws(StoreError) {
        // One refresh at a time, so that a read never misses a concurrent refresh's write.
        refreshLock.lock()
        defer { refreshLock.unlock() }
        let pending = lock.withLock {
            let pending = unflushed
            unflushed = 0
            stored += pending
            return pending
        }
        do {
            try store.recordAdobeCalls(pending, at: now)
        } catch {
            lock.withLock {
                unflushed += pending
                stored -= pending
            }
            throw error
        }
        let inWindow = try store.adobeCalls(since: now.addingTimeInterval(-windowSeconds))
        lock.withLock {
            stored = inWindow
            if stored + unflushed + reserved < limit { waiting = false }
        }
    }
}
