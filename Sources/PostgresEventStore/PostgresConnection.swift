import CLibPQ
import Foundation

/// A failure reported by libpq or the server, with the server's SQLSTATE when there is one.
struct PostgresError: Error, CustomStringConvertible {
    /// Five-character SQLSTATE code; `nil` when the failure happened in libpq (connection lost…).
    var sqlState: String?
    var message: String

    var description: String {
        if let sqlState { return "\(message) (SQLSTATE \(sqlState))" }
        return message
    }

    /// Deadlock or serialization failure: the transaction did nothing and may simply run again.
    var isTransient: Bool { sqlState == "40P01" || sqlState == "40001" }

    /// The server's disk is full (53100): a capacity problem, not a bug.
    var isDiskFull: Bool { sqlState == "53100" }
}

/// One row of a result, values as PostgreSQL's text format.
struct PostgresRow {
    var values: [String?]

    subscript(_ index: Int) -> String? { values[index] }

    func string(_ index: Int) -> String? { values[index] }

    func int64(_ index: Int) -> Int64? { values[index].flatMap { Int64($0) } }

    func int(_ index: Int) -> Int? { values[index].flatMap { Int($0) } }

    /// A `bytea` column, which the text format spells `\x` followed by hex digits.
    func bytes(_ index: Int) -> [UInt8]? {
        guard let text = values[index] else { return nil }
        return Hex.decodeBytea(text)
    }
}

/// One libpq connection. Not thread-safe: the pool hands it to one thread at a time.
final class PostgresConnection {
    private let handle: OpaquePointer
    private var isFinished = false
    /// Statements run after every (re)connect: search path, durability.
    private let setupStatements: [String]
    /// Names prepared in the current session; a reconnect forgets them with the session.
    private var preparedStatements = Set<String>()

    /// Connects to `url` (a `postgres://` URI or a `key=value` string).
    init(url: String, applicationName: String, setupStatements: [String]) throws(PostgresError) {
        // Defaults first; values spelled in the URL override them (expand_dbname).
        let keywords = ["connect_timeout", "application_name", "dbname"]
        let values = ["10", applicationName, url]
        let connection = keywords.withCStringArray { keywordPointers in
            values.withCStringArray { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(sqlState: nil, message: "libpq could not allocate a connection (out of memory)")
        }
        handle = connection
        self.setupStatements = setupStatements
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.errorMessage(handle)
            finish()
            throw PostgresError(sqlState: nil, message: message)
        }
        do {
            for statement in setupStatements { try execute(statement) }
        } catch {
            finish()
            throw error
        }
    }

    deinit { finish() }

    /// Closes the connection now (session locks go with it); later statements fail.
    func finish() {
        guard !isFinished else { return }
        isFinished = true
        PQfinish(handle)
    }

    var isBroken: Bool { isFinished || PQstatus(handle) != CONNECTION_OK }

