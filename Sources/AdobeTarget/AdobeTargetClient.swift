import Foundation
import JSONKit
import Logging

/// Sends profile updates to Adobe Target: a lookup (skipped while a recent one is cached),
/// then the update, split when it would pass Adobe's URL limit. One instance serves every
/// delivery; its connections are kept alive and reused.
///
/// HTTP goes through this module's own HTTP/1.1 client (`HTTPConnectionPool`): URLSession on
/// Linux (libcurl plus thread hops) drained a backlog at under half the 2,000 updates/s goal.
public final class AdobeTargetClient: Sendable {
    public struct Configuration: Sendable {
        public var clientCode: String
        /// May contain `{clientCode}`; `http://127.0.0.1:PORT` for a local simulator.
        public var baseURL: String
        /// Each request (connect, send, answer) must complete within this, else it is a
        /// retryable timeout.
        public var requestTimeoutSeconds: Double = 10
        /// How long a found profile is remembered; 0 looks up before every update.
        public var lookupCacheSeconds: Double = 600
        public var lookupCacheCapacity: Int = 100_000
        /// Connections kept open to Adobe at most (match the delivery concurrency).
        public var maximumConnections: Int = 8
        public var maximumURLBytes: Int = AdobeTargetEndpoint.defaultMaximumURLBytes
        /// PEM file of CA certificates trusted for `https` instead of the system trust store
        /// (a private CA, tests); `nil` uses the system store.
        public var caFile: String? = nil

        public init(clientCode: String, baseURL: String = AdobeTargetEndpoint.defaultBaseURL) {
            self.clientCode = clientCode
            self.baseURL = baseURL
        }
    }

    public let configuration: Configuration
    public let endpoint: AdobeTargetEndpoint
    public let tokenProvider: BearerTokenProvider
    public let lookupCache: LookupCache

    private let pool: HTTPConnectionPool
    private let origin: HTTPOrigin
    private let logger: Logger
    /// Monotonic seconds, for the cache.
    private let monotonicNow: @Sendable () -> Double
    /// Unix seconds, for `Retry-After` dates.
    private let wallClockNow: @Sendable () -> Double

