import AdobeTargetSimulator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif
import JSONKit
import Testing

/// §8: an event acknowledged with 200 reaches Adobe at least once even when `serve` is killed
/// (`kill -9`) while its delivery is in flight.
///
/// The real executable runs as a child process against an in-process simulator whose answers
/// are slowed down, so that lookups and updates are on the wire when the process dies.
@Suite("Delivery across kill -9", .serialized)
struct DeliveryCrashTests {
    private static let adminToken = "crash-test-admin-token"
    private static let eventCount = 40

    @Test func everyAcknowledgedEventIsDeliveredAfterAKillDuringDelivery() async throws {
        var simulatorConfiguration = AdobeTargetSimulator.Configuration()
        simulatorConfiguration.clientCode = "crash"
        simulatorConfiguration.profileCreation = .afterFirstLookup(seconds: 0)
        let simulator = AdobeTargetSimulator(configuration: simulatorConfiguration)
        try simulator.start()
        defer { simulator.shutdown() }
        // Every Adobe call takes 300 ms: with 8 deliveries at a time, 40 events need about
        // 3 s, so the kill below lands while most are queued and some are in flight.
        simulator.addFault(.init(.latencyOnly, latencySeconds: 0.3))

        let scratch = try TemporaryDirectory()
        let dataDirectory = scratch.url.appendingPathComponent("data").path
        let configPath = try scratch.write("config.json", Self.configuration)
        let port = try Self.freePort()
        let server = RestartableServe(
            configPath: configPath, dataDirectory: dataDirectory, port: port, adobeBaseURL: simulator.baseURL,
            adminToken: Self.adminToken, logDirectory: scratch.url)

        // A unique value per event, so that the simulator's log says which event an update carries.
        let run = UUID().uuidString.prefix(8)
        let events = (0..<Self.eventCount).map { index in
            (userID: "crash-user-\(index)", messageID: "crash-\(run)-\(index)", marker: "m-\(run)-\(index)")
        }

        try server.start()
        defer { server.kill() }
        try await server.waitUntilHealthy()

        for batch in stride(from: 0, to: events.count, by: 5) {
            let body = "[" + events[batch..<min(batch + 5, events.count)].map { event in
                #"{"type":"identify","userId":"\#(event.userID)","messageId":"\#(event.messageID)","#
                    + #""timestamp":"2026-11-28T10:00:00.000Z","traits":{"marker":"\#(event.marker)"}}"#
            }.joined(separator: ",") + "]"
            let (status, answer) = try await HTTP.send("POST", "http://127.0.0.1:\(port)/webhook", body: body)
            try #require(status == 200, "ingest refused a batch: \(status) \(answer)")
        }

        // Kill once an update is on its way to Adobe (counted on arrival, answered 300 ms later).
        let inFlight = await eventually(seconds: 5) { simulator.statistics.updates >= 1 }
        try #require(inFlight, "no delivery reached the simulator within 5 s; see \(server.logPath)")
        server.kill()
        // The simulator logs an update when it answers, 300 ms after it arrived: wait for the
        // ones that were on the wire at the kill, then note what Adobe got from the first run.
        try await Task.sleep(for: .milliseconds(500))
        let sentBeforeKill = Set(simulator.receivedUpdates.map(\.target))
        // The test means something only if the kill left work undone.
        #expect(sentBeforeKill.count < events.count)

        simulator.clearFaults()
        try server.start()
        try await server.waitUntilHealthy()
        let drained = await eventually(seconds: 10) {
            guard let stats = try? await HTTP.json(
                "http://127.0.0.1:\(port)/admin/stats", bearerToken: Self.adminToken)
            else { return false }
            return stats["queueDepth"]?.numberValue == 0 && stats["inFlight"]?.numberValue == 0
        }
        #expect(drained, "the queue did not drain within 10 s of the restart; see \(server.logPath)")
        let stats = try await HTTP.json("http://127.0.0.1:\(port)/admin/stats", bearerToken: Self.adminToken)
        #expect(stats["deadLetteredTotal"]?.numberValue == 0)

        let accepted = simulator.receivedUpdates.filter { $0.status == 200 }
        for event in events {
            let carrying = accepted.filter { $0.target.contains("profile.marker=\(event.marker)") }
            #expect(!carrying.isEmpty, "the update for acknowledged event \(event.messageID) never reached Adobe")
            let attributes = simulator.profileAttributes(thirdPartyID: event.userID)
            #expect(attributes?["marker"] == .string(event.marker), "\(event.userID) holds \(String(describing: attributes))")
        }
        // More than once only for updates the first run sent but could not record (those in
        // flight at the kill: at most `concurrency` of them).
        let duplicated = Set(Dictionary(grouping: accepted, by: \.target).filter { $0.value.count > 1 }.keys)
        #expect(duplicated.isSubset(of: sentBeforeKill), "resent without a crash: \(duplicated.subtracting(sentBeforeKill).sorted())")
        #expect(duplicated.count <= 8, "more duplicates than deliveries in flight: \(duplicated.sorted())")
    }

