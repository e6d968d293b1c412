import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import JSONKit
import Logging

/// Sends profile updates to Adobe Target: a lookup (skipped while a recent one is cached),
/// then the update, split when it would pass Adobe's URL limit. One instance serves every
/// delivery; its connections are kept alive and reused.
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

        public init(clientCode: String, baseURL: String = AdobeTargetEndpoint.defaultBaseURL) {
            self.clientCode = clientCode
            self.baseURL = baseURL
        }
    }

    public let configuration: Configuration
    public let endpoint: AdobeTargetEndpoint
    public let tokenProvider: BearerTokenProvider
    public let lookupCache: LookupCache

    private let session: URLSession
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

        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.timeoutIntervalForRequest = configuration.requestTimeoutSeconds
        sessionConfiguration.timeoutIntervalForResource = configuration.requestTimeoutSeconds
        sessionConfiguration.httpMaximumConnectionsPerHost = max(1, configuration.maximumConnections)
        sessionConfiguration.requestCachePolicy = .reloadIgnoringLocalCacheData
        sessionConfiguration.urlCache = nil
        sessionConfiguration.httpCookieStorage = nil
        sessionConfiguration.httpShouldSetCookies = false
        session = URLSession(configuration: sessionConfiguration)
    }

    deinit {
        session.invalidateAndCancel()
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
        session.invalidateAndCancel()
    }

    // MARK: HTTP

    private enum Exchange {
        case answered(status: Int, retryAfter: String?, body: String)
        case failed(reason: String)
    }

    private func send(_ request: AdobeTargetRequest) async -> Exchange {
        guard let url = URL(string: request.url) else {
            // Only reachable with a base URL that Foundation refuses; the message names it.
            return .failed(reason: "Foundation could not parse an Adobe Target URL built on base URL \(endpoint.baseURL)")
        }
        var urlRequest = URLRequest(url: url, timeoutInterval: configuration.requestTimeoutSeconds)
        urlRequest.httpMethod = request.method
        for field in request.headers { urlRequest.setValue(field.value, forHTTPHeaderField: field.name) }
        if request.method == "POST" { urlRequest.httpBody = Data() }

        logger.trace("Adobe Target request", metadata: ["purpose": "\(request.purpose.rawValue)"])
        do {
            let (data, response) = try await session.data(for: urlRequest)
            guard let http = response as? HTTPURLResponse else {
                return .failed(reason: "Adobe Target's answer was not HTTP")
            }
            return .answered(
                status: http.statusCode, retryAfter: http.value(forHTTPHeaderField: "Retry-After"),
                body: String(decoding: data.prefix(AdobeAnswer.maximumBodyCharacters * 4), as: UTF8.self))
        } catch let error as URLError {
            return .failed(reason: describe(error))
        } catch is CancellationError {
            return .failed(reason: "the request to Adobe Target was cancelled (shutting down)")
        } catch {
            return .failed(reason: "the request to Adobe Target failed: \(type(of: error))")
        }
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

    private func describe(_ error: URLError) -> String {
        let seconds = JSNumberFormatter.string(from: configuration.requestTimeoutSeconds)
        switch error.code {
        case .timedOut:
            return "no answer from Adobe Target within \(seconds) s (requestTimeout)"
        case .cannotConnectToHost:
            return "could not connect to Adobe Target at \(endpoint.baseURL)"
        case .cannotFindHost, .dnsLookupFailed:
            return "could not resolve the Adobe Target host of \(endpoint.baseURL); check adobeTarget.baseURL"
        case .networkConnectionLost:
            return "the connection to Adobe Target was lost before the answer arrived"
        case .notConnectedToInternet:
            return "no network route to Adobe Target"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            return "the TLS connection to Adobe Target failed (\(error.code.rawValue))"
        case .cancelled:
            return "the request to Adobe Target was cancelled (shutting down)"
        case .badServerResponse:
            return "Adobe Target sent a malformed answer or closed the connection"
        default:
            return "the request to Adobe Target failed (URLError \(error.code.rawValue))"
        }
    }
}
