import GRDB
public import MetropulseCore

extension SQLiteBackend: StoreAuditing {
    public func audit(now: Int64, graceMillis: Int64) async throws -> StoreAudit {
        try await pool.read { db in
            var audit = StoreAudit()
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) FROM tasks GROUP BY state") {
                audit.tasks[row[0]] = row[1]
            }
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) FROM task_runs GROUP BY status") {
                audit.runs[row[0]] = row[1]
            }
            audit.rawRows =
                try Int.fetchOne(
                    db, sql: "SELECT (SELECT count(*) FROM station_blocks) + (SELECT count(*) FROM measurements)")
                ?? 0
            audit.slotsWrittenTwice = try String.fetchAll(db, sql: StoreAuditSQL.slotsWrittenTwice)
            audit.orphanRawRuns = try String.fetchAll(db, sql: StoreAuditSQL.orphanRawRuns)
            audit.succeededWithoutRun = try String.fetchAll(db, sql: StoreAuditSQL.succeededWithoutRun)
            audit.stuckTasks = try String.fetchAll(
                db, sql: StoreAuditSQL.stuckTasks, arguments: [now - graceMillis, now - graceMillis])
            let findings = try String.fetchAll(db, sql: "PRAGMA quick_check")
            audit.integrity = findings == ["ok"] ? "ok" : findings.prefix(5).joined(separator: "; ")
            return audit
        }
    }
}

/// The audit's queries on SQLite (each lists at most 100); `PostgresBackend+Audit` has the same
/// queries in PostgreSQL's dialect.
enum StoreAuditSQL {
    static let slotsWrittenTwice = """
        SELECT job_id FROM task_runs WHERE status <> 'failed' GROUP BY job_id HAVING count(*) > 1
        ORDER BY job_id LIMIT 100
        """
    static let orphanRawRuns = """
        SELECT run_id FROM (
            SELECT DISTINCT run_id FROM station_blocks
            WHERE fetched_at >= (SELECT min(started_at) FROM task_runs)
            UNION
            SELECT DISTINCT run_id FROM measurements
            WHERE fetched_at >= (SELECT min(started_at) FROM task_runs)
        ) raw
        WHERE NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.id = raw.run_id AND r.status <> 'failed')
        ORDER BY run_id LIMIT 100
        """
    static let succeededWithoutRun = """
        SELECT t.job_id FROM tasks t
        WHERE t.state = 'succeeded' AND t.finished_at >= (SELECT min(finished_at) FROM task_runs)
            AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.job_id = t.job_id AND r.status <> 'failed')
        ORDER BY t.job_id LIMIT 100
        """
    /// Parameters: the due cut-off, the lease cut-off (both now minus the grace).
    static let stuckTasks = """
        SELECT job_id FROM tasks
        WHERE (state IN ('queued', 'retrying') AND run_at < ?) OR (state = 'running' AND lease_expires_at < ?)
        ORDER BY job_id LIMIT 100
        """
}