    public init(
        configuration: Configuration,
        tokenProvider: BearerTokenProvider = BearerTokenProvider(),
        logger: Logger = Logger(label: "adobe-target"),
        monotonicNow: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
        wallClockNow: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws(AdobeTargetConfigurationError) {
        guard configuration.requestTimeoutSeconds > 0 else {
            throw AdobeTargetConfigurationError("the Adobe Target request timeout must be more than 0 seconds")
        }
        endpoint = try AdobeTargetEndpoint(
            clientCode: configuration.clientCode, baseURL: configuration.baseURL,
            maximumURLBytes: configuration.maximumURLBytes)
        self.configuration = configuration
        self.tokenProvider = tokenProvider
        self.logger = logger
        self.monotonicNow = monotonicNow
        self.wallClockNow = wallClockNow
        lookupCache = LookupCache(
            timeToLive: configuration.lookupCacheSeconds, capacity: configuration.lookupCacheCapacity)

        origin = try HTTPOrigin(baseURL: endpoint.baseURL)
        let tls = origin.isSecure ? try TLSClientContext(caFile: configuration.caFile) : nil
        pool = HTTPConnectionPool(
            settings: .init(origin: origin, tls: tls, maximumConnections: max(1, configuration.maximumConnections)))
    }

    deinit {
        pool.shutdown()
    }

    // MARK: Delivery

    /// Delivers one mapped Update Profile payload. Never throws: every failure is an outcome.
    public func deliver(userID: String, traits: JSONObject) async -> DeliveryResult {
        await deliver(userID: userID, attributes: ProfileAttributes(flattening: traits))
    }

    /// Delivers already flattened (for instance coalesced) attributes.
    ///
    /// An update with no attributes left after flattening (empty traits, only `null`s) sends
    /// nothing and counts as delivered: there is nothing for Adobe to store.
    public func deliver(userID: String, attributes: ProfileAttributes) async -> DeliveryResult {
        let lookupURL: String
        let updateURLs: [String]
        do {
            // Built before any call so that an update that can never be sent costs nothing.
            lookupURL = try endpoint.profileLookupURL(userID: userID)
            updateURLs = try endpoint.profileUpdateURLs(userID: userID, attributes: attributes)
        } catch {
            return DeliveryResult(outcome: .invalidRequest(error), adobeCalls: 0)
        }
        guard !updateURLs.isEmpty else { return DeliveryResult(outcome: .delivered, adobeCalls: 0) }

        var calls = 0
        let cached = lookupCache.contains(userID, now: monotonicNow())
        if !cached {
            let request = AdobeTargetRequest.profileLookup(url: lookupURL, bearerToken: tokenProvider.token)
            calls += 1
            let exchange = await send(request)
            if let failure = classify(exchange, purpose: .profileLookup) {
                return DeliveryResult(outcome: failure, adobeCalls: calls)
            }
            lookupCache.insert(userID, now: monotonicNow())
        }

        var delivered = 0
        for url in updateURLs {
            let request = AdobeTargetRequest.profileUpdate(url: url, bearerToken: tokenProvider.token)
            calls += 1
            let exchange = await send(request)
            if let failure = classify(exchange, purpose: .profileUpdate) {
                return DeliveryResult(
                    outcome: failure, adobeCalls: calls, updatesDelivered: delivered, lookupCached: cached)
            }
            delivered += 1
        }
        return DeliveryResult(outcome: .delivered, adobeCalls: calls, updatesDelivered: delivered, lookupCached: cached)
    }

    /// The exact requests a delivery of this payload would send with an empty lookup cache,
    /// the bearer token shown as `REDACTED`. Sends nothing. For the admin API's dry run.
    public func plannedRequests(userID: String, traits: JSONObject) throws(AdobeTargetRequestError)
        -> [AdobeTargetRequest]
    {
        try endpoint.requests(
            userID: userID, attributes: ProfileAttributes(flattening: traits), bearerToken: tokenProvider.token
        ).map { $0.redacted() }
    }

    /// Cancels requests in flight; deliveries waiting on them end as retryable.
    public func shutdown() {
        pool.shutdown()
    }

    // MARK: HTTP

    private enum Exchange {
        case answered(status: Int, retryAfter: String?, body: String)
        case failed(reason: String)
    }

    private func send(_ request: AdobeTargetRequest) async -> Exchange {
        let bytes: [UInt8]
        switch wireBytes(of: request) {
        case .success(let built): bytes = built
        case .failure(let failure): return .failed(reason: reason(for: failure))
        }
        logger.trace("Adobe Target request", metadata: ["purpose": "\(request.purpose.rawValue)"])
        switch await pool.execute(bytes, timeoutSeconds: configuration.requestTimeoutSeconds) {
        case .success(let answer):
            return .answered(
                status: answer.status, retryAfter: answer.retryAfter, body: String(decoding: answer.body, as: UTF8.self))
        case .failure(let failure):
            return .failed(reason: reason(for: failure))
        }
    }

    private func reason(for failure: HTTPClientFailure) -> String {
        failure.reason(
            baseURL: endpoint.baseURL,
            timeoutDescription: JSNumberFormatter.string(from: configuration.requestTimeoutSeconds))
    }

    /// The request as HTTP/1.1 bytes. Every URL starts with the base URL (the endpoint builds
    /// them), so what follows its scheme and authority is the request target.
    func wireBytes(of request: AdobeTargetRequest) -> Result<[UInt8], HTTPClientFailure> {
        guard request.url.hasPrefix(origin.prefix) else {
            return .failure(.unsendable(detail: "its URL does not start with the base URL \(endpoint.baseURL)"))
        }
        var target = request.url.utf8.dropFirst(origin.prefix.utf8.count)
        if target.isEmpty { target = "/".utf8[...] }
        // The endpoint percent-encodes every byte that could end the request line; this only
        // keeps a future change from turning into request smuggling.
        guard !target.contains(where: { $0 <= 32 || $0 == 127 }) else {
            return .failure(.unsendable(detail: "its URL contains a space or control character"))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(request.url.utf8.count + 256)
        bytes.append(contentsOf: request.method.utf8)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: target)
        bytes.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
        bytes.append(contentsOf: origin.authority.utf8)
        bytes.append(contentsOf: "\r\n".utf8)
        for field in request.headers {
            // Named, never quoted: the Authorization value is the bearer token.
            guard !field.value.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) else {
                return .failure(
                    .unsendable(
                        detail: "the \(field.name) header value contains a line break; "
                            + (field.name.lowercased() == "authorization"
                                ? "replace adobeTarget.bearerToken" : "fix the header")))
            }
            bytes.append(contentsOf: field.name.utf8)
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: field.value.utf8)
            bytes.append(contentsOf: "\r\n".utf8)
        }
        // The update's body is empty; without Content-Length a server would wait for one.
        if request.method == "POST" { bytes.append(contentsOf: "Content-Length: 0\r\n".utf8) }
        bytes.append(contentsOf: "\r\n".utf8)
        return .success(bytes)
    }

    /// `nil` for a 2xx answer, else the outcome that ends the delivery.
    private func classify(_ exchange: Exchange, purpose: AdobeTargetRequest.Purpose) -> DeliveryOutcome? {
        switch exchange {
        case .failed(let reason):
            logger.debug(
                "Adobe Target request failed", metadata: ["purpose": "\(purpose.rawValue)", "reason": "\(reason)"])
            return .retryable(TransientFailure(purpose: purpose, answer: nil, reason: reason, retryAfterSeconds: nil))
        case .answered(let status, let retryAfter, let body):
            if (200..<300).contains(status) { return nil }
            logger.debug(
                "Adobe Target answered an error", metadata: ["purpose": "\(purpose.rawValue)", "status": "\(status)"])
            let answer = AdobeAnswer(purpose: purpose, status: status, body: body)
            switch status {
            case 404 where purpose == .profileLookup:
                return .profileNotFound(answer)
            case 401, 403:
                return .unauthorized(answer)
            case 408, 425, 429, 500...599:
                let delay = retryAfter.flatMap { RetryAfter.seconds(from: $0, now: wallClockNow()) }
                return .retryable(
                    TransientFailure(purpose: purpose, answer: answer, reason: answer.description, retryAfterSeconds: delay))
            default:
                return .rejected(answer)
            }
        }
    }
}
