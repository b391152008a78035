import GRDB
public import MetropulseCore

extension SQLiteBackend: Store {
    public func write(_ results: [RunResult]) async throws {
        guard !results.isEmpty else { return }
        defer { writes.bump() }
        try await pool.write { [latestCache] db in
            try SQLiteBackend.writeResults(results, finishingTasks: false, cache: latestCache, in: db)
        }
    }

    /// Writes runs, raw and latest observations, source bookkeeping and (optionally) task outcomes.
    /// When finishing tasks, outcomes are applied first: an attempt whose lease passed to a later
    /// attempt writes only its (failed) run record.
    static func writeResults(
        _ results: [RunResult], finishingTasks: Bool, cache: LatestStationCache, in db: Database
    ) throws {
        var results = results
        if finishingTasks {
            results = RunResult.settled(results, applied: try applyOutcomes(results.compactMap(\.outcome), in: db))
        }
        for result in results {
            if result.recordsRun { try insertRun(result.run, in: db) }
            let (batch, run) = (result.observations, result.run)
            // Every family has its writer here: a new one fails to compile until it has.
            for family in batch.families {
                switch family {
                case .stations:
                    try writeStations(
                        batch.stations, fetchedAt: run.finishedAt, runID: run.id, cache: cache, in: db)
                case .measurements:
                    try writeMeasurements(batch.measurements, fetchedAt: run.finishedAt, runID: run.id, in: db)
                case .transit:
                    try writeTransit(batch, sourceID: run.sourceID, fetchedAt: run.finishedAt, runID: run.id, in: db)
                }
            }
        }
        try updateSourceStates(results.filter(\.recordsRun).map(\.run), in: db)
    }

