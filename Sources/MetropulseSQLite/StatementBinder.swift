package import GRDB
import GRDBSQLite

/// Binds values straight to a prepared statement and steps it: the ingest hot path, where boxing
/// every value in `StatementArguments` cost more than the insert itself.
/// `package`: the benchmarks' bare-insert baseline binds its rows the same way.
package struct StatementBinder {
    fileprivate let statement: OpaquePointer
    private let connection: OpaquePointer?
    fileprivate var position: Int32 = 1

    package init(_ statement: Statement, in db: Database) {
        self.statement = statement.sqliteStatement
        self.connection = db.sqliteConnection
    }

    /// SQLite copies the text before `bind` returns.
    fileprivate static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    package mutating func bind(_ value: String) {
        sqlite3_bind_text(statement, position, value, -1, Self.transient)
        position += 1
    }

    package mutating func bind(_ value: String?) {
        if let value { bind(value) } else { bindNull() }
    }

    package mutating func bind(_ value: Int64) {
        sqlite3_bind_int64(statement, position, value)
        position += 1
    }

    package mutating func bind(_ value: Int) { bind(Int64(value)) }

    package mutating func bind(_ value: Int?) {
        if let value { bind(Int64(value)) } else { bindNull() }
    }

    package mutating func bind(_ value: Bool) { bind(Int64(value ? 1 : 0)) }

    package mutating func bind(_ value: Double?) {
        if let value {
            sqlite3_bind_double(statement, position, value)
            position += 1
        } else {
            bindNull()
        }
    }

    package mutating func bindNull() {
        sqlite3_bind_null(statement, position)
        position += 1
    }

    /// Runs the statement once and resets it for the next row.
    package mutating func step() throws {
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        position = 1
        guard code == SQLITE_DONE else {
            let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
    }
}

extension StatementBinder {
    package mutating func bind(_ value: [UInt8]) {
        value.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(statement, position, bytes.baseAddress, Int32(bytes.count), Self.transient)
        }
        position += 1
    }
}
