import DeliveryQueue
import Foundation
import JSONKit
import Logging
import Testing

/// Keeps every log line the queue writes.
final class RecordingLogHandler: LogHandler, @unchecked Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    final class Storage: @unchecked Sendable {
        let lock = NSLock()
        var lines: [Line] = []
    }

    let storage: Storage
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(storage: Storage) { self.storage = storage }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let line = Line(level: event.level, message: "\(event.message)",
                        metadata: (event.metadata ?? [:]).mapValues { "\($0)" })
        storage.lock.withLock { storage.lines.append(line) }
    }
}

@Suite struct LoggingAndStatsTests {
    @Test func eachFailureIsOneWarningNamingItsMessageAndMapping() async throws {
        let harness = try QueueHarness()
        try harness.append(userID: "ana", traits: ["plan": "gold"], mappingID: "update-profile")
        try harness.append(userID: "ben", traits: ["plan": "gold"], mappingID: "vip-profile")
        let sender = ScriptedSender { call in
            call.userID == "ana" ? AdobeOutcomes.result(AdobeOutcomes.rejected(status: 422, body: "nope")) : AdobeOutcomes.result(.delivered)
        }
        let storage = RecordingLogHandler.Storage()
        let logger = Logger(label: "delivery-test") { _ in RecordingLogHandler(storage: storage) }
        let queue = try DeliveryQueue(configuration: .fast, store: harness.store, sender: sender,
                                      clock: harness.clock.deliveryClock, logger: logger)
        try await harness.run(queue) { () async throws in
            #expect(try await eventually { try harness.store.stats().queueDepth == 0 })
        }
        let warnings = storage.lock.withLock { storage.lines.filter { $0.level == .warning } }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["messageIds"] == "msg-ana-1")
        #expect(warnings.first?.metadata["mappingIds"] == "update-profile")
        #expect(warnings.first?.metadata["reason"] == "ADOBE_REJECTED")
        #expect(warnings.first?.metadata["error"]?.contains("422") == true)
        // The profile ID is the customer's identifier: it stays out of the lines.
        let everything = storage.lock.withLock { storage.lines.map { $0.message + " " + $0.metadata.values.joined(separator: " ") } }
        #expect(!everything.contains { $0.contains("ana") && !$0.contains("msg-ana-1") })

        let json = queue.stats.jsonValue
        #expect(json["deliveredJobs"] == 1)
        #expect(json["deadLetteredJobs"]?["ADOBE_REJECTED"] == 1)
        #expect(json["adobeCalls"] == 4)
        #expect(json["paused"] == false)
        #expect(json["rateLimit"]?["usedInWindow"] == 4)
    }
}
