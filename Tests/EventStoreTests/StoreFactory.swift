import Foundation
import JSONKit
import Testing
@testable import EventStore

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

/// A fresh directory removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "eventstore-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

