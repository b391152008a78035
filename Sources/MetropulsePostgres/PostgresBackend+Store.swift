import Foundation
import Logging
public import MetropulseCore
import PostgresNIO

extension PostgresBackend: Store {
    public func write(_ results: [RunResult]) async throws {
        guard !results.isEmpty else { return }
        try await Self.commit(
            results, finishingTasks: false, cache: latestCache, commits: oneStatementCommits, client: client,
            logger: logger)
    }

    /// When finishing tasks, outcomes are applied first (with the run records and source states,
    /// in one statement): an attempt whose lease passed to a later attempt writes only its (failed)
    /// run record.
    static func writeResults(
        _ results: [RunResult], finishingTasks: Bool, cache: LatestStationCache, on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        var results = results
        var recorded = false
        if finishingTasks {
            let outcomes = results.compactMap(\.outcome)
            let applied = try await finishTasks(results, on: connection, logger: logger)
            results = RunResult.settled(results, applied: applied)
            recorded = applied.count == outcomes.count
        }
        // Run records not written with the outcomes go with the station blocks, if there are any.
        let runs = recorded ? [] : results.filter(\.recordsRun).map(\.run)
        if try await writeStations(results, runs: runs, cache: cache, on: connection, logger: logger) {
            recorded = true
        }
        for result in results where !result.observations.measurements.isEmpty {
            try await writeMeasurements(
                result.observations.measurements, fetchedAt: result.run.finishedAt, runID: result.run.id,
                on: connection, logger: logger)
        }
        for result in results where result.observations.hasTransit {
            try await writeTransit(
                result.observations, sourceID: result.run.sourceID, fetchedAt: result.run.finishedAt,
                runID: result.run.id, on: connection, logger: logger)
        }
        if !recorded { try await recordRuns(runs, on: connection, logger: logger) }
    }

    /// One row per run id (the last one), so an upsert never touches a row twice.
    static func lastPerID<T>(_ items: [T], id: (T) -> String) -> [T] {
        var seen = Set<String>()
        return items.reversed().filter { seen.insert(id($0)).inserted }
    }

    static func lastPerRunID(_ runs: [TaskRun]) -> [TaskRun] { lastPerID(runs, id: \.id) }

    /// Applies the outcomes and writes the run records of the attempts that still held their
    /// leases, and the source states when all of them did, in one statement; returns the attempts
    /// applied. Whatever it did not write, `writeResults` writes from the settled results.
    static func finishTasks(_ results: [RunResult], on connection: PostgresConnection, logger: Logger) async throws
        -> Set<TaskOutcome.Attempt>
    {
        let outcomes = results.compactMap(\.outcome)
        let recorded = lastPerID(results.filter(\.recordsRun), id: \.run.id)
        guard !outcomes.isEmpty || !recorded.isEmpty else { return [] }
        let statement = PostgresQueueStatements.FinishTasks(
            outcomes: OutcomeColumns(outcomes),
            runs: RunColumns(recorded.map(\.run), fences: recorded.map { $0.outcome?.attemptKey }),
            states: StateColumns(SourceRunSummary.fold(results.filter(\.recordsRun).map(\.run))))
        var applied = Set<TaskOutcome.Attempt>()
        for try await (id, attempt) in try await connection.execute(statement, logger: logger) {
            applied.insert(TaskOutcome.Attempt(taskID: id, attempt: attempt))
        }
        return applied
    }

    /// All run records of a commit and the upsert of each source's state, in one prepared statement,
    /// so a commit spends one round trip on them.
    static func recordRuns(_ runs: [TaskRun], on connection: PostgresConnection, logger: Logger) async throws {
        guard !runs.isEmpty else { return }
        for try await _ in try await connection.execute(
            PostgresQueueStatements.RecordRuns(runs: lastPerRunID(runs), states: SourceRunSummary.fold(runs)),
            logger: logger)
        {}
    }

