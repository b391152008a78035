import GRDB
public import MetropulseCore

extension SQLiteBackend: Store {
    public func write(_ results: [RunResult]) async throws {
        guard !results.isEmpty else { return }
        try await pool.write { db in try SQLiteBackend.writeResults(results, finishingTasks: false, in: db) }
    }

    /// Writes runs, raw and latest observations, source bookkeeping and (optionally) task outcomes.
    /// When finishing tasks, outcomes are applied first: an attempt whose lease passed to a later
    /// attempt writes only its (failed) run record.
    static func writeResults(_ results: [RunResult], finishingTasks: Bool, in db: Database) throws {
        var results = results
        if finishingTasks {
            results = RunResult.settled(results, applied: try applyOutcomes(results.compactMap(\.outcome), in: db))
        }
        for result in results {
            if result.recordsRun { try insertRun(result.run, in: db) }
            if !result.observations.stations.isEmpty {
                try writeStations(
                    result.observations.stations, fetchedAt: result.run.finishedAt, runID: result.run.id, in: db)
            }
            if !result.observations.measurements.isEmpty {
                try writeMeasurements(
                    result.observations.measurements, fetchedAt: result.run.finishedAt, runID: result.run.id, in: db)
            }
            if result.observations.hasTransit {
                try writeTransit(
                    result.observations, sourceID: result.run.sourceID, fetchedAt: result.run.finishedAt,
                    runID: result.run.id, in: db)
            }
        }
        try updateSourceStates(results.filter(\.recordsRun).map(\.run), in: db)
    }

    static func insertRun(_ run: TaskRun, in db: Database) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO task_runs (id, job_id, task_id, source_id, attempt, worker_id, status,
                    started_at, finished_at, duration_ms, url, http_status, bytes, entity_count, rejected_count,
                    content_hash, feed_timestamp, error_kind, error_message)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            run.id, run.jobID, run.taskID, run.sourceID, run.attempt, run.workerID, run.status.rawValue,
            run.startedAt, run.finishedAt, run.durationMillis, run.url, run.httpStatus, run.bytes, run.entityCount,
            run.rejectedCount, run.contentHash, run.feedTimestamp, run.errorKind?.rawValue, run.errorMessage,
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

    static func writeStations(_ stations: [StationObservation], fetchedAt: Int64, runID: String, in db: Database)
        throws
    {
        let raw = try db.cachedStatement(
            sql: """
                INSERT INTO station_observations (source_id, station_id, observed_at, fetched_at, run_id,
                    bikes_available, mechanical_available, ebikes_available, docks_available, capacity,
                    is_installed, is_renting, is_returning, status, occupancy_rate)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """)
        let latest = try db.cachedStatement(
            sql: """
                INSERT INTO stations_latest (source_id, station_id, code, name, latitude, longitude, capacity,
                    bikes_available, mechanical_available, ebikes_available, docks_available, is_installed,
                    is_renting, is_returning, status, occupancy_rate, observed_at, fetched_at, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(source_id, station_id) DO UPDATE SET
                    code = excluded.code, name = excluded.name, latitude = excluded.latitude,
                    longitude = excluded.longitude, capacity = excluded.capacity,
                    bikes_available = excluded.bikes_available, mechanical_available = excluded.mechanical_available,
                    ebikes_available = excluded.ebikes_available, docks_available = excluded.docks_available,
                    is_installed = excluded.is_installed, is_renting = excluded.is_renting,
                    is_returning = excluded.is_returning, status = excluded.status,
                    occupancy_rate = excluded.occupancy_rate, observed_at = excluded.observed_at,
                    fetched_at = excluded.fetched_at, run_id = excluded.run_id
                WHERE excluded.observed_at >= stations_latest.observed_at
                """)
        var rawRow = StatementBinder(raw, in: db)
        var latestRow = StatementBinder(latest, in: db)
        for s in stations {
            rawRow.bindRawColumns(s, fetchedAt: fetchedAt, runID: runID)
            try rawRow.step()

            latestRow.bind(s.sourceID)
            latestRow.bind(s.stationID)
            latestRow.bind(s.code)
            latestRow.bind(s.name)
            latestRow.bind(s.latitude)
            latestRow.bind(s.longitude)
            latestRow.bind(s.capacity)
            latestRow.bind(s.bikesAvailable)
            latestRow.bind(s.mechanicalAvailable)
            latestRow.bind(s.ebikesAvailable)
            latestRow.bind(s.docksAvailable)
            latestRow.bind(s.isInstalled)
            latestRow.bind(s.isRenting)
            latestRow.bind(s.isReturning)
            latestRow.bind(s.status.rawValue)
            latestRow.bind(s.occupancyRate)
            latestRow.bind(s.observedAt)
            latestRow.bind(fetchedAt)
            latestRow.bind(runID)
            try latestRow.step()
        }
    }

    private static let latestColumns = """
        source_id, station_id, code, name, latitude, longitude, capacity, bikes_available, mechanical_available,
        ebikes_available, docks_available, is_installed, is_renting, is_returning, observed_at, fetched_at, run_id
        """

