import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP server: ingest Segment events, deliver profile updates to Adobe Target."
    )

    @Option(name: .long, help: "The config file.")
    var config: String = ConfigurationLoader.defaultPath

    @Option(name: .long, help: "The address to listen on (default 0.0.0.0).")
    var host: String?

    @Option(name: .long, help: "The port to listen on (default 8080).")
    var port: Int?

    @Option(name: .customLong("data-dir"), help: "Where the durable store lives (default ./data).")
    var dataDirectory: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning or error.")
    var logLevel: String?

    func run() throws {
        var level: Logger.Level?
        if let logLevel {
            guard let parsed = Logger.Level(rawValue: logLevel.lowercased()) else {
                throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error; got \"\(logLevel)\"")
            }
            level = parsed
        }
        let overrides = ConfigurationOverrides(host: host, port: port, dataDirectory: dataDirectory, logLevel: level)
        let configuration: DestinationConfiguration
        switch ConfigurationLoader.load(path: config, overrides: overrides) {
        case .success(let loaded):
            configuration = loaded
        case .failure(let failure):
            var text = "refusing to start: \(config) has \(failure.problems.count) problem\(failure.problems.count == 1 ? "" : "s")\n"
            for problem in failure.problems { text += "  \(problem.description)\n" }
            StandardStreams.writeError(text)
            throw ExitCode(1)
        }

        LoggingSetup.bootstrap(format: LoggingSetup.format(from: ProcessInfo.processInfo.environment), level: configuration.logLevel)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "adobe-target-destination")

        let service = DestinationService(configuration: configuration, logger: logger, metricsRegistry: registry)
        do {
            try service.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }

        let signals = SignalWaiter()
        signals.on([SIGTERM, SIGINT]) { signal in
            logger.notice("received \(signal == SIGTERM ? "SIGTERM" : "SIGINT"); finishing requests in flight")
            service.shutdown(gracePeriodSeconds: 10)
        }
        signals.on([SIGHUP]) { _ in
            logger.notice("received SIGHUP; re-reading \(config)")
            switch ConfigurationLoader.load(path: config, overrides: overrides) {
            case .success(let reloaded):
                service.reload(reloaded)
            case .failure(let failure):
                logger.error("SIGHUP ignored: the config has problems; the running configuration stays", metadata: [
                    "problems": "\(failure.problems.map(\.description).joined(separator: "; "))"
                ])
            }
        }
        service.waitUntilStopped()
        signals.cancelAll()
        logger.notice("stopped")
    }
}
