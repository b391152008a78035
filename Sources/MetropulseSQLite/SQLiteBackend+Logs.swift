import GRDB
import Logging
public import MetropulseCore

extension SQLiteBackend: LogStore {
    public func appendLogs(_ records: [LogRecord]) async throws {
        guard !records.isEmpty else { return }
        try await pool.write { db in
            let line = try db.cachedStatement(
                sql: """
                    INSERT INTO system_logs (at, service, instance, level, severity, logger, message, metadata)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let words = try db.cachedStatement(sql: "INSERT INTO system_logs_text (rowid, text) VALUES (?, ?)")
            for r in records {
                try line.execute(arguments: [
                    r.at, r.service, r.instance, r.level.rawValue, r.level.severity, r.logger, r.message,
                    r.metadataJSON,
                ])
                try words.execute(arguments: [db.lastInsertedRowID, r.searchText])
            }
        }
    }

    public func logs(_ query: LogQuery) async throws -> [LogRecord] {
        // Each word, or a word it begins, must occur; the words are letters and digits only.
        let match = query.terms.isEmpty ? nil : query.terms.map { "\"\($0)\"*" }.joined(separator: " AND ")
        let severity = query.minimumLevel?.severity
        var conditions: [String] = []
        if query.service != nil { conditions.append("(service = :service OR instance = :service)") }
        if severity != nil { conditions.append("severity >= :severity") }
        if query.since != nil { conditions.append("at >= :since") }
        if query.until != nil { conditions.append("at <= :until") }
        if match != nil {
            conditions.append("id IN (SELECT rowid FROM system_logs_text WHERE system_logs_text MATCH :match)")
        }
        let sql = """
            SELECT id, at, service, instance, level, logger, message, metadata FROM system_logs
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY at DESC, id DESC LIMIT :limit
            """
        return try await pool.read { db in
            var arguments: StatementArguments = ["limit": query.limit]
            if let service = query.service { arguments += ["service": service] }
            if let severity { arguments += ["severity": severity] }
            if let since = query.since { arguments += ["since": since] }
            if let until = query.until { arguments += ["until": until] }
            if let match { arguments += ["match": match] }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                LogRecord(
                    id: row[0], at: row[1], service: row[2], instance: row[3],
                    level: Logger.Level(rawValue: row[4]) ?? .info, logger: row[5], message: row[6],
                    metadata: LogRecord.metadata(fromJSON: row[7]))
            }
        }
    }

    @discardableResult
    public func pruneLogs(before: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM system_logs_text WHERE rowid IN (SELECT id FROM system_logs WHERE at < ?)",
                arguments: [before])
            try db.execute(sql: "DELETE FROM system_logs WHERE at < ?", arguments: [before])
            return db.changesCount
        }
    }
}
