import AdobeTarget
import AdobeTargetSimulator
import DeliveryQueue
import Foundation
import HTTPServer

/// Whether the real HTTP server is linked: the skeleton's placeholder router answers nothing,
/// so the simulator tests only run once the HTTPServer module is merged.
enum RealHTTPServer {
    static let isAvailable: Bool = {
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var status: Int?
        }
        var router = Router()
        router.add(.GET, "/probe") { _, writer in writer.send(.text(.ok, "yes")) }
        let box = Box()
        router.respond(to: HTTPRequest(method: .GET, target: "/probe"),
                       writer: HTTPResponseWriter { answer in box.lock.withLock { box.status = answer.status.code } })
        return box.lock.withLock { box.status } == 200
    }()
}

/// The Adobe Target simulator on 127.0.0.1 and the real client pointed at it.
final class SimulatorFixture: @unchecked Sendable {
    let simulator: AdobeTargetSimulator
    let tokens: BearerTokenProvider
    let client: AdobeTargetClient

    init(
        requiredToken: String? = nil, clientToken: String? = nil,
        profileCreation: AdobeTargetSimulator.ProfileCreation = .afterFirstLookup(seconds: 0),
        timeoutSeconds: Double = 1, concurrency: Int = 8
    ) throws {
        var configuration = AdobeTargetSimulator.Configuration()
        configuration.clientCode = "acme"
        configuration.bearerToken = requiredToken
        configuration.profileCreation = profileCreation
        simulator = AdobeTargetSimulator(configuration: configuration)
        try simulator.start()
        var clientConfiguration = AdobeTargetClient.Configuration(clientCode: "acme", baseURL: simulator.baseURL)
        // Whole seconds: FoundationNetworking on Linux turns a sub-second timeout into an
        // immediate one.
        clientConfiguration.requestTimeoutSeconds = timeoutSeconds
        clientConfiguration.maximumConnections = concurrency
        tokens = BearerTokenProvider(token: clientToken)
        client = try AdobeTargetClient(configuration: clientConfiguration, tokenProvider: tokens)
    }

    func shutdown() {
        client.shutdown()
        simulator.releaseHungRequests()
        simulator.shutdown()
    }

    /// The updates the simulator accepted, per user in arrival order, as attribute maps.
    func acceptedUpdatesByUser() -> [String: [[String: String]]] {
        var updates: [String: [[String: String]]] = [:]
        for record in simulator.receivedUpdates where record.status == 200 {
            guard let query = record.target.split(separator: "?", maxSplits: 1).last else { continue }
            var user: String?
            var attributes: [String: String] = [:]
            for pair in query.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, let name = URIComponentEncoder.decode(parts[0]),
                      let value = URIComponentEncoder.decode(parts[1]) else { continue }
                if name == "mbox3rdPartyId" {
                    user = value
                } else if name.hasPrefix("profile.") {
                    attributes[String(name.dropFirst("profile.".count))] = value
                }
            }
            if let user { updates[user, default: []].append(attributes) }
        }
        return updates
    }

    func acceptedUpdates(for userID: String) -> [[String: String]] {
        acceptedUpdatesByUser()[userID] ?? []
    }

    var adobeCalls: Int {
        let statistics = simulator.statistics
        return statistics.lookups + statistics.updates
    }
}

extension DeliveryConfiguration {
    /// `fast`, with the request timeout the simulator fixture's client uses.
    static var simulated: DeliveryConfiguration {
        var configuration = DeliveryConfiguration.fast
        configuration.concurrency = 8
        configuration.adobeRequestTimeoutSeconds = 1
        configuration.leaseSeconds = 5
        return configuration
    }
}
