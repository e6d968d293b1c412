import Foundation
import JSONKit
import Testing
@testable import EventStore

// Helpers of the store contract tests, shared by every backend's test target:
// `Tests/PostgresEventStoreTests` links this file, as it links `EventStoreContractTests.swift`.
// Each target supplies its own `StoreFactory` and `TemporaryDirectory` (a location for a store).

/// What a contract test may choose about the store it gets.
struct StoreOptions: Sendable {
    var clock = TestClock()
    var maxQueueDepth = 1_000_000
    var minFreeDiskBytes: UInt64 = 0
    var retention: TimeInterval = 7 * 24 * 3600
    var firstAttemptDelaySeconds: Double = 0
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

/// Opens a store at a fresh location (a directory, or a PostgreSQL schema) and closes it at
/// the end of `body`.
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
