import Foundation
import GRDB
public import MetropulseCore

extension SQLiteBackend: JobStore {
    static let jobRunColumns = """
        id, job_id, cycle, trigger, attempt, status, started_at, finished_at, rows_read, rows_written, detail, error,
        requested_by
        """

    static func jobRun(_ row: Row) -> JobRun {
        var run = JobRun(
            jobID: row[1], cycle: row[2], trigger: JobTrigger(rawValue: row[3]) ?? .schedule, attempt: row[4],
            status: JobRunStatus(rawValue: row[5]) ?? .failed, startedAt: row[6], finishedAt: row[7],
            rowsRead: row[8], rowsWritten: row[9], detail: row[10], error: row[11], requestedBy: row[12])
        run.id = row[0]
        return run
    }

    public func recordJobRun(_ run: JobRun) async throws {
        try await pool.write { db in
            try db.execute(
                sql:
                    "INSERT OR REPLACE INTO job_runs (\(Self.jobRunColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    run.id, run.jobID, run.cycle, run.trigger.rawValue, run.attempt, run.status.rawValue, run.startedAt,
                    run.finishedAt, run.rowsRead, run.rowsWritten, run.detail, run.error, run.requestedBy,
                ])
        }
    }

    public func jobRuns(_ query: JobRunQuery) async throws -> [JobRun] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let jobID = query.jobID {
                clauses.append("job_id = ?")
                arguments += [jobID]
            }
            if let status = query.status {
                clauses.append("status = ?")
                arguments += [status.rawValue]
            }
            if let since = query.since {
                clauses.append("started_at >= ?")
                arguments += [since]
            }
            arguments += [max(0, query.limit)]
            let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            return try Row.fetchAll(
                db,
                sql: "SELECT \(Self.jobRunColumns) FROM job_runs \(filter) ORDER BY started_at DESC, id DESC LIMIT ?",
                arguments: arguments
            ).map(Self.jobRun)
        }
    }

    public func jobRun(id: String) async throws -> JobRun? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.jobRunColumns) FROM job_runs WHERE id = ?", arguments: [id])
                .map(Self.jobRun)
        }
    }

    public func jobStates() async throws -> [JobState] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT job_id, paused, requested_at, requested_by, watermark FROM job_state ORDER BY job_id"
            ).map { row in
                JobState(
                    jobID: row[0], paused: row[1], requestedAt: row[2], requestedBy: row[3], watermark: row[4])
            }
        }
    }

    public func setJobPaused(_ jobID: String, paused: Bool) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO job_state (job_id, paused) VALUES (?, ?)
                    ON CONFLICT (job_id) DO UPDATE SET paused = excluded.paused
                    """, arguments: [jobID, paused])
        }
    }

    public func requestJobRun(_ jobID: String, at: Int64, by: String?) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO job_state (job_id, requested_at, requested_by) VALUES (?, ?, ?)
                    ON CONFLICT (job_id) DO UPDATE SET
                        requested_by = CASE WHEN requested_at IS NULL THEN excluded.requested_by ELSE requested_by END,
                        requested_at = COALESCE(requested_at, excluded.requested_at)
                    """, arguments: [jobID, at, by])
        }
    }

    public func clearJobRequest(_ jobID: String, upTo: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE job_state SET requested_at = NULL, requested_by = NULL
                    WHERE job_id = ? AND requested_at <= ?
                    """, arguments: [jobID, upTo])
        }
    }

    public func setJobWatermark(_ jobID: String, to value: Int64?) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO job_state (job_id, watermark) VALUES (?, ?)
                    ON CONFLICT (job_id) DO UPDATE SET watermark = excluded.watermark
                    """, arguments: [jobID, value])
        }
    }

    @discardableResult
    public func pruneJobRuns(before: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM job_runs WHERE started_at < ?", arguments: [before])
            return db.changesCount
        }
    }
}

