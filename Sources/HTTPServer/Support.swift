#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with a condition variable; the server's few shared structures (the
/// cross-thread response inbox, the connection count, the run state) are guarded by these.
final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    @inline(__always)
    func lock() { pthread_mutex_lock(mutex) }

    @inline(__always)
    func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always)
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits (the lock held) until signalled; callers loop on their predicate.
    func wait() { pthread_cond_wait(condition, mutex) }

    func broadcast() { pthread_cond_broadcast(condition) }
}

/// Seconds on the monotonic clock: deadlines must not jump with the wall clock.
@inline(__always)
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1_000_000_000
}

/// The `Date:` header line, rebuilt at most once a second per event loop.
struct DateHeaderCache {
    private(set) var line: [UInt8] = []
    private var second: time_t = -1

    mutating func refresh() {
        let now = time(nil)
        guard now != second else { return }
        second = now
        line = Self.format(now)
    }

    private static let days: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// IMF-fixdate (RFC 9110 §5.6.7), e.g. `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`.
    static func format(_ seconds: time_t) -> [UInt8] {
        var value = seconds
        var parts = tm()
        gmtime_r(&value, &parts)
        var out: [UInt8] = []
        out.reserveCapacity(37)
        out.append(contentsOf: "Date: ".utf8)
        appendStatic(days[Int(parts.tm_wday)], to: &out)
        out.append(contentsOf: ", ".utf8)
        appendTwoDigits(Int(parts.tm_mday), to: &out)
        out.append(ASCII.space)
        appendStatic(months[Int(parts.tm_mon)], to: &out)
        out.append(ASCII.space)
        let year = Int(parts.tm_year) + 1900
        appendTwoDigits(year / 100, to: &out)
        appendTwoDigits(year % 100, to: &out)
        out.append(ASCII.space)
        appendTwoDigits(Int(parts.tm_hour), to: &out)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(Int(parts.tm_min), to: &out)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(Int(parts.tm_sec), to: &out)
        out.append(contentsOf: " GMT\r\n".utf8)
        return out
    }

    private static func appendStatic(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func appendTwoDigits(_ value: Int, to out: inout [UInt8]) {
        out.append(UInt8(0x30 + value / 10))
        out.append(UInt8(0x30 + value % 10))
    }
}

extension Array where Element == UInt8 {
    /// Appends a non-negative integer in decimal without going through String.
    mutating func appendDecimal(_ value: Int) {
        if value < 10 {
            append(UInt8(0x30 + value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var remaining = value
        var count = 0
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            while remaining > 0 {
                buffer[19 - count] = UInt8(0x30 + remaining % 10)
                remaining /= 10
                count += 1
            }
            append(contentsOf: buffer[(20 - count)...])
        }
    }
}
