import Foundation
import HTTPServer
import JSONKit
import Logging
import Prometheus

/// The running destination: the HTTP server with its routes, the store and the delivery
/// workers, started and stopped together.
public final class DestinationService: @unchecked Sendable {
    public let configuration: DestinationConfiguration
    private let logger: Logger
    private let metricsRegistry: PrometheusCollectorRegistry
    private var server: HTTPServer?

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
        var router = Router()
        registerOperationalRoutes(on: &router)

        var serverConfiguration = HTTPServer.Configuration()
        serverConfiguration.host = configuration.server.host
        serverConfiguration.port = configuration.server.port
        serverConfiguration.maxBodyBytes = configuration.server.maxBodyBytes
        serverConfiguration.requestTimeoutSeconds = configuration.server.requestTimeoutSeconds
        serverConfiguration.keepAliveIdleTimeoutSeconds = configuration.server.keepAliveIdleTimeoutSeconds
        serverConfiguration.maxConnections = configuration.server.maxConnections
        let server = HTTPServer(configuration: serverConfiguration, responder: router, logger: logger)
        try server.start()
        self.server = server
        logger.info("listening", metadata: [
            "host": "\(configuration.server.host)", "port": "\(server.port)",
            "mappings": "\(configuration.mappings.count)",
        ])
    }

    /// Stops accepting, finishes requests in flight, then stops delivery and closes the store.
    public func shutdown(gracePeriodSeconds: Double = 10) {
        logger.info("shutting down", metadata: ["gracePeriodSeconds": "\(gracePeriodSeconds)"])
        server?.shutdown(gracePeriodSeconds: gracePeriodSeconds)
    }

    public func waitUntilStopped() {
        server?.waitUntilStopped()
    }

    // MARK: Routes

    private static let healthBody = Array(#"{"status":"ok"}"#.utf8)

    private func registerOperationalRoutes(on router: inout Router) {
        // Load balancers call this often: a constant answer, no I/O, no allocation beyond the response.
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
        []
    }
}
