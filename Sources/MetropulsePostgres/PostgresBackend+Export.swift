public import MetropulseCore
import PostgresNIO

extension PostgresBackend: ExportStore {
    public func exportCount(_ table: ExportTable, filter: ExportFilter) async throws -> Int {
        let (filterSQL, bindings) = try Self.exportFilter(table, filter, after: nil)
        let sql = "SELECT count(*)::bigint FROM \(table.name) \(filterSQL)"
        for try await count in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            .decode(Int64.self)
        {
            return Int(count)
        }
        return 0
    }

    public func exportRows(_ table: ExportTable, filter: ExportFilter, after: [ExportValue]?, limit: Int) async throws
        -> [[ExportValue]]
    {
        let (filterSQL, bindings) = try Self.exportFilter(table, filter, after: after)
        let columns = table.columns.map { column in
            switch column.type {
            case .text: "\(column.name)::text"
            case .int: "\(column.name)::bigint"
            case .real: "\(column.name)::float8"
            }
        }
        let sql = """
            SELECT \(columns.joined(separator: ", ")) FROM \(table.name) \(filterSQL)
            ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(max(0, limit))
            """
        var rows: [[ExportValue]] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            let cells = row.makeRandomAccess()
            var values: [ExportValue] = []
            values.reserveCapacity(table.columns.count)
            for (index, column) in table.columns.enumerated() {
                switch column.type {
                case .text: values.append(try cells[index].decode(String?.self).map { .text($0) } ?? .null)
                case .int: values.append(try cells[index].decode(Int64?.self).map { .int($0) } ?? .null)
                case .real: values.append(try cells[index].decode(Double?.self).map { .real($0) } ?? .null)
                }
            }
            rows.append(values)
        }
        return rows
    }

    private static func exportFilter(_ table: ExportTable, _ filter: ExportFilter, after: [ExportValue]?) throws -> (
        String, PostgresBindings
    ) {
        var bindings = PostgresBindings()
        var clauses: [String] = []
        func parameter(_ value: ExportValue) throws -> String {
            switch value {
            case .null: bindings.appendNull()
            case .int(let v): bindings.append(v)
            case .real(let v): bindings.append(v)
            case .text(let v): bindings.append(v)
            }
            return "$\(bindings.count)"
        }
        if let source = filter.sourceID {
            clauses.append("\(table.sourceColumn) = \(try parameter(.text(source)))")
        }
        if let since = filter.since { clauses.append("\(table.timeColumn) >= \(try parameter(.int(since)))") }
        if let until = filter.until { clauses.append("\(table.timeColumn) < \(try parameter(.int(until)))") }
        if let after, after.count == table.key.count {
            let values = try after.map(parameter)
            clauses.append("(\(table.key.joined(separator: ", "))) > (\(values.joined(separator: ", ")))")
        }
        return (clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND "), bindings)
    }
}
