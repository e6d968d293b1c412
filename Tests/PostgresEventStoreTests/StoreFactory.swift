import EventStore
import Foundation
import JSONKit
import Testing
@testable import PostgresEventStore

// The contract tests (`EventStoreContractTests.swift`, a link to the file in
// `Tests/EventStoreTests`) run here against PostgreSQL. This file is their glue: the same
// factory shape as `Tests/EventStoreTests/StoreFactory.swift` (the shared helpers are in the
// linked `StoreContractSupport.swift`), where a "location" is a schema of the database named
// by `TEST_DATABASE_URL` instead of a directory.

/// The database the tests use, from `TEST_DATABASE_URL` (not DATABASE_URL, which would also switch any `serve` the tests start to PostgreSQL).
enum TestDatabase {
    static var url: String? {
        guard let url = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"], !url.isEmpty else { return nil }
        return url
    }

    /// The URL, or the end of the test: a failure in CI (`CI=true`), where PostgreSQL must be
    /// tested, and a visible skip on a developer's machine.
    static func requireURL() throws -> String {
        if let url { return url }
        let hint = "start one with `scripts/postgres-test-server.sh start` and export the URL it prints as TEST_DATABASE_URL"
        if ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true" {
            throw MissingDatabase(message: "TEST_DATABASE_URL is not set, so the PostgreSQL store cannot be tested in CI; \(hint)")
        }
        let note = "skipped: TEST_DATABASE_URL is not set; \(hint)"
        // The console reporter shows a cancelled test case of a parameterized test as passed:
        // say it once in plain words too.
        Note.once("PostgresEventStoreTests: PostgreSQL tests \(note)")
        try Test.cancel(Comment(rawValue: note))
    }

    struct MissingDatabase: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func configuration(schema: String, replicaID: String, options: StoreOptions) -> PostgresEventStoreConfiguration {
        var configuration = PostgresEventStoreConfiguration()
        let clock = options.clock
        configuration.clock = { clock.now }
        configuration.schema = schema
        configuration.replicaID = replicaID
        configuration.maxQueueDepth = options.maxQueueDepth
        configuration.retention = options.retention
        configuration.firstAttemptDelaySeconds = options.firstAttemptDelaySeconds
        configuration.automaticPurgeInterval = nil
        configuration.maxConnections = 2
        return configuration
    }

    static func dropSchema(_ schema: String) {
        guard let url, PostgresEventStore.isValidIdentifier(schema), schema != "public" else { return }
        let connection = try? PostgresConnection(url: url, applicationName: "PostgresEventStoreTests", setupStatements: [])
        _ = try? connection?.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
        connection?.finish()
    }
}

/// Prints a note for the developer running the tests, once per distinct text.
enum Note {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var printed = Set<String>()

    static func once(_ text: String) {
        guard lock.withLock({ printed.insert(text).inserted }) else { return }
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }
}

/// Opens an implementation of `EventStore` at a location; the contract tests run once per factory.
struct StoreFactory: Sendable, CustomTestStringConvertible {
    var name: String
    /// Opens (or reopens) the store kept at `location`, a fresh schema per test.
    var open: @Sendable (_ location: String, _ options: StoreOptions) throws -> any EventStore

    var testDescription: String { name }

    static let postgres = StoreFactory(name: "PostgreSQL") { location, options in
        let url = try TestDatabase.requireURL()
        if options.minFreeDiskBytes > 0 {
            // The database's disk belongs to the server; a full one surfaces as SQLSTATE 53100,
            // which the store reports as `capacityExceeded` (see `storeError`).
            let note = "not applicable to PostgreSQL: the store cannot see the server's free disk space"
            Note.once("PostgresEventStoreTests: aNearlyFullDiskRefusesAppends skipped, \(note)")
            try Test.cancel(Comment(rawValue: note))
        }
        let configuration = TestDatabase.configuration(schema: location, replicaID: "contract-tests", options: options)
        return try PostgresEventStore(url: url, configuration: configuration)
    }

    static let all: [StoreFactory] = [.postgres]
}

/// A fresh schema (named like a directory in the SQLite tests), dropped when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    deinit { TestDatabase.dropSchema(path) }
}