    private func runs(_ rows: PostgresRowSequence) async throws -> [TaskRun] {
        var runs: [TaskRun] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            runs.append(
                TaskRun(
                    id: try r[0].decode(String.self), jobID: try r[1].decode(String.self),
                    taskID: try r[2].decode(Int64?.self), sourceID: try r[3].decode(String.self),
                    attempt: try r[4].decode(Int.self), workerID: try r[5].decode(String.self),
                    status: TaskRunStatus(rawValue: try r[6].decode(String.self)) ?? .failed,
                    startedAt: try r[7].decode(Int64.self), finishedAt: try r[8].decode(Int64.self),
                    url: try r[9].decode(String?.self), httpStatus: try r[10].decode(Int?.self),
                    bytes: try r[11].decode(Int?.self), entityCount: try r[12].decode(Int.self),
                    rejectedCount: try r[13].decode(Int.self), contentHash: try r[14].decode(String?.self),
                    feedTimestamp: try r[15].decode(Int64?.self),
                    errorKind: FetchErrorKind.stored(try r[16].decode(String?.self)),
                    errorMessage: try r[17].decode(String?.self)))
        }
        return runs
    }

    public func taskRuns(_ query: TaskRunQuery) async throws -> [TaskRun] {
        let status = query.status?.rawValue
        return try await runs(
            try await client.query(
                """
                SELECT id, job_id, task_id, source_id, attempt, worker_id, status, started_at, finished_at, url,
                    http_status, bytes, entity_count, rejected_count, content_hash, feed_timestamp, error_kind,
                    error_message
                FROM task_runs
                WHERE (\(status)::text IS NULL OR status = \(status))
                    AND (\(query.sourceID)::text IS NULL OR source_id = \(query.sourceID))
                    AND finished_at >= \(query.since ?? Int64.min)
                    AND (\(query.jobID)::text IS NULL OR job_id = \(query.jobID))
                ORDER BY finished_at DESC, id DESC LIMIT \(query.limit)
                """, logger: logger))
    }

    public func taskRun(id: String) async throws -> TaskRun? {
        try await runs(
            try await client.query(
                """
                SELECT id, job_id, task_id, source_id, attempt, worker_id, status, started_at, finished_at, url,
                    http_status, bytes, entity_count, rejected_count, content_hash, feed_timestamp, error_kind,
                    error_message
                FROM task_runs WHERE id = \(id)
                """, logger: logger)
        ).first
    }

    public func sourceStates() async throws -> [SourceState] {
        var states: [SourceState] = []
        for try await row in try await client.query(
            """
            SELECT source_id, last_slot_at, next_run_at, last_run_at, last_run_status, last_success_at, last_error,
                last_feed_timestamp
            FROM source_state ORDER BY source_id
            """, logger: logger)
        {
            let r = row.makeRandomAccess()
            states.append(
                SourceState(
                    sourceID: try r[0].decode(String.self), lastSlotAt: try r[1].decode(Int64?.self),
                    nextRunAt: try r[2].decode(Int64?.self), lastRunAt: try r[3].decode(Int64?.self),
                    lastRunStatus: try r[4].decode(String?.self).flatMap(TaskRunStatus.init(rawValue:)),
                    lastSuccessAt: try r[5].decode(Int64?.self), lastError: try r[6].decode(String?.self),
                    lastFeedTimestamp: try r[7].decode(Int64?.self)))
        }
        return states
    }

    public func recordScheduled(sourceID: String, slotAt: Int64, nextRunAt: Int64) async throws {
        try await client.query(
            """
            INSERT INTO source_state (source_id, last_slot_at, next_run_at) VALUES (\(sourceID), \(slotAt), \(nextRunAt))
            ON CONFLICT (source_id) DO UPDATE SET
                last_slot_at = GREATEST(COALESCE(source_state.last_slot_at, 0), excluded.last_slot_at),
                next_run_at = excluded.next_run_at
            """, logger: logger)
    }

    public func upsertHeartbeat(_ h: WorkerHeartbeat) async throws {
        try await client.query(
            """
            INSERT INTO worker_heartbeats (worker_id, host, pid, status, concurrency, in_flight, processed, failed,
                fetch_rate, errors_last_minute, cpu_seconds, memory_bytes, started_at, last_seen_at, partitions)
            VALUES (\(h.workerID), \(h.host), \(h.pid), \(h.status.rawValue), \(h.concurrency), \(h.inFlight),
                \(h.processed), \(h.failed), \(h.fetchRate), \(h.errorsLastMinute), \(h.cpuSeconds), \(h.memoryBytes),
                \(h.startedAt), \(h.lastSeenAt), \(h.partitions.joined(separator: ",")))
            ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, status = excluded.status,
                concurrency = excluded.concurrency, in_flight = excluded.in_flight, processed = excluded.processed,
                failed = excluded.failed, fetch_rate = excluded.fetch_rate,
                errors_last_minute = excluded.errors_last_minute, cpu_seconds = excluded.cpu_seconds,
                memory_bytes = excluded.memory_bytes, started_at = excluded.started_at,
                last_seen_at = excluded.last_seen_at, partitions = excluded.partitions
            """, logger: logger)
    }

    public func heartbeats() async throws -> [WorkerHeartbeat] {
        var beats: [WorkerHeartbeat] = []
        for try await row in try await client.query(
            """
            SELECT worker_id, host, pid, status, concurrency, in_flight, processed, failed, fetch_rate,
                errors_last_minute, cpu_seconds, memory_bytes, started_at, last_seen_at, partitions
            FROM worker_heartbeats ORDER BY last_seen_at DESC
            """, logger: logger)
        {
            let r = row.makeRandomAccess()
            beats.append(
                WorkerHeartbeat(
                    workerID: try r[0].decode(String.self), host: try r[1].decode(String.self),
                    pid: try r[2].decode(Int.self),
                    status: WorkerStatus(rawValue: try r[3].decode(String.self)) ?? .running,
                    concurrency: try r[4].decode(Int.self), inFlight: try r[5].decode(Int.self),
                    processed: try r[6].decode(Int.self), failed: try r[7].decode(Int.self),
                    fetchRate: try r[8].decode(Double.self), errorsLastMinute: try r[9].decode(Int.self),
                    cpuSeconds: try r[10].decode(Double.self), memoryBytes: try r[11].decode(Int64.self),
                    startedAt: try r[12].decode(Int64.self), lastSeenAt: try r[13].decode(Int64.self),
                    partitions: try r[14].decode(String.self).split(separator: ",").map(String.init)))
        }
        return beats
    }

    public func recordLeadership(_ l: SchedulerLeadership) async throws {
        try await client.query(
            """
            INSERT INTO scheduler_leader (singleton, scheduler_id, host, pid, since, renewed_at)
            VALUES (1, \(l.schedulerID), \(l.host), \(l.pid), \(l.since), \(l.renewedAt))
            ON CONFLICT (singleton) DO UPDATE SET scheduler_id = excluded.scheduler_id, host = excluded.host,
                pid = excluded.pid, since = excluded.since, renewed_at = excluded.renewed_at
            """, logger: logger)
    }

    public func leadership() async throws -> SchedulerLeadership? {
        for try await (id, host, pid, since, renewed) in try await client.query(
            "SELECT scheduler_id, host, pid, since, renewed_at FROM scheduler_leader WHERE singleton = 1",
            logger: logger
        ).decode((String, String, Int, Int64, Int64).self) {
            return SchedulerLeadership(schedulerID: id, host: host, pid: pid, since: since, renewedAt: renewed)
        }
        return nil
    }

    @discardableResult
    public func prune(runsBefore: Int64, heartbeatsBefore: Int64) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM task_runs WHERE finished_at < \(runsBefore) RETURNING 1", logger: logger)
        {
            count += 1
        }
        for try await _ in try await client.query(
            "DELETE FROM worker_heartbeats WHERE last_seen_at < \(heartbeatsBefore) RETURNING 1", logger: logger)
        {
            count += 1
        }
        return count
    }
}
