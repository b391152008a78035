import Foundation
public import MetropulseCore
import NIOCore
import PostgresNIO

extension PostgresBackend: JobStore {
    private typealias JobRunRow = (
        String, String, Int64, String, Int32, String, Int64, Int64?, Int64, Int64, String?, String?, String?
    )

    private static func jobRun(_ row: JobRunRow) -> JobRun {
        var run = JobRun(
            jobID: row.1, cycle: row.2, trigger: JobTrigger(rawValue: row.3) ?? .schedule, attempt: Int(row.4),
            status: JobRunStatus(rawValue: row.5) ?? .failed, startedAt: row.6, finishedAt: row.7,
            rowsRead: Int(row.8), rowsWritten: Int(row.9), detail: row.10, error: row.11, requestedBy: row.12)
        run.id = row.0
        return run
    }

    public func recordJobRun(_ run: JobRun) async throws {
        try await client.query(
            """
            INSERT INTO job_runs (id, job_id, cycle, trigger, attempt, status, started_at, finished_at, rows_read,
                rows_written, detail, error, requested_by)
            VALUES (\(run.id), \(run.jobID), \(run.cycle), \(run.trigger.rawValue), \(Int32(clamping: run.attempt)),
                \(run.status.rawValue), \(run.startedAt), \(run.finishedAt), \(Int64(run.rowsRead)),
                \(Int64(run.rowsWritten)), \(run.detail), \(run.error), \(run.requestedBy))
            ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, finished_at = EXCLUDED.finished_at,
                rows_read = EXCLUDED.rows_read, rows_written = EXCLUDED.rows_written, detail = EXCLUDED.detail,
                error = EXCLUDED.error
            """, logger: logger)
    }

    public func jobRuns(_ query: JobRunQuery) async throws -> [JobRun] {
        let rows = try await client.query(
            """
            SELECT id, job_id, cycle, trigger, attempt, status, started_at, finished_at, rows_read, rows_written,
                detail, error, requested_by
            FROM job_runs
            WHERE (\(query.jobID)::text IS NULL OR job_id = \(query.jobID))
                AND (\(query.status?.rawValue)::text IS NULL OR status = \(query.status?.rawValue))
                AND (\(query.since)::bigint IS NULL OR started_at >= \(query.since))
            ORDER BY started_at DESC, id DESC LIMIT \(max(0, query.limit))
            """, logger: logger)
        var runs: [JobRun] = []
        for try await row in rows.decode(JobRunRow.self) { runs.append(Self.jobRun(row)) }
        return runs
    }

    public func jobRun(id: String) async throws -> JobRun? {
        let rows = try await client.query(
            """
            SELECT id, job_id, cycle, trigger, attempt, status, started_at, finished_at, rows_read, rows_written,
                detail, error, requested_by
            FROM job_runs WHERE id = \(id)
            """, logger: logger)
        for try await row in rows.decode(JobRunRow.self) { return Self.jobRun(row) }
        return nil
    }

    public func jobStates() async throws -> [JobState] {
        let rows = try await client.query(
            "SELECT job_id, paused, requested_at, requested_by, watermark FROM job_state ORDER BY job_id",
            logger: logger)
        var states: [JobState] = []
        for try await (jobID, paused, requestedAt, requestedBy, watermark) in rows.decode(
            (String, Bool, Int64?, String?, Int64?).self)
        {
            states.append(
                JobState(
                    jobID: jobID, paused: paused, requestedAt: requestedAt, requestedBy: requestedBy,
                    watermark: watermark))
        }
        return states
    }

    public func setJobPaused(_ jobID: String, paused: Bool) async throws {
        try await client.query(
            """
            INSERT INTO job_state (job_id, paused) VALUES (\(jobID), \(paused))
            ON CONFLICT (job_id) DO UPDATE SET paused = EXCLUDED.paused
            """, logger: logger)
    }

    public func requestJobRun(_ jobID: String, at: Int64, by: String?) async throws {
        try await client.query(
            """
            INSERT INTO job_state AS s (job_id, requested_at, requested_by) VALUES (\(jobID), \(at), \(by))
            ON CONFLICT (job_id) DO UPDATE SET
                requested_by = CASE WHEN s.requested_at IS NULL THEN EXCLUDED.requested_by ELSE s.requested_by END,
                requested_at = COALESCE(s.requested_at, EXCLUDED.requested_at)
            """, logger: logger)
    }

    public func clearJobRequest(_ jobID: String, upTo: Int64) async throws {
        try await client.query(
            """
            UPDATE job_state SET requested_at = NULL, requested_by = NULL
            WHERE job_id = \(jobID) AND requested_at <= \(upTo)
            """, logger: logger)
    }

