import Foundation
public import MetropulseCore
import NIOCore
import PostgresNIO

extension PostgresBackend: QualityStore {
    private static func qualityResults(_ rows: PostgresRowSequence) async throws -> [QualityResult] {
        var results: [QualityResult] = []
        for try await row in rows.decode((Int64, String, String, String, Int32, Int32, String, String).self) {
            let samples = try? JSONDecoder().decode([String].self, from: Data(row.7.utf8))
            results.append(
                QualityResult(
                    check: row.1, sourceID: row.2, severity: QualityResult.Severity(rawValue: row.3) ?? .warning,
                    count: Int(row.4), total: Int(row.5), detail: row.6, samples: samples ?? [], at: row.0))
        }
        return results
    }

    public func recordQualityResults(_ results: [QualityResult]) async throws {
        guard !results.isEmpty else { return }
        let samples = try results.map { String(decoding: try JSONEncoder().encode($0.samples), as: UTF8.self) }
        try await client.query(
            """
            INSERT INTO quality_results (at, check_name, source_id, severity, count, total, detail, samples)
            SELECT * FROM UNNEST(
                \(results.map(\.at))::bigint[], \(results.map(\.check))::text[], \(results.map(\.sourceID))::text[],
                \(results.map(\.severity.rawValue))::text[], \(results.map { Int32(clamping: $0.count) })::integer[],
                \(results.map { Int32(clamping: $0.total) })::integer[], \(results.map(\.detail))::text[],
                \(samples)::text[])
            ON CONFLICT (check_name, source_id, at) DO UPDATE SET severity = excluded.severity,
                count = excluded.count, total = excluded.total, detail = excluded.detail, samples = excluded.samples
            """, logger: logger)
    }

    public func qualityResults(_ query: QualityQuery) async throws -> [QualityResult] {
        try await Self.qualityResults(
            try await client.query(
                """
                SELECT at, check_name, source_id, severity, count, total, detail, samples FROM quality_results
                WHERE (\(query.check)::text IS NULL OR check_name = \(query.check))
                    AND (\(query.sourceID)::text IS NULL OR source_id = \(query.sourceID))
                    AND at >= \(query.since ?? Int64.min) AND at <= \(query.until ?? Int64.max)
                ORDER BY at DESC, check_name, source_id LIMIT \(max(0, query.limit))
                """, logger: logger))
    }

    public func latestQualityResults() async throws -> [QualityResult] {
        try await Self.qualityResults(
            try await client.query(
                """
                SELECT DISTINCT ON (check_name, source_id)
                    at, check_name, source_id, severity, count, total, detail, samples
                FROM quality_results ORDER BY check_name, source_id, at DESC
                """, logger: logger))
    }

    public func pruneQualityResults(before: Int64) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM quality_results WHERE at < \(before) RETURNING 1", logger: logger)
        {
            count += 1
        }
        return count
    }

    public func runTotals(since: Int64) async throws -> [SourceRunTotals] {
        var totals: [SourceRunTotals] = []
        for try await row in try await client.query(
            """
            SELECT source_id, count(*)::bigint, count(*) FILTER (WHERE status = 'failed')::bigint,
                COALESCE(sum(entity_count), 0)::bigint, COALESCE(sum(rejected_count), 0)::bigint
            FROM task_runs WHERE finished_at >= \(since) GROUP BY source_id ORDER BY source_id
            """, logger: logger
        ).decode((String, Int64, Int64, Int64, Int64).self) {
            totals.append(
                SourceRunTotals(
                    sourceID: row.0, runs: Int(row.1), failed: Int(row.2), entities: Int(row.3), rejected: Int(row.4)))
        }
        return totals
    }

    public func runsWithRejections(since: Int64, limit: Int) async throws -> [TaskRun] {
        try await runs(
            try await client.query(
                """
                SELECT \(unescaped: Self.runColumns) FROM task_runs
                WHERE finished_at >= \(since) AND rejections IS NOT NULL
                ORDER BY finished_at DESC, id DESC LIMIT \(max(0, limit))
                """, logger: logger))
    }
}
