import Foundation
import Logging

/// Limits and tuning of `PostgresEventStore`.
public struct PostgresEventStoreConfiguration: Sendable {
    /// Names this process among the replicas sharing the database. Leases are recorded under
    /// it, and a process reopening the store releases the leases its previous run held at
    /// once instead of waiting for them to expire. Two live processes may not share one: the
    /// second is refused. Defaults to the host name (a pod name in Kubernetes).
    public var replicaID: String = ProcessInfo.processInfo.hostName
    /// The schema holding the tables; several deployments may share a database in separate
    /// schemas. Lower-case letters, digits and `_`, starting with a letter or `_`.
    public var schema: String = "public"
    /// Appends are refused while the unfinished jobs (pending plus in flight, across every
    /// replica) would exceed this. Each replica checks against a count refreshed every
    /// `queueDepthRefreshInterval` plus its own writes since, so replicas together may
    /// overshoot by what the others appended within that interval.
    public var maxQueueDepth: Int = 1_000_000
    public var queueDepthRefreshInterval: TimeInterval = 1
    /// The `Retry-After` suggested when the queue is full.
    public var queueFullRetryAfterSeconds: Int = 30
    /// The `Retry-After` suggested when the server's disk is full.
    public var diskFullRetryAfterSeconds: Int = 60
    /// A messageId accepted within this window makes later events with it duplicates, on
    /// every replica.
    public var dedupWindow: TimeInterval = 24 * 3600
    /// Delivered and dead jobs, and old events without unfinished jobs, are kept this long
    /// (never less than `dedupWindow`).
    public var retention: TimeInterval = 7 * 24 * 3600
    /// How often this replica purges expired data in the background (one replica at a time
    /// does it); `nil` leaves purging to explicit `purgeExpiredData(now:)` calls.
    public var automaticPurgeInterval: TimeInterval? = 600
    /// Connections (each with its writer thread) that commit appends. Two let one group
    /// execute while the previous one waits for its WAL flush; more rarely help, as the
    /// server flushes concurrent commits together anyway.
    public var appendConnections: Int = 2
    /// Connections for leasing, outcomes and reads, besides the append writers' own.
    public var maxConnections: Int = 4
    /// New jobs become due this long after acceptance. A user's later jobs join the lease of
    /// the first whether due or not, so updates for one profile arriving within this delay
    /// reach Adobe as one call (`delivery.coalesceSeconds`).
    public var firstAttemptDelaySeconds: Double = 0
    /// The time source; tests inject one to move through the dedup window and retention.
    public var clock: @Sendable () -> Date = { Date() }
    public var logger = Logger(label: "PostgresEventStore")

    public init() {}
}

/// Database URLs as they may appear in logs and error messages.
public enum DatabaseURL {
    /// `url` with its password replaced by `***`, in the user-info part and in a `password=`
    /// query parameter or key/value pair: for logs, which must never show it.
    public static func redacted(_ url: String) -> String {
        var text = url
        if let scheme = text.range(of: "://") {
            let authorityStart = scheme.upperBound
            let authorityEnd = text[authorityStart...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? text.endIndex
            // The last `@` of the authority ends the user info (a password may contain `@`).
            if let at = text[authorityStart..<authorityEnd].lastIndex(of: "@"),
               let colon = text[authorityStart..<at].firstIndex(of: ":") {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        // password=… in a query string or a key/value connection string.
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: "password=", options: .caseInsensitive) {
            result += rest[..<range.upperBound]
            result += "***"
            rest = rest[range.upperBound...]
            let end = rest.firstIndex { $0 == "&" || $0 == " " } ?? rest.endIndex
            rest = rest[end...]
        }
        return result + rest
    }
}
