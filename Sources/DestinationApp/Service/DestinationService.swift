import AdobeTarget
import AdobeTargetSimulator
import DeliveryQueue
import EventStore
import Foundation
import HTTPServer
import JSONKit
import Logging
import PostgresEventStore
import Prometheus
import SegmentIngest

/// The running destination: the store, ingest, the admin API, the Adobe client (and in
/// sandbox mode the simulator it talks to), the delivery queue and the HTTP server, started
/// and stopped together in dependency order.
public final class DestinationService: @unchecked Sendable {
    public private(set) var configuration: DestinationConfiguration
    private let logger: Logger
    private let metricsRegistry: PrometheusCollectorRegistry
    private let lock = NSLock()
    private let stopped = NSCondition()
    private var isStopped = false

    private var server: HTTPServer?
    private(set) var store: (any EventStore)?
    private var registry: MappingRegistry?
    private var tokenSettings: AdobeTokenSettings?
    private var adobeClient: AdobeTargetClient?
    private var simulator: AdobeTargetSimulator?
    private var deliveryQueue: DeliveryQueue?
    private let activity = ActivityHistory()
    private var activitySampling: Task<Void, Never>?
    private let startedAt = Date()

    public init(
        configuration: DestinationConfiguration, logger: Logger,
        metricsRegistry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.configuration = configuration
        self.logger = logger
        self.metricsRegistry = metricsRegistry
    }

    /// The bound port once started (useful with port 0 in tests).
    public var port: Int { server?.port ?? configuration.server.port }

    public func start() throws {
        let store = try openStore()
        self.store = store
        do {
            let tokenSettings = try AdobeTokenSettings(configured: configuration.adobeTarget.bearerToken, store: store)
            self.tokenSettings = tokenSettings
            let registry = try MappingRegistry(configured: configuration.mappings, store: store)
            self.registry = registry
            if registry.isAdminManaged {
                logger.notice("using the mappings saved through the admin API; the config file's mappings are ignored",
                    metadata: ["mappings": "\(registry.current.count)"])
            }
            let adobeClient = try makeAdobeClient(tokenProvider: tokenSettings.provider)
            self.adobeClient = adobeClient
            let deliveryQueue = try makeDeliveryQueue(store: store, sender: adobeClient)
            self.deliveryQueue = deliveryQueue

            var router = Router()
            router.observer = RequestObserver(logger: logger)
            registerOperationalRoutes(on: &router)
            let ingest = IngestService(
                configuration: IngestConfiguration(
                    sharedSecret: configuration.segment.sharedSecret?.revealedValue,
                    writeKeys: configuration.segment.writeKeys.map(\.revealedValue),
                    limits: IngestLimits(
                        webhookBodyBytes: configuration.server.maxBodyBytes, eventBytes: configuration.server.maxEventBytes)),
                mappings: registry.mappingSet,
                sink: WakingSink(base: EventStoreSink(store: store), deliveryQueue: deliveryQueue,
                                 coalesceSeconds: configuration.delivery.coalesceSeconds), logger: logger)
            IngestRoutes.register(on: &router, service: ingest)
            if let adminToken = configuration.admin.token {
                AdminAPI(
                    token: adminToken, registry: registry, store: store, adobeClient: adobeClient,
                    tokenSettings: tokenSettings, statistics: { [weak self] in self?.statistics() ?? [:] },
                    retryNow: { [weak self] in self?.retryNow() ?? 0 },
                    statusPage: { [weak self] in self?.statusPage() ?? .text(.serviceUnavailable, "stopping\n") },
                    logger: logger
                ).register(on: &router)
            }

            do {
                try deliveryQueue.start()
            } catch {
                throw ServiceStartError("cannot start delivery: \(error.description)")
            }
            let server = HTTPServer(configuration: serverConfiguration(), responder: router, logger: logger)
            try server.start()
            self.server = server
            activitySampling = Task.detached { [activity, store, deliveryQueue] in
                await activity.recordPeriodically(every: .seconds(5)) {
                    guard let stats = try? store.stats() else { return nil }
                    return ActivitySample(store: stats, delivery: deliveryQueue.stats)
                }
            }
        } catch {
            stopComponents()
            throw error
        }
        logger.info("listening", metadata: [
            "host": "\(configuration.server.host)", "port": "\(port)", "mappings": "\(registry?.current.count ?? 0)",
            "dataDir": "\(configuration.dataDirectory)",
        ])
    }

