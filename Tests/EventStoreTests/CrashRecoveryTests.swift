import Foundation
import JSONKit
import Testing
@testable import EventStore

/// `kill -9` in the middle of appends loses nothing that was acknowledged.
///
/// The test binary runs itself as the child (`/proc/self/exe` with a filter naming the child
/// test and an environment variable giving the data directory); the child appends from several
/// threads and prints each acknowledged batch's messageIds only after its completion fired.
@Suite("Crash recovery")
struct CrashRecoveryTests {
    static let childDirectoryVariable = "EVENT_STORE_CRASH_CHILD_DIR"
    static let acknowledgementPrefix = "ACK "
    static let eventsPerBatch = 20

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/exe"), "needs Linux's /proc to respawn itself"))
    func acknowledgedEventsSurviveKillNine() throws {
        let directory = try TemporaryDirectory()
        var acknowledged = Set<String>()
        for round in 0..<2 {
            let lines = try runChildAndKill(directory: directory.path, round: round)
            let ids = lines.flatMap { $0.split(separator: " ").dropFirst().map(String.init) }
            #expect(!ids.isEmpty, "the child acknowledged nothing before it was killed (round \(round))")
            acknowledged.formUnion(ids)
        }

        let store = try StoreFactory.sqlite.open(directory.path, StoreOptions())
        defer { store.close() }
        let events = try allEvents(store)
        var acceptedCount: [String: Int] = [:]
        // Atomicity: an accepted event is stored with all of its jobs, or not at all. Checked
        // for the events nearest each kill (the end of every child round) and a sample of the
        // rest, to keep the test fast.
        let roundEnds = Set(events.indices.filter { index in
            // Child messageIds start with "r<round>".
            index + 1 == events.count || events[index + 1].messageId?.prefix(2) != events[index].messageId?.prefix(2)
        })
        let nearKill = Set(roundEnds.flatMap { max(0, $0 - 300)...$0 })
        for (index, event) in events.enumerated() where event.status == .accepted {
            acceptedCount[event.messageId ?? "", default: 0] += 1
            guard nearKill.contains(index) || index % 97 == 0 else { continue }
            let jobs = try store.jobs(forEvent: event.sequence)
            let expectedMappings = Self.mappings(forMessageId: event.messageId ?? "")
            if jobs.map(\.mappingID) != expectedMappings {
                Issue.record("event \(event.messageId ?? "?") has jobs \(jobs.map(\.mappingID)), expected \(expectedMappings)")
            }
        }
        let missing = acknowledged.filter { acceptedCount[$0] != 1 }
        #expect(missing.isEmpty, "acknowledged but not stored exactly once: \(missing.sorted().prefix(10))")
        let sequences = events.map(\.sequence)
        #expect(sequences == sequences.sorted() && Set(sequences).count == sequences.count)
        // Each batch re-sends one earlier messageId; no re-sent one created a second acceptance.
        #expect(acceptedCount.values.allSatisfy { $0 == 1 })
        #expect(events.contains { $0.status == .duplicate })
    }

    /// Mappings of the child's events: every fifth event also hits a broken mapping.
    static func mappings(forMessageId messageId: String) -> [String] {
        let number = Int(messageId.split(separator: "-").last ?? "") ?? 0
        return number % 5 == 0 ? ["update-profile", "broken"] : ["update-profile"]
    }

    private func runChildAndKill(directory: String, round: Int) throws -> [String] {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        child.arguments = ["--testing-library", "swift-testing", "--filter", "crashChildAppendsUntilKilled"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.childDirectoryVariable] = directory
        environment["EVENT_STORE_CRASH_CHILD_ROUND"] = String(round)
        child.environment = environment
        let output = Pipe()
        child.standardOutput = output
        child.standardError = FileHandle.nullDevice
        let collected = OutputCollector()
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { collected.append(data) }
        }
        try child.run()
        // Kill at a random moment once the child is really appending.
        let deadline = Date().addingTimeInterval(60)
        while collected.acknowledgedLines.count < 3 && Date() < deadline && child.isRunning {
            Thread.sleep(forTimeInterval: 0.01)
        }
        Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6))
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
        collected.append(output.fileHandleForReading.readDataToEndOfFile())
        #expect(child.terminationReason == .uncaughtSignal, "the child ended on its own: \(collected.text.suffix(2000))")
        return collected.acknowledgedLines
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment[childDirectoryVariable] != nil))
    func crashChildAppendsUntilKilled() throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = try #require(environment[Self.childDirectoryVariable])
        let round = environment["EVENT_STORE_CRASH_CHILD_ROUND"] ?? "0"
        var configuration = SQLiteEventStoreConfiguration()
        configuration.logger.logLevel = .error
        let store = try SQLiteEventStore(directory: directory, configuration: configuration)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            var previousFirst: String?
            for batch in 0..<1_000_000 {
                let ids = (0..<Self.eventsPerBatch).map { "r\(round)t\(thread)b\(batch)-\($0)" }
                var events = ids.map { id in
                    IncomingEvent.accepted(messageId: id, body: eventBody(messageId: id, userId: "u\(thread)"),
                                           jobs: Self.mappings(forMessageId: id).map { mapping in
                        mapping == "broken"
                            ? .mappingError(mappingID: mapping, userID: nil, message: "user_id is missing")
                            : .delivery(mappingID: mapping, userID: "u\(thread)", payload: ["batch": .number(Double(batch))])
                    })
                }
                if let previousFirst {
                    events.append(.accepted(messageId: previousFirst, body: eventBody(messageId: previousFirst), jobs: [
                        .delivery(mappingID: "update-profile", userID: "u\(thread)", payload: ["again": true]),
                    ]))
                }
                previousFirst = ids[0]
                let done = DispatchSemaphore(value: 0)
                store.append(events) { result in
                    if case .success = result {
                        // One write(2) per line so the parent never sees half an acknowledgement.
                        let line = Array((Self.acknowledgementPrefix + ids.joined(separator: " ") + "\n").utf8)
                        line.withUnsafeBytes { _ = write(1, $0.baseAddress, $0.count) }
                    }
                    done.signal()
                }
                done.wait()
            }
        }
    }
}

private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) { lock.withLock { data.append(more) } }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }

    /// Complete acknowledgement lines only: a line cut by the kill was never fully written.
    var acknowledgedLines: [String] {
        let text = self.text
        guard let lastNewline = text.lastIndex(of: "\n") else { return [] }
        return text[..<lastNewline].split(separator: "\n")
            .filter { $0.hasPrefix(CrashRecoveryTests.acknowledgementPrefix) }
            .map(String.init)
    }
}
