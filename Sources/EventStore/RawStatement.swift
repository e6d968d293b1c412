import GRDB
import GRDBSQLite

/// Direct binding and stepping of a GRDB cached statement, for the ingest hot path.
///
/// GRDB's `StatementArguments` allocate per execution; at 100,000 events/s the write path
/// binds straight through the C API instead. Only used inside a transaction GRDB opened, on
/// the writer connection, and always left reset.
struct RawStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer

    init(_ database: Database, sql: String) throws {
        let statement = try database.cachedStatement(sql: sql)
        handle = statement.sqliteStatement
        connection = database.sqliteConnection!
    }

    /// SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: String?) {
        guard var value else {
            sqlite3_bind_null(handle, index)
            return
        }
        value.withUTF8 { bytes in
            _ = sqlite3_bind_text(handle, index, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                  Int32(bytes.count), RawStatement.transient)
        }
    }

    func bind(_ index: Int32, _ value: [UInt8]?) {
        guard let value else {
            sqlite3_bind_null(handle, index)
            return
        }
        if value.isEmpty {
            sqlite3_bind_zeroblob(handle, index, 0)
            return
        }
        value.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), RawStatement.transient)
        }
    }

    /// Runs a query and returns the first column of its first row as text, if any.
    func firstText() throws -> String? {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        switch code {
        case SQLITE_ROW:
            guard let text = sqlite3_column_text(handle, 0) else { return nil }
            return String(cString: text)
        case SQLITE_DONE:
            return nil
        default:
            throw DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                                message: String(cString: sqlite3_errmsg(connection)))
        }
    }

    /// Runs the statement to completion and returns the number of rows it changed.
    @discardableResult
    func run() throws -> Int {
        let code = sqlite3_step(handle)
        if code != SQLITE_DONE && code != SQLITE_ROW {
            let message = String(cString: sqlite3_errmsg(connection))
            let extended = sqlite3_extended_errcode(connection)
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: extended), message: message)
        }
        sqlite3_reset(handle)
        return Int(sqlite3_changes(connection))
    }
}