    /// Stops accepting, finishes requests in flight, then stops delivery and closes the store.
    public func shutdown(gracePeriodSeconds: Double = 10) {
        logger.info("shutting down", metadata: ["gracePeriodSeconds": "\(gracePeriodSeconds)"])
        server?.shutdown(gracePeriodSeconds: gracePeriodSeconds)
        stopComponents()
        stopped.lock()
        isStopped = true
        stopped.broadcast()
        stopped.unlock()
    }

    /// Returns once `shutdown` has stopped everything, the store included.
    public func waitUntilStopped() {
        stopped.lock()
        while !isStopped { stopped.wait() }
        stopped.unlock()
    }

    /// SIGHUP: re-reads what can change without a restart (mappings unless the admin API
    /// manages them, the Adobe bearer token). Listening address and limits need a restart.
    public func reload(_ newConfiguration: DestinationConfiguration) {
        if let registry {
            if registry.reloadFromConfiguration(newConfiguration.mappings) {
                logger.notice("mappings reloaded from the config file", metadata: ["mappings": "\(newConfiguration.mappings.count)"])
            } else {
                logger.notice("mappings not reloaded: the admin API manages them (they are saved in the data dir)")
            }
        }
        // Compared with the token of the last load, not of the start: otherwise every later
        // SIGHUP would overwrite a token set since through the admin API.
        let newToken = newConfiguration.adobeTarget.bearerToken
        if newToken != lock.withLock({ configuration.adobeTarget.bearerToken }) {
            do {
                try tokenSettings?.replace(with: newToken)
                lock.withLock { configuration.adobeTarget.bearerToken = newToken }
                logger.notice("Adobe Target bearer token replaced from the config file or environment")
            } catch {
                logger.error("the new Adobe Target bearer token could not be saved in the data dir; the old one stays in force until the next SIGHUP",
                    metadata: ["reason": "\(error.answer.body["error"]?.stringValue ?? "unknown")"])
            }
        }
        lock.withLock { configuration.mappings = newConfiguration.mappings }
    }

    private func stopComponents() {
        activitySampling?.cancel()
        // Calls in flight finish (or their leases expire and they are retried after a restart).
        deliveryQueue?.stopAndWait(gracePeriodSeconds: 5)
        adobeClient?.shutdown()
        simulator?.shutdown()
        // Last: requests that were in flight have appended to the store by now.
        store?.close()
    }

    // MARK: Components

    private func serverConfiguration() -> HTTPServer.Configuration {
        var serverConfiguration = HTTPServer.Configuration()
        serverConfiguration.host = configuration.server.host
        serverConfiguration.port = configuration.server.port
        serverConfiguration.maxBodyBytes = configuration.server.maxBodyBytes
        serverConfiguration.requestTimeoutSeconds = configuration.server.requestTimeoutSeconds
        serverConfiguration.keepAliveIdleTimeoutSeconds = configuration.server.keepAliveIdleTimeoutSeconds
        serverConfiguration.maxConnections = configuration.server.maxConnections
        return serverConfiguration
    }