    public func setJobWatermark(_ jobID: String, to value: Int64?) async throws {
        try await client.query(
            """
            INSERT INTO job_state (job_id, watermark) VALUES (\(jobID), \(value))
            ON CONFLICT (job_id) DO UPDATE SET watermark = EXCLUDED.watermark
            """, logger: logger)
    }

    @discardableResult
    public func pruneJobRuns(before: Int64) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM job_runs WHERE started_at < \(before) RETURNING 1", logger: logger)
        {
            count += 1
        }
        return count
    }
}

extension PostgresBackend: AggregateStore {
    public func stationBlocks(after: StationBlockPosition, limit: Int) async throws -> [StationBlockRead] {
        let rows = try await client.query(
            """
            SELECT id, source_id, fetched_at, payload FROM station_blocks
            WHERE (fetched_at, id) > (\(after.fetchedAt), \(after.blockID)) ORDER BY fetched_at, id
            LIMIT \(max(0, limit))
            """, logger: logger)
        var blocks: [StationBlockRead] = []
        for try await (id, sourceID, fetchedAt, payload) in rows.decode((Int64, String, Int64, ByteBuffer).self) {
            blocks.append(
                StationBlockRead(
                    position: StationBlockPosition(fetchedAt: fetchedAt, blockID: id), sourceID: sourceID,
                    observations: try StationBlock.decodeRaw(Array(buffer: payload), sourceID: sourceID)))
        }
        return blocks
    }

    public func stationBlockSpans(after: StationBlockPosition, limit: Int) async throws -> [StationBlockSpan] {
        let rows = try await client.query(
            """
            SELECT id, source_id, fetched_at, first_observed_at, last_observed_at, count FROM station_blocks
            WHERE (fetched_at, id) > (\(after.fetchedAt), \(after.blockID)) ORDER BY fetched_at, id
            LIMIT \(max(0, limit))
            """, logger: logger)
        var spans: [StationBlockSpan] = []
        for try await (id, sourceID, fetchedAt, first, last, count) in rows.decode(
            (Int64, String, Int64, Int64, Int64, Int32).self)
        {
            spans.append(
                StationBlockSpan(
                    position: StationBlockPosition(fetchedAt: fetchedAt, blockID: id), sourceID: sourceID,
                    firstObservedAt: first, lastObservedAt: last, count: Int(count)))
        }
        return spans
    }