    /// Whether the session is inside a transaction block (or an aborted one).
    var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with text-format parameters (`$1`, `$2`, …) and returns its rows.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> [PostgresRow] {
        guard !isFinished else { throw PostgresError(sqlState: nil, message: "the connection was closed") }
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = PQexec(handle, sql)
        } else {
            result = parameters.withOptionalCStringArray { pointers in
                PQexecParams(handle, sql, Int32(parameters.count), nil, pointers, nil, nil, 0)
            }
        }
        return try rows(of: result)
    }

    /// Runs `sql` as the named prepared statement, preparing it on first use in this session:
    /// a statement run for every group commit is then parsed and planned once, not each time.
    /// Binary parameters spare both sides the text escaping and parsing of large arrays.
    @discardableResult
    func executePrepared(_ name: String, _ sql: String, _ parameters: [PostgresParameter]) throws(PostgresError) -> [PostgresRow] {
        guard !isFinished else { throw PostgresError(sqlState: nil, message: "the connection was closed") }
        if !preparedStatements.contains(name) {
            _ = try rows(of: PQprepare(handle, name, sql, Int32(parameters.count), nil))
            preparedStatements.insert(name)
        }
        let buffers: [[UInt8]?] = parameters.map { parameter in
            switch parameter {
            case .text(let text): return text.map { Array($0.utf8) + [0] }
            case .binary(let bytes): return bytes
            }
        }
        let lengths = buffers.map { Int32($0?.count ?? 0) }
        let formats: [Int32] = parameters.map { if case .binary = $0 { 1 } else { 0 } }
        let result = buffers.withPointers { pointers in
            PQexecPrepared(handle, name, Int32(parameters.count), pointers, lengths, formats, 0)
        }
        return try rows(of: result)
    }

    /// Sends `statements` together (libpq's pipeline mode) and returns each one's rows: one
    /// round trip however many there are, and named ones prepared once per session, so a
    /// short transaction costs neither several round trips nor planning every time. After a
    /// failure the server skips the rest; a transaction block the statements opened is rolled
    /// back.
    @discardableResult
    func pipeline(_ statements: [PostgresStatement]) throws(PostgresError) -> [[PostgresRow]] {
        guard !isFinished else { throw PostgresError(sqlState: nil, message: "the connection was closed") }
        guard PQenterPipelineMode(handle) == 1 else {
            throw PostgresError(sqlState: nil, message: "libpq cannot enter pipeline mode (\(Self.errorMessage(handle)))")
        }
        // What each result read below answers: a statement's rows, or the preparation of a name.
        enum Expected { case rows, preparation(String) }
        var expected: [Expected] = []
        var sendFailure: PostgresError?
        var preparing = Set<String>()
        for statement in statements {
            if let name = statement.name, !preparedStatements.contains(name), preparing.insert(name).inserted {
                guard PQsendPrepare(handle, name, statement.sql, Int32(statement.parameters.count), nil) == 1 else {
                    sendFailure = PostgresError(sqlState: nil, message: Self.errorMessage(handle))
                    break
                }
                expected.append(.preparation(name))
            }
            let buffers = statement.parameters.map(\.buffer)
            let lengths = buffers.map { Int32($0?.count ?? 0) }
            let formats = statement.parameters.map(\.format)
            let sent = buffers.withPointers { pointers in
                if let name = statement.name {
                    PQsendQueryPrepared(handle, name, Int32(buffers.count), pointers, lengths, formats, 0)
                } else {
                    PQsendQueryParams(handle, statement.sql, Int32(buffers.count), nil, pointers, lengths, formats, 0)
                }
            }
            guard sent == 1 else {
                sendFailure = PostgresError(sqlState: nil, message: Self.errorMessage(handle))
                break
            }
            expected.append(.rows)
        }
        if sendFailure == nil && PQpipelineSync(handle) != 1 {
            sendFailure = PostgresError(sqlState: nil, message: Self.errorMessage(handle))
        }
        if let sendFailure {
            // Part of the pipeline may be queued: only a new session is in a known state.
            _ = PQexitPipelineMode(handle)
            try? reset()
            throw sendFailure
        }
        var results: [[PostgresRow]] = []
        var failure: PostgresError?
        for item in expected {
            // Each statement's result is followed by a NULL.
            while let result = PQgetResult(handle) {
                if PQresultStatus(result) == PGRES_PIPELINE_ABORTED {
                    PQclear(result)
                    continue
                }
                do {
                    let rows = try rows(of: result)
                    switch item {
                    case .rows: results.append(rows)
                    case .preparation(let name): preparedStatements.insert(name)
                    }
                } catch {
                    failure = failure ?? error
                }
            }
        }
        // The synchronisation point, then out of pipeline mode.
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            PQclear(result)
            if status == PGRES_PIPELINE_SYNC { break }
        }
        _ = PQexitPipelineMode(handle)
        if let failure {
            if isInTransaction { _ = try? execute("ROLLBACK") }
            throw failure
        }
        return results
    }

    private func rows(of result: OpaquePointer?) throws(PostgresError) -> [PostgresRow] {
        guard let result else {
            throw PostgresError(sqlState: nil, message: Self.errorMessage(handle))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK:
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            var rows: [PostgresRow] = []
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                var values: [String?] = []
                values.reserveCapacity(columnCount)
                for column in 0..<columnCount {
                    if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                    }
                }
                rows.append(PostgresRow(values: values))
            }
            return rows
        default:
            let sqlState = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            throw PostgresError(sqlState: sqlState, message: primary ?? Self.errorMessage(handle))
        }
    }

    /// Rows changed by a statement with a `RETURNING` clause, or a count query's value.
    func count(_ sql: String, _ parameters: [String?] = []) throws(PostgresError) -> Int {
        try execute(sql, parameters).first?.int(0) ?? 0
    }

    /// Re-establishes a broken connection and repeats the session setup.
    func reset() throws(PostgresError) {
        guard !isFinished else { throw PostgresError(sqlState: nil, message: "the connection was closed") }
        PQreset(handle)
        preparedStatements.removeAll()
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(sqlState: nil, message: Self.errorMessage(handle))
        }
        for statement in setupStatements { try execute(statement) }
    }

    /// Runs `body` in a transaction, again (up to `attempts` times) when the server aborted it
    /// for a deadlock or serialization failure: those roll everything back, so a rerun is safe.
    func transaction<T>(
        _ begin: String = "BEGIN ISOLATION LEVEL READ COMMITTED", attempts: Int = 4,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                try execute(begin)
                let value = try body(self)
                try execute("COMMIT")
                return value
            } catch {
                if isInTransaction { _ = try? execute("ROLLBACK") }
                if let error = error as? PostgresError, error.isTransient, attempt < attempts { continue }
                throw error
            }
        }
    }

    /// Runs `body`, one autocommitted statement, again (up to `attempts` times) when the server
    /// aborted it for a deadlock or serialization failure, which leave nothing behind.
    func retryingTransientFailures<T>(attempts: Int = 4, _ body: (PostgresConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try body(self)
            } catch let error as PostgresError where error.isTransient && attempt < attempts {
                continue
            }
        }
    }

    private static func errorMessage(_ handle: OpaquePointer) -> String {
        guard let text = PQerrorMessage(handle) else { return "unknown libpq error" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Connections for everything but the append writer, created on demand up to a bound.
final class PostgresConnectionPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var isClosed = false
    private let maximum: Int
    private let makeConnection: () throws(PostgresError) -> PostgresConnection

    init(maximum: Int, makeConnection: @escaping () throws(PostgresError) -> PostgresConnection) {
        // Two at least: the background purge holds one for its lock while it works on another.
        self.maximum = max(2, maximum)
        self.makeConnection = makeConnection
    }

    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        condition.lock()
        while idle.isEmpty && open >= maximum && !isClosed { condition.wait() }
        if isClosed {
            condition.unlock()
            throw PostgresError(sqlState: nil, message: "the connection pool is closed")
        }
        var connection = idle.popLast()
        if connection == nil { open += 1 }
        condition.unlock()

        do {
            if connection == nil {
                connection = try makeConnection()
            } else if connection!.isBroken {
                try connection!.reset()
            }
        } catch {
            // The slot is free again for the next caller to try.
            condition.withLock {
                open -= 1
                condition.signal()
            }
            throw error
        }
        let checkedOut = connection!
        defer {
            condition.withLock {
                // A broken connection goes back too: its next user resets it.
                if isClosed { open -= 1 } else { idle.append(checkedOut) }
                condition.signal()
            }
        }
        return try body(checkedOut)
    }

    func close() {
        condition.withLock {
            isClosed = true
            open -= idle.count
            idle.removeAll()
            condition.broadcast()
        }
    }
}

