import AdobeTargetSimulator
import ArgumentParser
import Foundation
import Logging

/// Runs the Adobe Target simulator on its own, for demos, benchmarks and outside tests.
struct SimulateAdobeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-adobe",
        abstract: "Run a local Adobe Target simulator (profile lookup and update, bearer auth, fault injection).",
        discussion: "Control it over HTTP under /_sim/ (reset, profiles/{id}, faults, token, profile-creation, stats, updates)."
    )

    @Option(name: .long, help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "The port to listen on (0 picks a free one and prints it).")
    var port = 9090

    @Option(name: .customLong("client-code"), help: "Refuse requests naming another client code.")
    var clientCode: String?

    @Option(name: .customLong("bearer-token"), help: "Demand Authorization: Bearer <token>.")
    var bearerToken: String?

    @Option(name: .customLong("create-profiles-after"),
        help: "Seconds after its first lookup that an unknown profile comes into being, as at.js would create it; omit to never create profiles by themselves.")
    var createProfilesAfter: Double?

    func run() throws {
        LoggingSetup.bootstrap(format: LoggingSetup.format(from: ProcessInfo.processInfo.environment), level: .info)
        var configuration = AdobeTargetSimulator.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.clientCode = clientCode
        configuration.bearerToken = bearerToken
        if let createProfilesAfter {
            guard createProfilesAfter >= 0 else {
                throw ValidationError("--create-profiles-after must be 0 or more seconds, got \(createProfilesAfter)")
            }
            configuration.profileCreation = .afterFirstLookup(seconds: createProfilesAfter)
        }
        let simulator = AdobeTargetSimulator(configuration: configuration, logger: Logger(label: "adobe-target-simulator"))
        try simulator.start()
        StandardStreams.writeOut("Adobe Target simulator listening on \(simulator.baseURL)\n")
        let finished = DispatchSemaphore(value: 0)
        let signals = SignalWaiter()
        signals.on([SIGTERM, SIGINT]) { _ in
            simulator.shutdown()
            finished.signal()
        }
        finished.wait()
        signals.cancelAll()
    }
}
