import JSONKit

extension AdobeTargetSimulator {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        /// 0 picks a free port; read it back from `port` after `start()`.
        public var port = 0
        /// When set, requests naming another client code are refused with 400.
        public var clientCode: String?
        /// When set, the profile endpoints demand `Authorization: Bearer <token>` (401 otherwise).
        public var bearerToken: String?
        /// What happens to a lookup for a profile that does not exist.
        public var profileCreation: ProfileCreation = .never
        /// Adobe's limit on a whole URL (base URL plus target); longer requests get 414.
        public var maximumURLBytes = 8192
        /// Seeds the generator that decides ratio faults, for reproducible runs.
        public var randomSeed: UInt64 = 0x5EED

        public init() {}
    }

    /// How unknown profiles come into being, mimicking at.js creating them on a visitor's hit.
    public enum ProfileCreation: Sendable, Hashable {
        /// Unknown profiles stay unknown (404) until created through the control API.
        case never
        /// The first lookup of an unknown ID starts a clock; lookups from `seconds` after it on
        /// find the profile (0: the first lookup finds it).
        case afterFirstLookup(seconds: Double)
    }

    public enum Endpoint: String, Sendable, Hashable {
        case lookup
        case update
    }

    /// A misbehaviour applied to matching requests before they are handled.
    public struct Fault: Sendable, Hashable {
        public enum Action: Sendable, Hashable {
            /// Answer with this status (and `Retry-After` when given) instead of handling.
            case status(Int, retryAfter: String? = nil, body: String? = nil)
            /// Never answer (until `reset()`, `releaseHungRequests()` or shutdown): the client
            /// must give up on its own timeout.
            case hang
            /// Drop the connection without answering, with a TCP reset: the client sees a
            /// connection error (as when Adobe's edge or a proxy fails mid-request).
            case reset
            /// Only the added latency; the request is then handled normally.
            case latencyOnly
        }

        public var action: Action
        /// `nil` matches both endpoints. Control endpoints are never faulted.
        public var endpoint: Endpoint?
        /// Applies to this many matching requests, then disappears; `nil` never runs out.
        public var remaining: Int?
        /// The share of matching requests it applies to (the rest are handled normally).
        public var ratio: Double
        /// Delay before the answer (or before handling).
        public var latencySeconds: Double

        public init(
            _ action: Action, endpoint: Endpoint? = nil, count: Int? = nil, ratio: Double = 1,
            latencySeconds: Double = 0
        ) {
            self.action = action
            self.endpoint = endpoint
            remaining = count
            self.ratio = ratio
            self.latencySeconds = latencySeconds
        }
    }

    /// Counts since start or the last reset.
    public struct Statistics: Sendable, Hashable {
        /// Every request to the lookup endpoint, faulted or not.
        public var lookups = 0
        /// Every request to the update endpoint, faulted or not.
        public var updates = 0
        /// Lookups answered 404.
        public var profilesNotFound = 0
        /// Requests refused 401 for a missing or wrong bearer token.
        public var unauthorized = 0
        /// Requests a fault applied to.
        public var faultsInjected = 0

        public init() {}

        public var jsonValue: JSONValue {
            .object(
                JSONObject([
                    ("lookups", .number(Double(lookups))),
                    ("updates", .number(Double(updates))),
                    ("profilesNotFound", .number(Double(profilesNotFound))),
                    ("unauthorized", .number(Double(unauthorized))),
                    ("faultsInjected", .number(Double(faultsInjected))),
                ]))
        }
    }

    /// One request received on the update endpoint.
    public struct UpdateRecord: Sendable, Hashable {
        /// The request target exactly as received (`/m2/acme/profile/update?mbox3rdPartyId=…`).
        public var target: String
        /// The status it was answered with (0 for a request left hanging or reset).
        public var status: Int

        public init(target: String, status: Int) {
            self.target = target
            self.status = status
        }
    }
}
