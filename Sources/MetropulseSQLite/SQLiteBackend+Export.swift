import GRDB
public import MetropulseCore

extension SQLiteBackend: ExportStore {
    public func exportCount(_ table: ExportTable, filter: ExportFilter) async throws -> Int {
        let (filterSQL, arguments) = Self.exportFilter(table, filter, after: nil)
        return try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.name) \(filterSQL)", arguments: arguments) ?? 0
        }
    }

    public func exportRows(_ table: ExportTable, filter: ExportFilter, after: [ExportValue]?, limit: Int) async throws
        -> [[ExportValue]]
    {
        var (filterSQL, arguments) = Self.exportFilter(table, filter, after: after)
        let sql = """
            SELECT \(table.columns.map(\.name).joined(separator: ", ")) FROM \(table.name) \(filterSQL)
            ORDER BY \(table.key.joined(separator: ", ")) LIMIT ?
            """
        _ = arguments.append(contentsOf: [max(0, limit)])
        let types = table.columns.map(\.type)
        let bound = arguments
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: bound).map { row in
                types.indices.map { index in
                    let value: DatabaseValue = row[index]
                    switch value.storage {
                    case .null: return .null
                    case .int64(let v): return types[index] == .real ? .real(Double(v)) : .int(v)
                    case .double(let v): return types[index] == .int ? .int(Int64(exactly: v.rounded()) ?? 0) : .real(v)
                    case .string(let v): return .text(v)
                    case .blob(let data): return .text(String(decoding: data, as: UTF8.self))
                    }
                }
            }
        }
    }

    private static func exportFilter(_ table: ExportTable, _ filter: ExportFilter, after: [ExportValue]?) -> (
        String, StatementArguments
    ) {
        var clauses: [String] = []
        var arguments: StatementArguments = []
        if let source = filter.sourceID {
            clauses.append("\(table.sourceColumn) = ?")
            _ = arguments.append(contentsOf: [source])
        }
        if let since = filter.since {
            clauses.append("\(table.timeColumn) >= ?")
            _ = arguments.append(contentsOf: [since])
        }
        if let until = filter.until {
            clauses.append("\(table.timeColumn) < ?")
            _ = arguments.append(contentsOf: [until])
        }
        if let after, after.count == table.key.count {
            clauses.append(
                "(\(table.key.joined(separator: ", "))) > (\(table.key.map { _ in "?" }.joined(separator: ", ")))")
            for value in after { _ = arguments.append(contentsOf: [Self.databaseValue(value)]) }
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), arguments)
    }

    private static func databaseValue(_ value: ExportValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .int(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .text(let v): v.databaseValue
        }
    }
}