    static func insertRun(_ run: TaskRun, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO task_runs (id, job_id, task_id, source_id, attempt, worker_id, status,
                    started_at, finished_at, duration_ms, url, http_status, bytes, entity_count, rejected_count,
                    content_hash, feed_timestamp, error_kind, error_message, rejections)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            run.id, run.jobID, run.taskID, run.sourceID, run.attempt, run.workerID, run.status.rawValue,
            run.startedAt, run.finishedAt, run.durationMillis, run.url, run.httpStatus, run.bytes, run.entityCount,
            run.rejectedCount, run.contentHash, run.feedTimestamp, run.errorKind?.rawValue, run.errorMessage,
            RejectionsColumn.encode(run.rejections),
        ])
    }

    /// One upsert per source for a batch of runs.
    static func updateSourceStates(_ runs: [TaskRun], in db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO source_state (source_id, last_run_at, last_run_status, last_success_at, last_error,
                    last_feed_timestamp)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(source_id) DO UPDATE SET
                    last_run_at = MAX(COALESCE(last_run_at, 0), excluded.last_run_at),
                    last_run_status = CASE WHEN excluded.last_run_at >= COALESCE(last_run_at, 0)
                        THEN excluded.last_run_status ELSE last_run_status END,
                    last_success_at = CASE WHEN excluded.last_success_at IS NULL THEN last_success_at
                        ELSE MAX(COALESCE(last_success_at, 0), excluded.last_success_at) END,
                    last_error = COALESCE(excluded.last_error, last_error),
                    last_feed_timestamp = COALESCE(excluded.last_feed_timestamp, last_feed_timestamp)
                """)
        for summary in SourceRunSummary.fold(runs) {
            try statement.execute(arguments: [
                summary.sourceID, summary.lastRunAt, summary.lastRunStatus.rawValue, summary.lastSuccessAt,
                summary.lastError, summary.lastFeedTimestamp,
            ])
        }
    }

    static let runColumns = """
        id, job_id, task_id, source_id, attempt, worker_id, status, started_at, finished_at, url, http_status,
        bytes, entity_count, rejected_count, content_hash, feed_timestamp, error_kind, error_message, rejections
        """

    static func taskRun(_ row: Row) -> TaskRun {
        var run = TaskRun(
            id: row[0], jobID: row[1], taskID: row[2], sourceID: row[3], attempt: row[4], workerID: row[5],
            status: TaskRunStatus(rawValue: row[6]) ?? .failed, startedAt: row[7], finishedAt: row[8], url: row[9],
            httpStatus: row[10], bytes: row[11], entityCount: row[12], rejectedCount: row[13], contentHash: row[14],
            feedTimestamp: row[15], errorKind: FetchErrorKind.stored(row[16] as String?),
            errorMessage: row[17])
        run.rejections = RejectionsColumn.decode(row[18])
        return run
    }

    public func taskRuns(_ query: TaskRunQuery) async throws -> [TaskRun] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let status = query.status {
                clauses.append("status = ?")
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            if let sourceID = query.sourceID {
                clauses.append("source_id = ?")
                _ = arguments.append(contentsOf: [sourceID])
            }
            if let since = query.since {
                clauses.append("finished_at >= ?")
                _ = arguments.append(contentsOf: [since])
            }
            if let jobID = query.jobID {
                clauses.append("job_id = ?")
                _ = arguments.append(contentsOf: [jobID])
            }
            _ = arguments.append(contentsOf: [query.limit])
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            return try Row.fetchAll(
                db,
                sql:
                    "SELECT \(Self.runColumns) FROM task_runs \(whereClause) ORDER BY finished_at DESC, id DESC LIMIT ?",
                arguments: arguments
            ).map(Self.taskRun)
        }
    }

    public func taskRun(id: String) async throws -> TaskRun? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.runColumns) FROM task_runs WHERE id = ?", arguments: [id])
                .map(Self.taskRun)
        }
    }

    public var runsWritten: UInt64 { writes.value }

    public func sourceStates() async throws -> [SourceState] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, last_slot_at, next_run_at, last_run_at, last_run_status, last_success_at,
                        last_error, last_feed_timestamp FROM source_state ORDER BY source_id
                    """
            ).map { row in
                SourceState(
                    sourceID: row[0], lastSlotAt: row[1], nextRunAt: row[2], lastRunAt: row[3],
                    lastRunStatus: (row[4] as String?).flatMap(TaskRunStatus.init(rawValue:)), lastSuccessAt: row[5],
                    lastError: row[6], lastFeedTimestamp: row[7])
            }
        }
    }

    public func recordScheduled(_ slots: [ScheduledSlot]) async throws {
        guard !slots.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO source_state (source_id, last_slot_at, next_run_at) VALUES (?, ?, ?)
                    ON CONFLICT(source_id) DO UPDATE SET
                        last_slot_at = MAX(COALESCE(last_slot_at, 0), excluded.last_slot_at),
                        next_run_at = excluded.next_run_at
                    """)
            for slot in slots {
                try statement.execute(arguments: [slot.sourceID, slot.slotAt, slot.nextRunAt])
            }
        }
    }

    public func upsertHeartbeat(_ h: WorkerHeartbeat) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO worker_heartbeats (worker_id, host, pid, status, concurrency, in_flight,
                        processed, failed, fetch_rate, errors_last_minute, cpu_seconds, memory_bytes, started_at,
                        last_seen_at, partitions)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    h.workerID, h.host, h.pid, h.status.rawValue, h.concurrency, h.inFlight, h.processed, h.failed,
                    h.fetchRate, h.errorsLastMinute, h.cpuSeconds, h.memoryBytes, h.startedAt, h.lastSeenAt,
                    h.partitions.joined(separator: ","),
                ])
        }
    }

    public func recordLeadership(_ l: SchedulerLeadership) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO scheduler_leader (singleton, scheduler_id, host, pid, since, renewed_at)
                    VALUES (1, ?, ?, ?, ?, ?)
                    """, arguments: [l.schedulerID, l.host, l.pid, l.since, l.renewedAt])
        }
    }

    public func leadership() async throws -> SchedulerLeadership? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT scheduler_id, host, pid, since, renewed_at FROM scheduler_leader WHERE singleton = 1"
            ).map { row in
                SchedulerLeadership(schedulerID: row[0], host: row[1], pid: row[2], since: row[3], renewedAt: row[4])
            }
        }
    }

    @discardableResult
    public func prune(runsBefore: Int64, heartbeatsBefore: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM task_runs WHERE finished_at < ?", arguments: [runsBefore])
            var count = db.changesCount
            try db.execute(sql: "DELETE FROM worker_heartbeats WHERE last_seen_at < ?", arguments: [heartbeatsBefore])
            count += db.changesCount
            return count
        }
    }

    public func heartbeats() async throws -> [WorkerHeartbeat] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT worker_id, host, pid, status, concurrency, in_flight, processed, failed, fetch_rate,
                        errors_last_minute, cpu_seconds, memory_bytes, started_at, last_seen_at, partitions
                    FROM worker_heartbeats ORDER BY last_seen_at DESC
                    """
            ).map { row in
                WorkerHeartbeat(
                    workerID: row[0], host: row[1], pid: row[2], status: WorkerStatus(rawValue: row[3]) ?? .running,
                    concurrency: row[4], inFlight: row[5], processed: row[6], failed: row[7], fetchRate: row[8],
                    errorsLastMinute: row[9], cpuSeconds: row[10], memoryBytes: row[11], startedAt: row[12],
                    lastSeenAt: row[13], partitions: partitionList(row[14]))
            }
        }
    }
}

/// A heartbeat's partitions column: comma-separated `topic/partition`.
func partitionList(_ column: String) -> [String] {
    column.split(separator: ",").map(String.init)
}
