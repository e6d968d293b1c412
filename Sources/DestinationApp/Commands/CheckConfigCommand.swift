import ArgumentParser
import Foundation
import MappingKit
import PostgresEventStore

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file and the environment overrides, and print a summary.",
        discussion: "Exits 1 listing every problem with its JSON path. Secrets are never printed."
    )

    @Option(name: .long, help: "The config file.")
    var config: String = ConfigurationLoader.defaultPath

    func run() throws {
        switch ConfigurationLoader.load(path: config) {
        case .success(let configuration):
            StandardStreams.writeOut(ConfigurationSummary.render(configuration, path: config))
        case .failure(let failure):
            var text = "\(config): \(failure.problems.count) problem\(failure.problems.count == 1 ? "" : "s")\n"
            for problem in failure.problems {
                text += "  \(problem.description)\n"
            }
            StandardStreams.writeError(text)
            throw ExitCode(1)
        }
    }
}

/// A human summary of the configuration in force; it says whether each secret is set,
/// never what it is.
enum ConfigurationSummary {
    static func render(_ configuration: DestinationConfiguration, path: String) -> String {
        func isSet(_ secret: Secret?) -> String { secret == nil ? "not set" : "set" }
        let server = configuration.server
        let adobe = configuration.adobeTarget
        let delivery = configuration.delivery
        var lines = [
            "\(path): OK",
            "server: \(server.host):\(server.port), maxBodyBytes \(server.maxBodyBytes), maxEventBytes \(server.maxEventBytes), requestTimeoutSeconds \(format(server.requestTimeoutSeconds))",
            "data dir: \(configuration.dataDirectory)",
            "store: " + (configuration.storage.databaseURL.map { "PostgreSQL at \(DatabaseURL.redacted($0.revealedValue))" } ?? "SQLite in the data dir"),
            "log level: \(configuration.logLevel)",
            "segment: shared secret \(isSet(configuration.segment.sharedSecret)), \(configuration.segment.writeKeys.count) write key(s)",
        ]
        if let clientCode = adobe.clientCode {
            lines.append("adobeTarget: client code \(clientCode), base URL \(adobe.resolvedBaseURL), bearer token \(isSet(adobe.bearerToken))")
        } else {
            lines.append("adobeTarget: no client code: sandbox mode, delivering to the built-in Adobe Target simulator")
        }
        lines.append(
            "delivery: concurrency \(delivery.concurrency), maxBackoffSeconds \(format(delivery.maxBackoffSeconds)), maxAgeSeconds \(format(delivery.maxAgeSeconds)), profileNotFoundRetrySeconds \(format(delivery.profileNotFoundRetrySeconds)), rateLimitPerDay \(delivery.rateLimitPerDay), lookupCacheSeconds \(format(delivery.lookupCacheSeconds)), coalesceSeconds \(format(delivery.coalesceSeconds))"
        )
        lines.append("admin API: \(configuration.admin.token == nil ? "disabled (no admin token)" : "enabled")")
        lines.append("mappings: \(configuration.mappings.count)")
        for mapping in configuration.mappings {
            lines.append("  - \(mapping.id) (\(mapping.name))\(mapping.isEnabled ? "" : " [disabled]"): \(mapping.action) when \(mapping.subscription.source)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}
