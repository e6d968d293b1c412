import Foundation
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

    /// SQLITE_STATIC: SQLite reads the bytes in place, until the statement is bound again or
    /// its bindings are cleared; the caller keeps them alive and unchanged until then.
    private static let staticBytes: sqlite3_destructor_type? = nil

    /// An empty text must be bound through a non-null pointer, or SQLite stores NULL.
    private static let emptyText: StaticString = ""

    /// Binds the UTF-8 text at `span` of `bytes` without copying it (see `staticBytes`).
    func bindText(_ index: Int32, _ bytes: UnsafeRawBufferPointer, _ span: SQLiteEventStore.ByteSpan?) {
        guard let span else {
            sqlite3_bind_null(handle, index)
            return
        }
        guard span.count > 0, let base = bytes.baseAddress else {
            let empty = UnsafeRawPointer(Self.emptyText.utf8Start).assumingMemoryBound(to: CChar.self)
            sqlite3_bind_text(handle, index, empty, 0, RawStatement.staticBytes)
            return
        }
        sqlite3_bind_text(handle, index, (base + span.offset).assumingMemoryBound(to: CChar.self),
                          Int32(span.count), RawStatement.staticBytes)
    }

    /// Binds the blob at `span` of `bytes` without copying it (see `staticBytes`).
    func bindBlob(_ index: Int32, _ bytes: UnsafeRawBufferPointer, _ span: SQLiteEventStore.ByteSpan?) {
        guard let span else {
            sqlite3_bind_null(handle, index)
            return
        }
        guard span.count > 0, let base = bytes.baseAddress else {
            sqlite3_bind_zeroblob(handle, index, 0)
            return
        }
        sqlite3_bind_blob(handle, index, base + span.offset, Int32(span.count), RawStatement.staticBytes)
    }

    /// Forgets every binding, so that none points into memory about to be freed.
    func clearBindings() {
        sqlite3_clear_bindings(handle)
    }

    /// Runs a query and says whether the first column of its first row is the UTF-8 text at
    /// `offset` of `bytes` (false without a row).
    func firstTextEquals(_ bytes: UnsafeRawBufferPointer, _ offset: Int, _ count: Int) throws -> Bool {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        switch code {
        case SQLITE_ROW:
            guard let text = sqlite3_column_text(handle, 0) else { return false }
            guard Int(sqlite3_column_bytes(handle, 0)) == count else { return false }
            guard count > 0, let base = bytes.baseAddress else { return true }
            return memcmp(text, base + offset, count) == 0
        case SQLITE_DONE:
            return false
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
