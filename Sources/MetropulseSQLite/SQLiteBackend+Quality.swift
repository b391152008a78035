import Foundation
import GRDB
public import MetropulseCore

extension SQLiteBackend: QualityStore {
    private static let qualityColumns = "at, check_name, source_id, severity, count, total, detail, samples"

    private static func qualityResult(_ row: Row) -> QualityResult {
        let samples = (row[7] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        return QualityResult(
            check: row[1], sourceID: row[2], severity: QualityResult.Severity(rawValue: row[3]) ?? .warning,
            count: row[4], total: row[5], detail: row[6], samples: samples ?? [], at: row[0])
    }

    public func recordQualityResults(_ results: [QualityResult]) async throws {
        guard !results.isEmpty else { return }
        try await pool.write { db in
            let insert = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO quality_results (\(Self.qualityColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            for result in results {
                let samples = String(decoding: try JSONEncoder().encode(result.samples), as: UTF8.self)
                try insert.execute(arguments: [
                    result.at, result.check, result.sourceID, result.severity.rawValue, result.count, result.total,
                    result.detail, samples,
                ])
            }
        }
    }

    public func qualityResults(_ query: QualityQuery) async throws -> [QualityResult] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.qualityColumns) FROM quality_results
                    WHERE (?1 IS NULL OR check_name = ?1) AND (?2 IS NULL OR source_id = ?2)
                        AND at >= ?3 AND at <= ?4
                    ORDER BY at DESC, check_name, source_id LIMIT ?5
                    """,
                arguments: [
                    query.check, query.sourceID, query.since ?? Int64.min, query.until ?? Int64.max,
                    max(0, query.limit),
                ]
            ).map(Self.qualityResult)
        }
    }

    public func latestQualityResults() async throws -> [QualityResult] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.qualityColumns) FROM quality_results q
                    WHERE at = (SELECT MAX(at) FROM quality_results l
                        WHERE l.check_name = q.check_name AND l.source_id = q.source_id)
                    ORDER BY check_name, source_id
                    """
            ).map(Self.qualityResult)
        }
    }

    public func pruneQualityResults(before: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM quality_results WHERE at < ?", arguments: [before])
            return db.changesCount
        }
    }

    public func runTotals(since: Int64) async throws -> [SourceRunTotals] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, COUNT(*), SUM(status = 'failed'), SUM(entity_count), SUM(rejected_count)
                    FROM task_runs WHERE finished_at >= ? GROUP BY source_id ORDER BY source_id
                    """, arguments: [since]
            ).map { row in
                SourceRunTotals(
                    sourceID: row[0], runs: row[1], failed: row[2] ?? 0, entities: row[3] ?? 0, rejected: row[4] ?? 0)
            }
        }
    }

    public func runsWithRejections(since: Int64, limit: Int) async throws -> [TaskRun] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.runColumns) FROM task_runs
                    WHERE finished_at >= ? AND rejections IS NOT NULL
                    ORDER BY finished_at DESC, id DESC LIMIT ?
                    """, arguments: [since, max(0, limit)]
            ).map(Self.taskRun)
        }
    }
}
