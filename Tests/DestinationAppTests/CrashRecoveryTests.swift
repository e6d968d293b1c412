import EventStore
import Foundation
import JSONKit
import Testing

/// §8: every event acknowledged with 200 survives `kill -9`.
@Suite("serve survives kill -9", .serialized)
struct CrashRecoveryTests {
    static let clientCount = 4
    static let batchSize = 20

    @Test("every acknowledged messageId is stored exactly once across three SIGKILLs")
    func acknowledgedEventsSurviveSIGKILL() throws {
        let scratch = try TemporaryDirectory()
        let dataDirectory = scratch.url.appendingPathComponent("data").path
        let config = SegmentFixtures.config()
        let acknowledged = Locked<Set<String>>([])
        var acknowledgedPerRound: [Int] = []

        for round in 0..<3 {
            let serve = try ServeProcess.start(
                config: config, dataDirectory: dataDirectory, scratch: scratch, logLevel: "warning")
            let acknowledgedBefore = acknowledged.current.count
            let killDelay = Double.random(in: 0.5...2.0)
            let stop = Locked(false)
            let failures = Locked<[String]>([])

            // The killer runs beside the clients, so the kill lands while requests are in flight.
            let killed = DispatchSemaphore(value: 0)
            let killer = Thread {
                Thread.sleep(forTimeInterval: killDelay)
                serve.kill()
                stop.withLock { $0 = true }
                killed.signal()
            }
            killer.start()
            Self.postBatchesUntilStopped(
                to: serve, label: "crash-r\(round)", stop: stop, acknowledged: acknowledged, failures: failures)
            killed.wait()
            #expect(serve.outcome == ServeProcess.ExitOutcome(status: SIGKILL, bySignal: true), "round \(round): \(serve.outcome)")
            #expect(failures.current.isEmpty, "round \(round): \(failures.current.prefix(3))")
            acknowledgedPerRound.append(acknowledged.current.count - acknowledgedBefore)
        }
        // A round that acknowledged nothing proves nothing: the server was too slow to start.
        #expect(acknowledgedPerRound.allSatisfy { $0 > 0 }, "acknowledged per round: \(acknowledgedPerRound)")

        // The store must open and serve after the last crash, then stop cleanly.
        let last = try ServeProcess.start(config: config, dataDirectory: dataDirectory, scratch: scratch, logLevel: "warning")
        #expect(try last.client.get("/ready").status == 200)
        #expect(last.terminate() == .success, "serve did not stop with exit 0 within 10 s; log:\n\(last.log)")

        let counts = try Self.storedMessageIdCounts(dataDirectory: dataDirectory)
        let expected = acknowledged.current
        print("kill -9 test: acknowledged per round \(acknowledgedPerRound), \(counts.count) accepted events stored")
        let missing = expected.filter { counts[$0, default: 0] == 0 }
        let repeated = counts.filter { $0.value > 1 }
        #expect(missing.isEmpty, "\(missing.count) of \(expected.count) acknowledged events are missing, e.g. \(missing.prefix(3))")
        #expect(repeated.isEmpty, "stored more than once: \(repeated.prefix(3))")
    }

    /// `clientCount` threads post batches of `batchSize` identifies with unique messageIds to
    /// `/webhook` until `stop` is set, recording every messageId acknowledged with 200. A
    /// failed connection (the server going away) acknowledges nothing and is not a failure.
    static func postBatchesUntilStopped(
        to serve: ServeProcess, label: String, stop: Locked<Bool>, acknowledged: Locked<Set<String>>,
        failures: Locked<[String]>
    ) {
        runOnThreads(clientCount) { client in
            var batchNumber = 0
            while !stop.current {
                batchNumber += 1
                let ids = (0..<batchSize).map { "\(label)-c\(client)-b\(batchNumber)-e\($0)-\(UUID().uuidString)" }
                let body = "[" + ids.map { SegmentFixtures.identify(messageId: $0, userId: "user-\(client)-\(batchNumber)") }
                    .joined(separator: ",") + "]"
                guard let response = try? serve.client.post("/webhook", json: body) else { continue }
                if response.status == 200 {
                    let accepted = response.json["accepted"]?.numberValue
                    let rejected = response.json["rejected"]?.arrayValue?.count
                    if accepted != Double(batchSize) || rejected != 0 {
                        failures.withLock { $0.append("a valid batch got \(response)") }
                    }
                    acknowledged.withLock { $0.formUnion(ids) }
                } else {
                    failures.withLock { $0.append("a valid batch got \(response.status) \(response.text)") }
                }
            }
        }
    }

    /// How many accepted rows each messageId has, read straight from the data dir's store.
    static func storedMessageIdCounts(dataDirectory: String) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for event in try receivedEvents(dataDirectory: dataDirectory) where event.status == .accepted {
            if let messageId = event.messageId { counts[messageId, default: 0] += 1 }
        }
        return counts
    }

    /// Every received row (accepted, rejected, duplicate), read straight from the data dir.
    static func receivedEvents(dataDirectory: String) throws -> [ReceivedEvent] {
        var configuration = SQLiteEventStoreConfiguration()
        configuration.minFreeDiskBytes = 0
        configuration.automaticPurgeInterval = nil
        configuration.backgroundCheckpointInterval = nil
        configuration.logger.logLevel = .warning
        let store = try SQLiteEventStore(directory: dataDirectory, configuration: configuration)
        defer { store.close() }
        var events: [ReceivedEvent] = []
        while true {
            let page = try store.receivedEvents(after: events.last?.sequence ?? 0, limit: 5_000)
            guard !page.isEmpty else { break }
            events += page
        }
        return events
    }
}
