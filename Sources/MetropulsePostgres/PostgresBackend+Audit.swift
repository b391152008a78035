public import MetropulseCore
import PostgresNIO

extension PostgresBackend: StoreAuditing {
    public func audit(now: Int64, graceMillis: Int64) async throws -> StoreAudit {
        var audit = StoreAudit()
        for try await (state, count) in try await client.query(
            "SELECT state, count(*)::bigint FROM tasks GROUP BY state", logger: logger
        ).decode((String, Int).self) {
            audit.tasks[state] = count
        }
        for try await (status, count) in try await client.query(
            "SELECT status, count(*)::bigint FROM task_runs GROUP BY status", logger: logger
        ).decode((String, Int).self) {
            audit.runs[status] = count
        }
        for try await count in try await client.query(
            "SELECT (SELECT count(*) FROM station_blocks) + (SELECT count(*) FROM measurements)", logger: logger
        ).decode(Int.self) {
            audit.rawRows = count
        }
        let cutoff = now - graceMillis
        audit.slotsWrittenTwice = try await strings(
            """
            SELECT job_id FROM task_runs WHERE status <> 'failed'
            GROUP BY job_id HAVING count(*) > 1 ORDER BY job_id LIMIT 100
            """)
        // Raw rows since the oldest kept run whose run is not a run record that did not fail.
        audit.orphanRawRuns = try await strings(
            """
            WITH oldest AS (SELECT min(started_at) AS at FROM task_runs),
            raw AS (
                SELECT DISTINCT run_id FROM station_blocks, oldest WHERE fetched_at >= oldest.at
                UNION SELECT DISTINCT run_id FROM measurements, oldest WHERE fetched_at >= oldest.at)
            SELECT raw.run_id FROM raw
            WHERE NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.id = raw.run_id AND r.status <> 'failed')
            ORDER BY raw.run_id LIMIT 100
            """)
        audit.succeededWithoutRun = try await strings(
            """
            SELECT t.job_id FROM tasks t
            WHERE t.state = 'succeeded' AND t.finished_at >= (SELECT min(finished_at) FROM task_runs)
                AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.job_id = t.job_id AND r.status <> 'failed')
            ORDER BY t.job_id LIMIT 100
            """)
        audit.stuckTasks = try await strings(
            """
            SELECT job_id FROM tasks
            WHERE (state IN ('queued', 'retrying') AND run_at < \(cutoff))
                OR (state = 'running' AND lease_expires_at < \(cutoff))
            ORDER BY job_id LIMIT 100
            """)
        return audit
    }

    private func strings(_ query: PostgresQuery) async throws -> [String] {
        var values: [String] = []
        for try await value in try await client.query(query, logger: logger).decode(String.self) {
            values.append(value)
        }
        return values
    }
}