    private static func storedStation(_ row: Row) -> StoredStation {
        var observation = StationObservation(
            sourceID: row[0], stationID: row[1], code: row[2], name: row[3], latitude: row[4], longitude: row[5],
            capacity: row[6], bikesAvailable: row[7], mechanicalAvailable: row[8], ebikesAvailable: row[9],
            docksAvailable: row[10], isInstalled: row[11], isRenting: row[12], isReturning: row[13],
            observedAt: row[14])
        observation.sourceID = row[0]
        return StoredStation(observation: observation, fetchedAt: row[15], runID: row[16])
    }

    public func stations(_ query: StationQuery) async throws -> [StoredStation] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let sourceID = query.sourceID {
                clauses.append("source_id = ?")
                _ = arguments.append(contentsOf: [sourceID])
            }
            if let near = query.near, let radius = query.radiusMeters {
                let box = near.boundingBox(meters: radius)
                clauses.append("latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ?")
                _ = arguments.append(contentsOf: [box.minLat, box.maxLat, box.minLon, box.maxLon])
            }
            let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT \(Self.latestColumns) FROM stations_latest \(whereClause) ORDER BY source_id, station_id",
                arguments: arguments)
            return query.refine(rows.map(Self.storedStation))
        }
    }

    public func station(sourceID: String, stationID: String) async throws -> StoredStation? {
        try await pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT \(Self.latestColumns) FROM stations_latest
                    WHERE source_id = ? AND (station_id = ? OR code = ?) ORDER BY station_id = ? DESC LIMIT 1
                    """, arguments: [sourceID, stationID, stationID, stationID]
            ).map(Self.storedStation)
        }
    }

    public func stationHistory(sourceID: String, stationID: String, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StoredStation]
    {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT o.source_id, o.station_id, l.code, l.name, l.latitude, l.longitude, o.capacity,
                        o.bikes_available, o.mechanical_available, o.ebikes_available, o.docks_available,
                        o.is_installed, o.is_renting, o.is_returning, o.observed_at, o.fetched_at, o.run_id
                    FROM station_observations o
                    LEFT JOIN stations_latest l ON l.source_id = o.source_id AND l.station_id = o.station_id
                    WHERE o.source_id = ? AND o.station_id = ? AND o.observed_at >= ? AND o.observed_at <= ?
                    ORDER BY o.observed_at DESC LIMIT ?
                    """,
                arguments: [sourceID, stationID, since ?? Int64.min, until ?? Int64.max, limit])
            return rows.map(Self.storedStation)
        }
    }

    public func rawStationObservationCount(sourceID: String?) async throws -> Int {
        try await pool.read { db in
            if let sourceID {
                return try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM station_observations WHERE source_id = ?", arguments: [sourceID]
                ) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM station_observations") ?? 0
        }
    }

    private static let runColumns = """
        id, job_id, task_id, source_id, attempt, worker_id, status, started_at, finished_at, url, http_status,
        bytes, entity_count, rejected_count, content_hash, feed_timestamp, error_kind, error_message
        """

    private static func taskRun(_ row: Row) -> TaskRun {
        TaskRun(
            id: row[0], jobID: row[1], taskID: row[2], sourceID: row[3], attempt: row[4], workerID: row[5],
            status: TaskRunStatus(rawValue: row[6]) ?? .failed, startedAt: row[7], finishedAt: row[8], url: row[9],
            httpStatus: row[10], bytes: row[11], entityCount: row[12], rejectedCount: row[13], contentHash: row[14],
            feedTimestamp: row[15], errorKind: FetchErrorKind.stored(row[16] as String?),
            errorMessage: row[17])
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

    public func recordScheduled(sourceID: String, slotAt: Int64, nextRunAt: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO source_state (source_id, last_slot_at, next_run_at) VALUES (?, ?, ?)
                    ON CONFLICT(source_id) DO UPDATE SET
                        last_slot_at = MAX(COALESCE(last_slot_at, 0), excluded.last_slot_at),
                        next_run_at = excluded.next_run_at
                    """, arguments: [sourceID, slotAt, nextRunAt])
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

extension StatementBinder {
    /// The `station_observations` columns, in table order.
    mutating func bindRawColumns(_ s: StationObservation, fetchedAt: Int64, runID: String) {
        bind(s.sourceID)
        bind(s.stationID)
        bind(s.observedAt)
        bind(fetchedAt)
        bind(runID)
        bind(s.bikesAvailable)
        bind(s.mechanicalAvailable)
        bind(s.ebikesAvailable)
        bind(s.docksAvailable)
        bind(s.capacity)
        bind(s.isInstalled)
        bind(s.isRenting)
        bind(s.isReturning)
        bind(s.status.rawValue)
        bind(s.occupancyRate)
    }
}

/// A heartbeat's partitions column: comma-separated `topic/partition`.
func partitionList(_ column: String) -> [String] {
    column.split(separator: ",").map(String.init)
}