    private func openStore() throws -> any EventStore {
        if let url = configuration.storage.databaseURL {
            var postgres = PostgresEventStoreConfiguration()
            postgres.maxQueueDepth = configuration.storage.maxQueueDepth
            postgres.firstAttemptDelaySeconds = configuration.delivery.coalesceSeconds
            postgres.retention = configuration.storage.retentionHours * 3600
            if let replica = configuration.storage.replicaID { postgres.replicaID = replica }
            postgres.logger = logger
            do {
                let store = try PostgresEventStore(url: url.revealedValue, configuration: postgres)
                logger.notice("using the shared PostgreSQL store", metadata: [
                    "database": "\(DatabaseURL.redacted(url.revealedValue))", "replica": "\(postgres.replicaID)",
                ])
                return store
            } catch {
                throw ServiceStartError("cannot open the PostgreSQL store at \(DatabaseURL.redacted(url.revealedValue)): \(error.description)")
            }
        }
        var storeConfiguration = SQLiteEventStoreConfiguration()
        storeConfiguration.maxQueueDepth = configuration.storage.maxQueueDepth
        storeConfiguration.firstAttemptDelaySeconds = configuration.delivery.coalesceSeconds
        storeConfiguration.minFreeDiskBytes = UInt64(configuration.storage.minFreeDiskBytes)
        storeConfiguration.retention = configuration.storage.retentionHours * 3600
        storeConfiguration.logger = logger
        do {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        } catch {
            throw ServiceStartError(
                "cannot create the data dir \(configuration.dataDirectory): \(ConfigurationLoader.describe(error)); set --data-dir or DATA_DIR to a writable directory")
        }
        do {
            return try SQLiteEventStore(directory: configuration.dataDirectory, configuration: storeConfiguration)
        } catch {
            throw ServiceStartError("cannot open the store in \(configuration.dataDirectory): \(error.description)")
        }
    }

    /// With no client code, sandbox mode: a simulator on loopback stands in for Adobe, with
    /// every profile created on first lookup, so a newcomer sees updates arrive.
    private func makeAdobeClient(tokenProvider: BearerTokenProvider) throws -> AdobeTargetClient {
        var clientCode = configuration.adobeTarget.clientCode ?? ""
        var baseURL = configuration.adobeTarget.baseURL
        if configuration.isSandbox {
            var simulatorConfiguration = AdobeTargetSimulator.Configuration()
            simulatorConfiguration.host = "127.0.0.1"
            simulatorConfiguration.profileCreation = .afterFirstLookup(seconds: 0)
            let simulator = AdobeTargetSimulator(configuration: simulatorConfiguration, logger: logger)
            try simulator.start()
            self.simulator = simulator
            clientCode = "sandbox"
            baseURL = simulator.baseURL
            logger.notice(
                "SANDBOX MODE: no Adobe Target client code is configured, so updates go to the built-in simulator at \(baseURL) and nothing reaches Adobe; set adobeTarget.clientCode or ADOBE_TARGET_CLIENT_CODE to deliver for real")
        }
        var clientConfiguration = AdobeTargetClient.Configuration(clientCode: clientCode, baseURL: baseURL)
        clientConfiguration.requestTimeoutSeconds = configuration.adobeTarget.requestTimeoutSeconds
        clientConfiguration.lookupCacheSeconds = configuration.delivery.lookupCacheSeconds
        // One connection per delivery in flight: fewer would queue deliveries behind each other.
        clientConfiguration.maximumConnections = configuration.delivery.concurrency
        do {
            return try AdobeTargetClient(configuration: clientConfiguration, tokenProvider: tokenProvider, logger: logger)
        } catch {
            throw ServiceStartError("the Adobe Target settings cannot be used: \(error.description)")
        }
    }

    private func makeDeliveryQueue(store: any EventStore, sender: AdobeTargetClient) throws -> DeliveryQueue {
        let settings = configuration.delivery
        let deliveryConfiguration = DeliveryConfiguration(
            concurrency: settings.concurrency, maxBackoffSeconds: settings.maxBackoffSeconds,
            maxAgeSeconds: settings.maxAgeSeconds, profileNotFoundRetrySeconds: settings.profileNotFoundRetrySeconds,
            rateLimitPerDay: settings.rateLimitPerDay, adobeRequestTimeoutSeconds: configuration.adobeTarget.requestTimeoutSeconds)
        do {
            return try DeliveryQueue(configuration: deliveryConfiguration, store: store, sender: sender, logger: logger)
        } catch {
            throw ServiceStartError("the delivery settings cannot be used: \(error.description)")
        }
    }