/// A statement parameter: text (NUL-terminated on the wire, `nil` for SQL NULL) or PostgreSQL's
/// binary format for its type.
enum PostgresParameter: ExpressibleByStringLiteral {
    case text(String?)
    case binary([UInt8])

    init(stringLiteral value: String) { self = .text(value) }

    var buffer: [UInt8]? {
        switch self {
        case .text(let text): text.map { Array($0.utf8) + [0] }
        case .binary(let bytes): bytes
        }
    }

    var format: Int32 { if case .binary = self { 1 } else { 0 } }
}

/// One statement of a `pipeline`: prepared once per session under `name`, or, without one,
/// parsed every time (for short ones such as BEGIN).
struct PostgresStatement {
    var name: String?
    var sql: String
    var parameters: [PostgresParameter] = []

    static func unnamed(_ sql: String) -> PostgresStatement { PostgresStatement(name: nil, sql: sql) }
}

/// One-dimensional arrays in PostgreSQL's binary format (`array_recv`): a header naming the
/// element type, then each element as a length (-1 for NULL) and its bytes, big-endian.
enum PostgresBinaryArray {
    static let textOID: UInt32 = 25
    static let byteaOID: UInt32 = 17
    static let int8OID: UInt32 = 20

    static func text(_ values: [String?]) -> PostgresParameter {
        array(values.map { $0.map { Array($0.utf8) } }, elementType: textOID)
    }