    /// Adobe's edge dropping connections mid-request (the simulator's `.reset` fault) delays
    /// deliveries but loses none: every reset is a transient failure, retried.
    @Test func connectionResetsAreRetriedUntilEveryEventIsDelivered() async throws {
        var simulatorConfiguration = AdobeTargetSimulator.Configuration()
        simulatorConfiguration.clientCode = "crash"
        simulatorConfiguration.profileCreation = .afterFirstLookup(seconds: 0)
        let simulator = AdobeTargetSimulator(configuration: simulatorConfiguration)
        try simulator.start()
        defer { simulator.shutdown() }
        simulator.addFault(.init(.reset, ratio: 0.3))

        let scratch = try TemporaryDirectory()
        let port = try Self.freePort()
        let server = RestartableServe(
            configPath: try scratch.write("config.json", Self.configuration),
            dataDirectory: scratch.url.appendingPathComponent("data").path, port: port,
            adobeBaseURL: simulator.baseURL, adminToken: Self.adminToken, logDirectory: scratch.url)
        try server.start()
        defer { server.kill() }
        try await server.waitUntilHealthy()

        let run = UUID().uuidString.prefix(8)
        let events = (0..<20).map { index in
            (userID: "reset-user-\(index)", messageID: "reset-\(run)-\(index)", marker: "r-\(run)-\(index)")
        }
        let body = "[" + events.map { event in
            #"{"type":"identify","userId":"\#(event.userID)","messageId":"\#(event.messageID)","#
                + #""timestamp":"2026-11-28T10:00:00.000Z","traits":{"marker":"\#(event.marker)"}}"#
        }.joined(separator: ",") + "]"
        let (status, answer) = try await HTTP.send("POST", "http://127.0.0.1:\(port)/webhook", body: body)
        try #require(status == 200, "ingest refused the batch: \(status) \(answer)")

        let drained = await eventually(seconds: 12) {
            guard let stats = try? await HTTP.json("http://127.0.0.1:\(port)/admin/stats", bearerToken: Self.adminToken)
            else { return false }
            return stats["queueDepth"]?.numberValue == 0 && stats["inFlight"]?.numberValue == 0
        }
        #expect(drained, "the queue did not drain within 12 s despite retries; see \(server.logPath)")
        let stats = try await HTTP.json("http://127.0.0.1:\(port)/admin/stats", bearerToken: Self.adminToken)
        #expect(stats["deadLetteredTotal"]?.numberValue == 0)
        // The faults did bite: some requests were reset and retried.
        #expect(simulator.statistics.faultsInjected > 0)
        #expect((stats["delivery"]?["transientRetries"]?.numberValue ?? 0) > 0)
        for event in events {
            #expect(
                simulator.profileAttributes(thirdPartyID: event.userID)?["marker"] == .string(event.marker),
                "\(event.userID) did not receive its update")
        }
    }

    private static let configuration = #"""
        {
          "delivery": { "concurrency": 8, "maxBackoffSeconds": 1 },
          "mappings": [
            { "id": "update-profile", "subscription": "type = \"identify\"",
              "mapping": { "user_id": { "@path": "$.userId" }, "traits": { "@path": "$.traits" } } }
          ]
        }
        """#

    /// A port nothing listens on now (bound to 0, read back, released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CrashTestError("socket() failed (errno \(errno))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw CrashTestError("could not bind a free loopback port (errno \(errno))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

struct CrashTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
private func eventually(seconds: Double, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// `adobe-target-destination serve` as a child process that can be killed and started again
/// on the same data directory.
private final class RestartableServe: @unchecked Sendable {
    let configPath: String
    let dataDirectory: String
    let port: Int
    let adobeBaseURL: String
    let adminToken: String
    let logPath: String
    private var process: Process?
    private var log: FileHandle?

    init(configPath: String, dataDirectory: String, port: Int, adobeBaseURL: String, adminToken: String, logDirectory: URL) {
        self.configPath = configPath
        self.dataDirectory = dataDirectory
        self.port = port
        self.adobeBaseURL = adobeBaseURL
        self.adminToken = adminToken
        logPath = logDirectory.appendingPathComponent("serve.log").path
    }

    func start() throws {
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        let process = Process()
        process.executableURL = Executable.url
        process.arguments = [
            "serve", "--config", configPath, "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDirectory,
            "--log-level", "warning",
        ]
        var environment = ProcessInfo.processInfo.environment
        for name in ["PORT", "DATA_DIR", "LOG_LEVEL", "ADOBE_TARGET_BEARER_TOKEN", "SEGMENT_SHARED_SECRET", "SEGMENT_WRITE_KEYS", "DATABASE_URL", "REPLICA_ID"] {
            environment[name] = nil
        }
        environment["ADOBE_TARGET_CLIENT_CODE"] = "crash"
        environment["ADOBE_TARGET_BASE_URL"] = adobeBaseURL
        environment["ADMIN_TOKEN"] = adminToken
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        self.log = log
    }

    /// SIGKILL: no shutdown code runs, as with `kill -9` or the OOM killer.
    func kill() {
        guard let process else { return }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        self.process = nil
        try? log?.close()
        log = nil
    }

    func waitUntilHealthy() async throws {
        let healthy = await eventually(seconds: 10) {
            guard process?.isRunning == true else { return false }
            return (try? await HTTP.send("GET", "http://127.0.0.1:\(port)/health").status) == 200
        }
        guard healthy else {
            let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw CrashTestError("serve did not answer /health on port \(port) within 10 s; its output:\n\(output)")
        }
    }
}

/// Plain HTTP over loopback for the test's own calls.
private enum HTTP {
    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 5
        return URLSession(configuration: configuration)
    }()

    static func send(_ method: String, _ url: String, body: String? = nil, bearerToken: String? = nil) async throws
        -> (status: Int, body: String)
    {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if let bearerToken { request.setValue("Bearer \(bearerToken)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await session.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func json(_ url: String, bearerToken: String) async throws -> JSONValue {
        let (status, body) = try await send("GET", url, bearerToken: bearerToken)
        guard status == 200 else { throw CrashTestError("GET \(url) answered \(status): \(body)") }
        return try JSONValue(parsing: body)
    }
}