extension SQLiteBackend: AggregateStore {
    public func stationBlocks(after: StationBlockPosition, limit: Int) async throws -> [StationBlockRead] {
        try await pool.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, source_id, fetched_at, payload FROM station_blocks
                    WHERE (fetched_at, id) > (?, ?) ORDER BY fetched_at, id LIMIT ?
                    """, arguments: [after.fetchedAt, after.blockID, max(0, limit)])
            var blocks: [StationBlockRead] = []
            while let row = try rows.next() {
                let sourceID: String = row[1]
                let payload: Data = row[3]
                blocks.append(
                    StationBlockRead(
                        position: StationBlockPosition(fetchedAt: row[2], blockID: row[0]), sourceID: sourceID,
                        observations: try StationBlock.decodeRaw(Array(payload), sourceID: sourceID)))
            }
            return blocks
        }
    }

    public func stationBlockSpans(after: StationBlockPosition, limit: Int) async throws -> [StationBlockSpan] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, source_id, fetched_at, first_observed_at, last_observed_at, count FROM station_blocks
                    WHERE (fetched_at, id) > (?, ?) ORDER BY fetched_at, id LIMIT ?
                    """, arguments: [after.fetchedAt, after.blockID, max(0, limit)]
            ).map { row in
                StationBlockSpan(
                    position: StationBlockPosition(fetchedAt: row[2], blockID: row[0]), sourceID: row[1],
                    firstObservedAt: row[3], lastObservedAt: row[4], count: row[5])
            }
        }
    }

    public func stationObservations(sourceID: String, from: Int64, until: Int64) async throws -> [StationObservation] {
        try await pool.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT payload FROM station_blocks
                    WHERE source_id = ? AND last_observed_at >= ? AND first_observed_at < ?
                    """, arguments: [sourceID, from, until])
            var observations: [StationObservation] = []
            while let row = try rows.next() {
                let payload: Data = row[0]
                for observation in try StationBlock.decodeRaw(Array(payload), sourceID: sourceID)
                where observation.observedAt >= from && observation.observedAt < until {
                    observations.append(observation)
                }
            }
            return observations.sorted { $0.observedAt < $1.observedAt }
        }
    }

    /// The two period tables of the gold tier and their time column.
    enum PeriodTable: String {
        case hours = "station_hours"
        case days = "station_days"

        var column: String { self == .hours ? "hour" : "day" }
    }

    func replacePeriods(_ table: PeriodTable, sourceID: String, starts: [Int64], rows: [StationHour], writtenAt: Int64)
        async throws
    {
        try await pool.write { db in
            for start in starts {
                try db.execute(
                    sql: "DELETE FROM \(table.rawValue) WHERE source_id = ? AND \(table.column) = ?",
                    arguments: [sourceID, start])
            }
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO \(table.rawValue) (source_id, station_id, \(table.column), observations,
                        bikes_mean, bikes_min, bikes_max, ebikes_mean, ebikes_min, ebikes_max, docks_mean, docks_min,
                        docks_max, occupancy_mean, minutes_empty, minutes_full, minutes_closed, bikes_taken,
                        bikes_returned, written_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for row in rows where row.sourceID == sourceID {
                try insert.execute(arguments: [
                    row.sourceID, row.stationID, row.hour, row.observations, row.bikesMean, row.bikesMin, row.bikesMax,
                    row.ebikesMean, row.ebikesMin, row.ebikesMax, row.docksMean, row.docksMin, row.docksMax,
                    row.occupancyMean, row.minutesEmpty, row.minutesFull, row.minutesClosed, row.bikesTaken,
                    row.bikesReturned, writtenAt,
                ])
            }
        }
    }

    func periods(
        _ table: PeriodTable, sourceID: String, stationID: String?, since: Int64?, until: Int64?, limit: Int
    ) async throws -> [StationHour] {
        try await pool.read { db in
            let column = table.column
            var sql = """
                SELECT source_id, station_id, \(column), observations, bikes_mean, bikes_min, bikes_max, ebikes_mean,
                    ebikes_min, ebikes_max, docks_mean, docks_min, docks_max, occupancy_mean, minutes_empty,
                    minutes_full, minutes_closed, bikes_taken, bikes_returned
                FROM \(table.rawValue) WHERE source_id = ?
                """
            var arguments: StatementArguments = [sourceID]
            if let stationID {
                sql += " AND station_id = ?"
                arguments += [stationID]
            }
            if let since {
                sql += " AND \(column) >= ?"
                arguments += [since]
            }
            if let until {
                sql += " AND \(column) <= ?"
                arguments += [until]
            }
            sql += " ORDER BY \(column), station_id LIMIT ?"
            arguments += [max(0, limit)]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                StationHour(
                    sourceID: row[0], stationID: row[1], hour: row[2], observations: row[3], bikesMean: row[4],
                    bikesMin: row[5], bikesMax: row[6], ebikesMean: row[7], ebikesMin: row[8], ebikesMax: row[9],
                    docksMean: row[10], docksMin: row[11], docksMax: row[12], occupancyMean: row[13],
                    minutesEmpty: row[14], minutesFull: row[15], minutesClosed: row[16], bikesTaken: row[17],
                    bikesReturned: row[18])
            }
        }
    }

    public func replaceStationHours(sourceID: String, hours: [Int64], rows: [StationHour], writtenAt: Int64)
        async throws
    {
        try await replacePeriods(.hours, sourceID: sourceID, starts: hours, rows: rows, writtenAt: writtenAt)
    }

    public func stationHours(sourceID: String, stationID: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StationHour]
    {
        try await periods(.hours, sourceID: sourceID, stationID: stationID, since: since, until: until, limit: limit)
    }

    public func stationHoursWritten(since: Int64) async throws -> [StationHoursWritten] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, hour, MAX(written_at) FROM station_hours WHERE written_at >= ?
                    GROUP BY source_id, hour ORDER BY source_id, hour
                    """, arguments: [since]
            ).map { StationHoursWritten(sourceID: $0[0], hour: $0[1], writtenAt: $0[2]) }
        }
    }

    public func replaceStationDays(sourceID: String, days: [Int64], rows: [StationHour]) async throws {
        try await replacePeriods(.days, sourceID: sourceID, starts: days, rows: rows, writtenAt: 0)
    }

    public func stationDays(sourceID: String, stationID: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StationHour]
    {
        try await periods(.days, sourceID: sourceID, stationID: stationID, since: since, until: until, limit: limit)
    }

    public func replaceStationRanking(sourceID: String, rows: [StationRank]) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM station_rankings WHERE source_id = ?", arguments: [sourceID])
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO station_rankings (source_id, station_id, computed_at, since, minutes_empty,
                        minutes_full, turnover, rank_empty, rank_full, rank_turnover)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for rank in rows where rank.sourceID == sourceID {
                try insert.execute(arguments: [
                    rank.sourceID, rank.stationID, rank.computedAt, rank.since, rank.minutesEmpty, rank.minutesFull,
                    rank.turnover, rank.rankEmpty, rank.rankFull, rank.rankTurnover,
                ])
            }
        }
    }

    public func stationRanking(sourceID: String, by order: StationRank.Order, limit: Int) async throws
        -> [StationRank]
    {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, station_id, computed_at, since, minutes_empty, minutes_full, turnover, rank_empty,
                        rank_full, rank_turnover
                    FROM station_rankings WHERE source_id = ? ORDER BY rank_\(order.rawValue) LIMIT ?
                    """, arguments: [sourceID, max(0, limit)]
            ).map { row in
                StationRank(
                    sourceID: row[0], stationID: row[1], computedAt: row[2], since: row[3], minutesEmpty: row[4],
                    minutesFull: row[5], turnover: row[6], rankEmpty: row[7], rankFull: row[8], rankTurnover: row[9])
            }
        }
    }
}