    public func stationObservations(sourceID: String, from: Int64, until: Int64) async throws -> [StationObservation] {
        let rows = try await client.query(
            """
            SELECT payload FROM station_blocks
            WHERE source_id = \(sourceID) AND last_observed_at >= \(from) AND first_observed_at < \(until)
            """, logger: logger)
        var observations: [StationObservation] = []
        for try await payload in rows.decode(ByteBuffer.self) {
            for observation in try StationBlock.decodeRaw(Array(buffer: payload), sourceID: sourceID)
            where observation.observedAt >= from && observation.observedAt < until {
                observations.append(observation)
            }
        }
        return observations.sorted { $0.observedAt < $1.observedAt }
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
        let rows = rows.filter { $0.sourceID == sourceID }
        let (name, column) = (table.rawValue, table.column)
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "DELETE FROM \(unescaped: name) WHERE source_id = \(sourceID) AND \(unescaped: column) = ANY(\(starts))",
                logger: logger)
            guard !rows.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO \(unescaped: name) (source_id, station_id, \(unescaped: column), observations, bikes_mean,
                    bikes_min, bikes_max, ebikes_mean, ebikes_min, ebikes_max, docks_mean, docks_min, docks_max,
                    occupancy_mean, minutes_empty, minutes_full, minutes_closed, bikes_taken, bikes_returned,
                    written_at)
                SELECT \(sourceID), *, \(writtenAt)::bigint FROM UNNEST(
                    \(rows.map(\.stationID))::text[], \(rows.map(\.hour))::bigint[],
                    \(rows.map { Int32(clamping: $0.observations) })::integer[], \(rows.map(\.bikesMean))::float8[],
                    \(rows.map { Int32(clamping: $0.bikesMin) })::integer[],
                    \(rows.map { Int32(clamping: $0.bikesMax) })::integer[],
                    \(NullableArray(rows.map(\.ebikesMean)))::float8[],
                    \(NullableArray(rows.map { $0.ebikesMin.map { Int32(clamping: $0) } }))::integer[],
                    \(NullableArray(rows.map { $0.ebikesMax.map { Int32(clamping: $0) } }))::integer[],
                    \(NullableArray(rows.map(\.docksMean)))::float8[],
                    \(NullableArray(rows.map { $0.docksMin.map { Int32(clamping: $0) } }))::integer[],
                    \(NullableArray(rows.map { $0.docksMax.map { Int32(clamping: $0) } }))::integer[],
                    \(NullableArray(rows.map(\.occupancyMean)))::float8[], \(rows.map(\.minutesEmpty))::float8[],
                    \(rows.map(\.minutesFull))::float8[], \(rows.map(\.minutesClosed))::float8[],
                    \(rows.map { Int32(clamping: $0.bikesTaken) })::integer[],
                    \(rows.map { Int32(clamping: $0.bikesReturned) })::integer[])
                ON CONFLICT (source_id, station_id, \(unescaped: column)) DO NOTHING
                """, logger: logger)
        }
    }

    func periods(
        _ table: PeriodTable, sourceID: String, stationID: String?, since: Int64?, until: Int64?, limit: Int
    ) async throws -> [StationHour] {
        let (name, column) = (table.rawValue, table.column)
        let rows = try await client.query(
            """
            SELECT source_id, station_id, \(unescaped: column), observations, bikes_mean, bikes_min, bikes_max,
                ebikes_mean, ebikes_min, ebikes_max, docks_mean, docks_min, docks_max, occupancy_mean, minutes_empty,
                minutes_full, minutes_closed, bikes_taken, bikes_returned
            FROM \(unescaped: name)
            WHERE source_id = \(sourceID) AND (\(stationID)::text IS NULL OR station_id = \(stationID))
                AND (\(since)::bigint IS NULL OR \(unescaped: column) >= \(since))
                AND (\(until)::bigint IS NULL OR \(unescaped: column) <= \(until))
            ORDER BY \(unescaped: column), station_id LIMIT \(max(0, limit))
            """, logger: logger)
        var periods: [StationHour] = []
        for try await row in rows.decode(
            (
                String, String, Int64, Int32, Double, Int32, Int32, Double?, Int32?, Int32?, Double?, Int32?, Int32?,
                Double?, Double, Double, Double, Int32, Int32
            ).self)
        {
            periods.append(
                StationHour(
                    sourceID: row.0, stationID: row.1, hour: row.2, observations: Int(row.3), bikesMean: row.4,
                    bikesMin: Int(row.5), bikesMax: Int(row.6), ebikesMean: row.7, ebikesMin: row.8.map(Int.init),
                    ebikesMax: row.9.map(Int.init), docksMean: row.10, docksMin: row.11.map(Int.init),
                    docksMax: row.12.map(Int.init), occupancyMean: row.13, minutesEmpty: row.14, minutesFull: row.15,
                    minutesClosed: row.16, bikesTaken: Int(row.17), bikesReturned: Int(row.18)))
        }
        return periods
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
        let rows = try await client.query(
            """
            SELECT source_id, hour, MAX(written_at) FROM station_hours WHERE written_at >= \(since)
            GROUP BY source_id, hour ORDER BY source_id, hour
            """, logger: logger)
        var written: [StationHoursWritten] = []
        for try await (sourceID, hour, at) in rows.decode((String, Int64, Int64).self) {
            written.append(StationHoursWritten(sourceID: sourceID, hour: hour, writtenAt: at))
        }
        return written
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
        let rows = rows.filter { $0.sourceID == sourceID }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM station_rankings WHERE source_id = \(sourceID)", logger: logger)
            guard !rows.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO station_rankings (source_id, station_id, computed_at, since, minutes_empty, minutes_full,
                    turnover, rank_empty, rank_full, rank_turnover)
                SELECT \(sourceID), * FROM UNNEST(
                    \(rows.map(\.stationID))::text[], \(rows.map(\.computedAt))::bigint[], \(rows.map(\.since))::bigint[],
                    \(rows.map(\.minutesEmpty))::float8[], \(rows.map(\.minutesFull))::float8[],
                    \(rows.map { Int32(clamping: $0.turnover) })::integer[],
                    \(rows.map { Int32(clamping: $0.rankEmpty) })::integer[],
                    \(rows.map { Int32(clamping: $0.rankFull) })::integer[],
                    \(rows.map { Int32(clamping: $0.rankTurnover) })::integer[])
                """, logger: logger)
        }
    }

    public func stationRanking(sourceID: String, by order: StationRank.Order, limit: Int) async throws
        -> [StationRank]
    {
        let rows = try await client.query(
            """
            SELECT source_id, station_id, computed_at, since, minutes_empty, minutes_full, turnover, rank_empty,
                rank_full, rank_turnover
            FROM station_rankings WHERE source_id = \(sourceID)
            ORDER BY rank_\(unescaped: order.rawValue) LIMIT \(max(0, limit))
            """, logger: logger)
        var ranks: [StationRank] = []
        for try await row in rows.decode(
            (String, String, Int64, Int64, Double, Double, Int32, Int32, Int32, Int32).self)
        {
            ranks.append(
                StationRank(
                    sourceID: row.0, stationID: row.1, computedAt: row.2, since: row.3, minutesEmpty: row.4,
                    minutesFull: row.5, turnover: Int(row.6), rankEmpty: Int(row.7), rankFull: Int(row.8),
                    rankTurnover: Int(row.9)))
        }
        return ranks
    }
}