    static func bytea(_ values: [[UInt8]?]) -> PostgresParameter {
        array(values, elementType: byteaOID)
    }

    static func int64(_ values: [Int64]) -> PostgresParameter {
        var output = header(count: values.count, hasNull: false, elementType: int8OID)
        output.reserveCapacity(output.count + values.count * 12)
        for value in values {
            append(Int32(8), to: &output)
            append(UInt64(bitPattern: value), to: &output)
        }
        return .binary(output)
    }

    private static func array(_ values: [[UInt8]?], elementType: UInt32) -> PostgresParameter {
        var output = header(count: values.count, hasNull: values.contains { $0 == nil }, elementType: elementType)
        output.reserveCapacity(output.count + values.reduce(0) { $0 + 4 + ($1?.count ?? 0) })
        for value in values {
            guard let value else {
                append(Int32(-1), to: &output)
                continue
            }
            append(Int32(value.count), to: &output)
            output.append(contentsOf: value)
        }
        return .binary(output)
    }

    private static func header(count: Int, hasNull: Bool, elementType: UInt32) -> [UInt8] {
        var output: [UInt8] = []
        // An empty array has no dimensions.
        append(Int32(count == 0 ? 0 : 1), to: &output)
        append(Int32(hasNull ? 1 : 0), to: &output)
        append(elementType, to: &output)
        if count > 0 {
            append(Int32(count), to: &output)
            append(Int32(1), to: &output)  // lower bound
        }
        return output
    }

    private static func append(_ value: Int32, to output: inout [UInt8]) {
        append(UInt32(bitPattern: value), to: &output)
    }

    private static func append(_ value: UInt32, to output: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { output.append(contentsOf: $0) }
    }

    private static func append(_ value: UInt64, to output: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { output.append(contentsOf: $0) }
    }
}

/// Hex encoding for `bytea` values passed as text.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output = [UInt8](repeating: 0, count: bytes.count * 2)
        for (index, byte) in bytes.enumerated() {
            output[2 * index] = digits[Int(byte >> 4)]
            output[2 * index + 1] = digits[Int(byte & 0x0f)]
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// A `bytea` parameter in PostgreSQL's hex input format.
    static func bytea(_ bytes: [UInt8]) -> String { "\\x" + encode(bytes) }

    static func decodeBytea(_ text: String) -> [UInt8]? {
        var utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x") else { return nil }
        utf8.removeFirst(2)
        guard utf8.count % 2 == 0 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Array parameters in PostgreSQL's text array syntax, for `unnest($1::text[])` bulk statements.
enum PostgresArray {
    static func text(_ values: [String?]) -> String {
        // Byte-wise: a group's array holds every body of the group (hex, megabytes at times).
        var output: [UInt8] = [UInt8(ascii: "{")]
        output.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (index, value) in values.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            guard let value else {
                output.append(contentsOf: "NULL".utf8)
                continue
            }
            output.append(UInt8(ascii: "\""))
            for byte in value.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { output.append(UInt8(ascii: "\\")) }
                output.append(byte)
            }
            output.append(UInt8(ascii: "\""))
        }
        output.append(UInt8(ascii: "}"))
        return String(decoding: output, as: UTF8.self)
    }

    static func int64(_ values: [Int64?]) -> String {
        "{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}"
    }
}

extension Array where Element == String {
    fileprivate func withCStringArray<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let duplicates = map { strdup($0) }
        defer { duplicates.forEach { free($0) } }
        let pointers = duplicates.map { UnsafePointer($0) } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

extension Array where Element == [UInt8]? {
    /// Pointers to each buffer (NULL for `nil`), valid during `body`.
    fileprivate func withPointers<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies: [UnsafeMutablePointer<CChar>?] = map { buffer in
            guard let buffer else { return nil }
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: Swift.max(buffer.count, 1))
            buffer.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress { copy.update(from: base.assumingMemoryBound(to: CChar.self), count: buffer.count) }
            }
            return copy
        }
        defer { copies.forEach { $0?.deallocate() } }
        let pointers = copies.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

extension Array where Element == String? {
    fileprivate func withOptionalCStringArray<R>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let duplicates = map { value in value.map { strdup($0) } ?? nil }
        defer { duplicates.forEach { free($0) } }
        let pointers = duplicates.map { UnsafePointer($0) }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
