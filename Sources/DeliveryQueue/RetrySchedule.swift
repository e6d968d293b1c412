import Foundation

/// When to try a failed delivery again. Pure: randomness comes in as a number in `0..<1`, so
/// the bounds can be tested exactly.
public struct RetrySchedule: Sendable, Equatable {
    public var initialBackoffSeconds: Double
    public var maxBackoffSeconds: Double
    public var profileNotFoundInitialDelaySeconds: Double
    public var profileNotFoundMaxDelaySeconds: Double
    public var profileNotFoundJitterFraction: Double

    public init(configuration: DeliveryConfiguration) {
        initialBackoffSeconds = configuration.initialBackoffSeconds
        maxBackoffSeconds = configuration.maxBackoffSeconds
        profileNotFoundInitialDelaySeconds = configuration.profileNotFoundInitialDelaySeconds
        profileNotFoundMaxDelaySeconds = configuration.profileNotFoundMaxDelaySeconds
        profileNotFoundJitterFraction = configuration.profileNotFoundJitterFraction
    }

    /// The ceiling of the transient backoff after `attempts` failed attempts:
    /// `initial × 2^(attempts − 1)`, capped at `maxBackoffSeconds`.
    public func backoffCeiling(afterAttempts attempts: Int) -> Double {
        let exponent = Double(min(max(attempts - 1, 0), 62))
        return min(maxBackoffSeconds, initialBackoffSeconds * pow(2, exponent))
    }

    /// The delay after a transient failure: "full jitter" (uniform between 0 and the ceiling),
    /// which spreads the retries of an outage's backlog evenly instead of in waves, and never
    /// shorter than Adobe's `Retry-After`.
    /// - Parameter unitRandom: a number in `0..<1`.
    public func transientDelay(afterAttempts attempts: Int, retryAfterSeconds: Double?, unitRandom: Double) -> Double {
        let jittered = backoffCeiling(afterAttempts: attempts) * clampUnit(unitRandom)
        return max(jittered, retryAfterSeconds ?? 0)
    }

    /// The delay before looking a missing profile up again, `waited` seconds after it was first
    /// missing: the time already waited (so the delays double), kept between the initial and the
    /// maximum delay, then varied by the jitter fraction either way.
    public func profileNotFoundDelay(waitedSeconds waited: Double, unitRandom: Double) -> Double {
        let base = min(profileNotFoundMaxDelaySeconds, max(profileNotFoundInitialDelaySeconds, waited))
        let factor = 1 + profileNotFoundJitterFraction * (2 * clampUnit(unitRandom) - 1)
        return base * factor
    }

    private func clampUnit(_ value: Double) -> Double {
        value.isFinite ? min(max(value, 0), 1) : 0
    }
}
