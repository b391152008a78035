import Foundation
import Logging
public import MetropulseCore
import PostgresNIO

extension PostgresBackend: LogStore {
    public func appendLogs(_ records: [LogRecord]) async throws {
        guard !records.isEmpty else { return }
        // PostgreSQL text holds no NUL character.
        func text(_ value: String) -> String { value.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") }
        let ats = records.map(\.at)
        let services = records.map { text($0.service) }
        let instances = records.map { text($0.instance) }
        let levels = records.map(\.level.rawValue)
        let severities = records.map(\.level.severity)
        let loggers = records.map { text($0.logger) }
        let messages = records.map { text($0.message) }
        let metadata = records.map { text($0.metadataJSON) }
        let words = records.map { text($0.searchText) }
        try await client.query(
            """
            INSERT INTO system_logs (at, service, instance, level, severity, logger, message, metadata, words)
            SELECT at, service, instance, level, severity, logger, message, metadata, to_tsvector('simple', words)
            FROM UNNEST(\(ats)::BIGINT[], \(services)::TEXT[], \(instances)::TEXT[], \(levels)::TEXT[],
                \(severities)::BIGINT[], \(loggers)::TEXT[], \(messages)::TEXT[], \(metadata)::TEXT[],
                \(words)::TEXT[]) AS l(at, service, instance, level, severity, logger, message, metadata, words)
            """, logger: logger)
    }

    public func logs(_ query: LogQuery) async throws -> [LogRecord] {
        // Each word, or a word it begins, must occur; the words are letters and digits only.
        let search = query.terms.isEmpty ? nil : query.terms.map { "\($0):*" }.joined(separator: " & ")
        var records: [LogRecord] = []
        for try await row in try await client.query(
            """
            SELECT id, at, service, instance, level, logger, message, metadata FROM system_logs
            WHERE (\(query.service)::text IS NULL OR service = \(query.service) OR instance = \(query.service))
                AND severity >= \(query.minimumLevel?.severity ?? 0)
                AND at >= \(query.since ?? Int64.min) AND at <= \(query.until ?? Int64.max)
                AND (\(search)::text IS NULL OR words @@ to_tsquery('simple', \(search)))
            ORDER BY at DESC, id DESC LIMIT \(query.limit)
            """, logger: logger)
        {
            let (id, at, service, instance, level, label, message, metadata) = try row.decode(
                (Int64, Int64, String, String, String, String, String, String).self)
            records.append(
                LogRecord(
                    id: id, at: at, service: service, instance: instance, level: .init(rawValue: level) ?? .info,
                    logger: label, message: message, metadata: LogRecord.metadata(fromJSON: metadata)))
        }
        return records
    }

    @discardableResult
    public func pruneLogs(before: Int64) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM system_logs WHERE at < \(before) RETURNING 1", logger: logger)
        {
            count += 1
        }
        return count
    }
}
