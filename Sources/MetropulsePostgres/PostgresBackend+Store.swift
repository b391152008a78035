import Foundation
import Logging
public import MetropulseCore
import PostgresNIO

extension PostgresBackend: Store {
    public func write(_ results: [RunResult]) async throws {
        guard !results.isEmpty else { return }
        defer { writes.bump() }
        try await Self.commit(
            results, finishingTasks: false, cache: latestCache, commits: oneStatementCommits, client: client,
            logger: logger)
    }

    /// The locked commit: when finishing tasks, outcomes are applied first, and an attempt whose
    /// lease passed to a later attempt writes only its (failed) run record; the sources' latest rows
    /// are locked (in source order) and read, then everything else goes in one statement.
    static func writeResults(
        _ results: [RunResult], finishingTasks: Bool, cache: LatestStationCache, on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        var results = results
        if finishingTasks {
            results = RunResult.settled(
                results, applied: try await applyOutcomes(results.compactMap(\.outcome), on: connection, logger: logger)
            )
        }
        let groups = stationGroups(results)
        var tokens: [String: Int64] = [:]
        var latest: [String: LatestStations] = [:]
        if !groups.isEmpty {
            tokens = try await lockLatest(Set(groups.map(\.sourceID)).sorted(), on: connection, logger: logger)
            latest = try await latestStations(tokens, cache: cache, taking: true, on: connection, logger: logger)
        }
        // Every family has its writer here: a new one fails to compile until it has.
        for family in ObservationFamily.allCases {
            for result in results where result.observations.has(family) {
                let (batch, run) = (result.observations, result.run)
                switch family {
                case .stations:
                    // Locked and read above; written in the one statement below (CommitWrite).
                    break
                case .measurements:
                    try await writeMeasurements(
                        batch.measurements, fetchedAt: run.finishedAt, runID: run.id, on: connection, logger: logger)
                case .transit:
                    try await writeTransit(
                        batch, sourceID: run.sourceID, fetchedAt: run.finishedAt, runID: run.id, on: connection,
                        logger: logger)
                }
            }
        }
        let write = CommitWrite(results, groups: groups, applyingOutcomes: false, tokens: tokens, latest: latest)
        if !write.isEmpty {
            for try await _ in try await connection.execute(write.statement, logger: logger) {}
        }
        write.storeLatest(in: cache)
    }

    static let runColumns = """
        id, job_id, task_id, source_id, attempt, worker_id, status, started_at, finished_at, url, http_status,
        bytes, entity_count, rejected_count, content_hash, feed_timestamp, error_kind, error_message, rejections
        """

    func runs(_ rows: PostgresRowSequence) async throws -> [TaskRun] {
        var runs: [TaskRun] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            var run = TaskRun(
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
                errorMessage: try r[17].decode(String?.self))
            run.rejections = RejectionsColumn.decode(try r[18].decode(String?.self))
            runs.append(run)
        }
        return runs
    }

    public func taskRuns(_ query: TaskRunQuery) async throws -> [TaskRun] {
        let status = query.status?.rawValue
        return try await runs(
            try await client.query(
                """
                SELECT \(unescaped: Self.runColumns)
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
                SELECT \(unescaped: Self.runColumns)
                FROM task_runs WHERE id = \(id)
                """, logger: logger)
        ).first
    }

    public var runsWritten: UInt64 { writes.value }

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

    public func recordScheduled(_ slots: [ScheduledSlot]) async throws {
        guard !slots.isEmpty else { return }
        // One row per source (the last of each), in source order so concurrent writers cannot
        // deadlock on the rows.
        let latest = Dictionary(slots.map { ($0.sourceID, $0) }, uniquingKeysWith: { _, last in last })
            .values.sorted { $0.sourceID < $1.sourceID }
        try await client.query(
            """
            INSERT INTO source_state (source_id, last_slot_at, next_run_at)
            SELECT * FROM UNNEST(\(latest.map(\.sourceID))::text[], \(latest.map(\.slotAt))::int8[],
                \(latest.map(\.nextRunAt))::int8[])
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
