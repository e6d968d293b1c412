import Foundation
import JSONKit
import Logging
import MappingKit

/// Everything `serve` runs with, after defaults, the config file, environment variables and
/// command-line flags have been applied in that order (later wins).
public struct DestinationConfiguration: Sendable {
    public struct Server: Sendable {
        public var host = "0.0.0.0"
        public var port = 8080
        /// Bounds `/` and `/webhook` bodies, after gzip inflation too.
        public var maxBodyBytes = 4 * 1024 * 1024
        public var maxEventBytes = 32 * 1024
        public var requestTimeoutSeconds = 10.0
        public var keepAliveIdleTimeoutSeconds = 60.0
        public var maxConnections = 10_000
    }

    public struct Segment: Sendable {
        public var sharedSecret: Secret?
        public var writeKeys: [Secret] = []
    }

    public struct AdobeTarget: Sendable {
        /// `nil` runs in sandbox mode against the built-in simulator.
        public var clientCode: String?
        public var bearerToken: Secret?
        public var baseURL = "https://{clientCode}.tt.omtrdc.net"
        public var requestTimeoutSeconds = 10.0

        /// `baseURL` with `{clientCode}` filled in.
        public var resolvedBaseURL: String {
            baseURL.replacingOccurrences(of: "{clientCode}", with: clientCode ?? "")
        }
    }

    public struct Delivery: Sendable {
        public var concurrency = 8
        public var maxBackoffSeconds = 60.0
        public var maxAgeSeconds = 14_400.0
        public var profileNotFoundRetrySeconds = 7_200.0
        public var rateLimitPerDay = 1_000_000
        public var lookupCacheSeconds = 600.0
        /// A new update waits this long before its first attempt, so that updates for one
        /// profile arriving within it go to Adobe as one call (later values win).
        public var coalesceSeconds = 3.0
    }

    public struct Storage: Sendable {
        /// Unfinished deliveries above which ingest answers 503 and stores nothing.
        public var maxQueueDepth = 2_000_000
        /// Free disk in the data dir below which ingest answers 503 and stores nothing.
        public var minFreeDiskBytes = 256 * 1024 * 1024
        /// Finished events and deliveries are purged after this.
        public var retentionHours = 168.0
        /// `postgres://…`: several replicas share one queue in PostgreSQL; `nil` keeps the
        /// embedded SQLite store in the data dir. Holds a password, so it is a secret.
        public var databaseURL: Secret?
        /// This replica's stable name in a shared PostgreSQL queue (its leases are released on
        /// restart); the host name by default.
        public var replicaID: String?
    }

    public struct Admin: Sendable {
        /// `nil` disables the admin API (every `/admin/...` answers 404).
        public var token: Secret?
    }

    public var server = Server()
    public var segment = Segment()
    public var adobeTarget = AdobeTarget()
    public var delivery = Delivery()
    public var storage = Storage()
    public var admin = Admin()
    public var mappings: [ActionMapping] = []
    public var dataDirectory = "./data"
    public var logLevel: Logger.Level = .info

    public init() {}

    /// The limit on the number of mappings, as in Segment.
    public static let maximumMappingCount = 50

    public var isSandbox: Bool { adobeTarget.clientCode == nil }
}