    // MARK: Operational routes

    private static let healthBody = Array(#"{"status":"ok"}"#.utf8)

    private func registerOperationalRoutes(on router: inout Router) {
        // Load balancers call this often: a constant answer, no I/O.
        router.add(.GET, "/health") { _, writer in
            writer.send(.json(.ok, Self.healthBody))
        }
        router.add(.GET, "/ready") { [weak self] _, writer in
            guard let self else { return writer.send(.json(.serviceUnavailable, Array(#"{"status":"stopping"}"#.utf8))) }
            let problems = self.readinessProblems()
            if problems.isEmpty {
                writer.send(.json(.ok, Array(#"{"status":"ready"}"#.utf8)))
            } else {
                let body: JSONValue = ["status": "not ready", "reasons": .array(problems.map(JSONValue.string))]
                writer.send(.json(.serviceUnavailable, JSONSerializer.serialize(body)))
            }
        }
        router.add(.GET, "/metrics") { [metricsRegistry] _, writer in
            var response = HTTPResponse(status: .ok, body: metricsRegistry.emitToBuffer())
            response.headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            writer.send(response)
        }
    }

    /// Why the service should not take traffic now; empty when ready.
    func readinessProblems() -> [String] {
        var problems: [String] = []
        if let problem = store?.writeProblem() {
            problems.append("the store cannot take events: \(problem)")
        }
        if let pause = deliveryQueue?.pauseReason {
            problems.append("delivery is paused: \(pause)")
        }
        return problems
    }

    func statistics() -> JSONObject {
        var object = JSONObject()
        if let stats = try? store?.stats() {
            object["queueDepth"] = .number(Double(stats.queueDepth))
            object["inFlight"] = .number(Double(stats.inFlight))
            object["oldestPendingAgeSeconds"] = stats.oldestPendingAge.map { .number($0.rounded()) } ?? .null
            object["deliveredTotal"] = .number(Double(stats.deliveredTotal))
            object["deadLetteredTotal"] = .number(Double(stats.deadTotal))
            object["deadLetters"] = .number(Double(stats.deadLetters))
            object["events"] = [
                "accepted": .number(Double(stats.acceptedEvents)),
                "rejected": .number(Double(stats.rejectedEvents)),
                "duplicate": .number(Double(stats.duplicateEvents)),
            ]
        }
        if let delivery = deliveryQueue?.stats.jsonValue {
            object["delivery"] = delivery
        }
        object["sandbox"] = .bool(configuration.isSandbox)
        return object
    }

    func statusPage() -> HTTPResponse {
        let stats = try? store?.stats()
        let snapshot = StatusSnapshot(
            generatedAt: Date(), startedAt: startedAt, isSandbox: configuration.isSandbox,
            adobeClientCode: configuration.adobeTarget.clientCode, store: stats,
            storeProblem: store?.writeProblem(), delivery: deliveryQueue?.stats,
            deadLetters: store.flatMap { try? StatusSnapshot.newestDeadLetters(in: $0, held: stats?.deadLetters ?? 0) } ?? [],
            mappings: registry?.current ?? [], activity: activity.lastHour())
        return StatusPage.response(snapshot)
    }

    func retryNow() -> Int {
        (try? deliveryQueue?.retryNow()) ?? 0
    }
}

/// Why the service could not start, said so that an operator knows what to change.
public struct ServiceStartError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Wakes the delivery queue as soon as a request's events are committed, instead of waiting
/// for its next poll.
struct WakingSink: IngestEventSink {
    let base: EventStoreSink
    let deliveryQueue: DeliveryQueue
    /// The store's first-attempt delay: when the stored jobs become due.
    let coalesceSeconds: Double

    func store(
        _ submission: IngestSubmission,
        completion: @escaping @Sendable (Result<[IngestEventReceipt], IngestStoreError>) -> Void
    ) {
        base.store(submission) { [deliveryQueue] result in
            completion(result)
            if case .success = result { deliveryQueue.notifyJobsAdded(dueInSeconds: coalesceSeconds) }
        }
    }
}
