import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM finishes what is in flight, then exits 0 within the 10-second grace period.
@Suite("serve shuts down gracefully on SIGTERM")
struct GracefulShutdownTests {
    @Test("a request whose body is still arriving when SIGTERM comes gets its answer, and the event is stored")
    func slowRequestInFlightIsAnswered() throws {
        let scratch = try TemporaryDirectory()
        let dataDirectory = scratch.url.appendingPathComponent("data").path
        let serve = try ServeProcess.start(config: SegmentFixtures.config(), dataDirectory: dataDirectory, scratch: scratch)
        let messageId = "graceful-\(UUID().uuidString)"
        let body = Array(SegmentFixtures.identify(messageId: messageId, userId: "graceful-user").utf8)
        let split = body.count / 2

        let connection = try HTTPTestConnection(port: serve.port)
        try connection.write(
            "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
        try connection.write(Array(body[..<split]))
        // Let the server read the head and the first half before the signal arrives.
        Thread.sleep(forTimeInterval: 0.3)
        let signalledAt = Date()
        serve.send(signal: SIGTERM)
        Thread.sleep(forTimeInterval: 0.5)
        try connection.write(Array(body[split...]))
        let response = try connection.readResponse()

        #expect(response.status == 200, "\(response)")
        #expect(response.json["accepted"]?.numberValue == 1, "\(response)")
        #expect(serve.waitForExit(timeout: 10), "serve still running 10 s after SIGTERM; log:\n\(serve.log)")
        #expect(Date().timeIntervalSince(signalledAt) < 10.5)
        #expect(serve.outcome == .success, "\(serve.outcome); log:\n\(serve.log)")

        let stored = try CrashRecoveryTests.storedMessageIdCounts(dataDirectory: dataDirectory)
        #expect(stored[messageId] == 1, "the acknowledged event is not in the store")
    }

    @Test("SIGTERM under load from 4 clients: every acknowledged event is stored, exit 0 within 10 s")
    func sigtermUnderLoad() throws {
        let scratch = try TemporaryDirectory()
        let dataDirectory = scratch.url.appendingPathComponent("data").path
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: dataDirectory, scratch: scratch, logLevel: "warning")
        let stop = Locked(false)
        let acknowledged = Locked<Set<String>>([])
        let failures = Locked<[String]>([])
        let stopper = Thread {
            Thread.sleep(forTimeInterval: Double.random(in: 0.5...1.0))
            serve.send(signal: SIGTERM)
            #expect(serve.waitForExit(timeout: 10), "serve still running 10 s after SIGTERM under load")
            stop.withLock { $0 = true }
        }
        stopper.start()
        CrashRecoveryTests.postBatchesUntilStopped(
            to: serve, label: "sigterm", stop: stop, acknowledged: acknowledged, failures: failures)

        #expect(serve.outcome == .success, "\(serve.outcome); log:\n\(serve.log)")
        #expect(failures.current.isEmpty, "\(failures.current.prefix(3))")
        #expect(!acknowledged.current.isEmpty)
        let stored = try CrashRecoveryTests.storedMessageIdCounts(dataDirectory: dataDirectory)
        let missing = acknowledged.current.filter { stored[$0] != 1 }
        #expect(missing.isEmpty, "\(missing.count) of \(acknowledged.current.count) acknowledged events are not stored once")
    }

    @Test("an idle keep-alive connection does not hold the process past the grace period")
    func idleConnectionDoesNotBlockShutdown() throws {
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch)
        let idle = try HTTPTestConnection(port: serve.port)
        try idle.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(try idle.readResponse().status == 200)

        let started = Date()
        let outcome = serve.terminate(timeout: 10)
        #expect(outcome == .success, "\(String(describing: outcome)); log:\n\(serve.log)")
        #expect(Date().timeIntervalSince(started) < 10)
        _ = idle
    }

    @Test("after SIGTERM no new connection is served, and the log says why it stopped")
    func stopsListeningAfterSIGTERM() throws {
        let scratch = try TemporaryDirectory()
        let serve = try ServeProcess.start(
            config: SegmentFixtures.config(), dataDirectory: scratch.url.appendingPathComponent("data").path, scratch: scratch)
        #expect(serve.terminate() == .success, "log:\n\(serve.log)")
        #expect(throws: (any Error).self) { try serve.client.get("/health") }
        #expect(serve.log.contains("SIGTERM"), "the log does not mention the signal:\n\(serve.log)")
    }
}
