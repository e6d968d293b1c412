import Foundation
import Testing
@testable import PostgresEventStore

/// The pipeline that leases and outcomes use: one round trip, several statements.
@Suite("PostgreSQL connection pipeline")
struct PostgresConnectionTests {
    private func connect() throws -> PostgresConnection {
        try PostgresConnection(url: try TestDatabase.requireURL(), applicationName: "PostgresConnectionTests", setupStatements: [])
    }

    @Test
    func aPipelineReturnsEveryStatementsRowsInOrder() throws {
        let connection = try connect()
        defer { connection.finish() }
        let results = try connection.pipeline([
            .unnamed("BEGIN"),
            PostgresStatement(name: "double", sql: "SELECT $1::integer * 2", parameters: ["21"]),
            PostgresStatement(name: "series", sql: "SELECT generate_series(1, $1::integer)", parameters: ["3"]),
            .unnamed("COMMIT"),
        ])
        #expect(results.map(\.count) == [0, 1, 3, 0])
        #expect(results[1].first?.int(0) == 42)
        #expect(results[2].map { $0.int(0) } == [1, 2, 3])
        // Prepared once: the second run only executes them.
        let again = try connection.pipeline([PostgresStatement(name: "double", sql: "unused once prepared", parameters: ["5"])])
        #expect(again.first?.first?.int(0) == 10)
    }

    @Test
    func aFailureRollsBackTheTransactionAndLeavesTheConnectionUsable() throws {
        let connection = try connect()
        defer { connection.finish() }
        try connection.execute("CREATE TEMPORARY TABLE marks (n integer)")
        #expect(throws: PostgresError.self) {
            try connection.pipeline([
                .unnamed("BEGIN"),
                .unnamed("INSERT INTO marks VALUES (1)"),
                PostgresStatement(name: "divide", sql: "SELECT 1 / $1::integer", parameters: ["0"]),
                // Skipped by the server after the failure, so never prepared.
                PostgresStatement(name: "after_failure", sql: "SELECT $1::integer + 1", parameters: ["1"]),
                .unnamed("COMMIT"),
            ])
        }
        #expect(!connection.isInTransaction)
        #expect(try connection.count("SELECT count(*) FROM marks") == 0, "the insert before the failure was rolled back")
        // A statement whose preparation the failure skipped is prepared on its next use.
        let results = try connection.pipeline([PostgresStatement(name: "after_failure", sql: "SELECT $1::integer + 1", parameters: ["1"])])
        #expect(results.first?.first?.int(0) == 2)
    }

    @Test
    func theFailureNamesTheServersError() throws {
        let connection = try connect()
        defer { connection.finish() }
        do {
            try connection.pipeline([.unnamed("SELECT 1 / 0")])
            Issue.record("division by zero succeeded")
        } catch {
            #expect(error.sqlState == "22012")
        }
    }
}
