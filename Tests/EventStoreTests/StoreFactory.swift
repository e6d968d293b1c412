import Foundation
import JSONKit
import Testing
@testable import EventStore

/// What a contract test may choose about the store it gets.
struct StoreOptions: Sendable {
    var clock = TestClock()
    var maxQueueDepth = 1_000_000
    var minFreeDiskBytes: UInt64 = 0
    var retention: TimeInterval = 7 * 24 * 3600
    var firstAttemptDelaySeconds: Double = 0
}

/// Opens an implementation of `EventStore` at a location; the contract tests run once per
/// factory, so a PostgreSQL backend only has to add itself to `all`.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    var name: String
    /// Opens (or reopens) the store kept at `location`, a fresh directory per test.
    var open: @Sendable (_ location: String, _ options: StoreOptions) throws -> any EventStore

    var testDescription: String { name }

    static let sqlite = StoreFactory(name: "SQLite") { location, options in
        var configuration = SQLiteEventStoreConfiguration()
        let clock = options.clock
        configuration.clock = { clock.now }
        configuration.maxQueueDepth = options.maxQueueDepth
        configuration.minFreeDiskBytes = options.minFreeDiskBytes
        configuration.retention = options.retention
        configuration.firstAttemptDelaySeconds = options.firstAttemptDelaySeconds
        configuration.automaticPurgeInterval = nil
        return try SQLiteEventStore(directory: location, configuration: configuration)
    }

    static let all: [StoreFactory] = [.sqlite]
}

/// A settable clock shared between a test and the store it drives.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        current = start
    }

    var now: Date { lock.withLock { current } }

    func advance(by seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }
}

/// A fresh directory removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "eventstore-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Opens a store in a fresh directory and closes it at the end of `body`.
func withStore<T>(
    _ factory: StoreFactory, _ options: StoreOptions = StoreOptions(),
    _ body: (any EventStore, String) throws -> T
) throws -> T {
    let directory = try TemporaryDirectory()
    let store = try factory.open(directory.path, options)
    defer { store.close() }
    return try body(store, directory.path)
}

func eventBody(messageId: String, userId: String = "user-1", extra: String = "") -> [UInt8] {
    Array(#"{"type":"identify","messageId":"\#(messageId)","userId":"\#(userId)","traits":{"plan":"pro"\#(extra)}}"#.utf8)
}

/// An accepted identify event with one delivery job per mapping.
func identify(_ messageId: String, user: String = "user-1", mappings: [String] = ["update-profile"],
              traits: JSONValue = ["plan": "pro"]) -> IncomingEvent {
    .accepted(messageId: messageId, body: eventBody(messageId: messageId, userId: user),
              jobs: mappings.map { .delivery(mappingID: $0, userID: user, payload: traits) })
}

func allEvents(_ store: any EventStore) throws -> [ReceivedEvent] {
    var events: [ReceivedEvent] = []
    while true {
        let page = try store.receivedEvents(after: events.last?.sequence ?? 0, limit: 1000)
        if page.isEmpty { return events }
        events += page
    }
}

/// Messages and users of leased groups, to compare with what a test expects.
func describe(_ groups: [LeasedJobGroup]) -> [String: [String]] {
    var result: [String: [String]] = [:]
    for group in groups { result[group.userID] = group.jobs.map { $0.messageId ?? "?" } }
    return result
}
