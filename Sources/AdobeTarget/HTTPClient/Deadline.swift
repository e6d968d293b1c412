#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point on the monotonic clock by which an exchange must be over.
struct Deadline: Sendable, Hashable {
    let uptimeNanoseconds: UInt64

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    init(secondsFromNow seconds: Double) {
        let nanoseconds = seconds >= 1e9 ? UInt64(1e18) : UInt64(max(0, seconds) * 1e9)
        uptimeNanoseconds = Deadline.now() + nanoseconds
    }

    /// What is left for `poll(2)`: rounded up, so that a wait never ends just before the
    /// deadline and spins; 0 once it has passed.
    var remainingMilliseconds: Int32 {
        let now = Deadline.now()
        guard uptimeNanoseconds > now else { return 0 }
        let milliseconds = (uptimeNanoseconds - now + 999_999) / 1_000_000
        return Int32(min(milliseconds, UInt64(Int32.max)))
    }
}
