import Foundation
import GRDB
import Logging
public import MetropulseCore
import MetropulsePostgres
import MetropulseSQLite
import PostgresNIO

/// `metropulse bench analytics`: a Paris-size history (by default 1,500 stations, one snapshot a
/// minute for 7 days: about 15 million observations) in a fresh SQLite store; the full
/// `refresh_hourly` timed against a plain SQL `GROUP BY` over the same observations in an
/// unpacked, indexed table of the same file, and one incremental 5-minute cycle against the full
/// refresh.
public struct AnalyticsBenchmark: Sendable {
    public var stations: Int
    public var days: Int
    public var directory: String
    /// Measure on PostgreSQL (a scratch schema, dropped after) instead of SQLite.
    public var postgresURL: String?

    public init(stations: Int = 1_500, days: Int = 7, directory: String, postgresURL: String? = nil) {
        self.stations = max(1, stations)
        self.days = max(1, days)
        self.directory = directory
        self.postgresURL = postgresURL
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var backend: String
        public var stations: Int
        public var snapshots: Int
        public var observations: Int
        public var loadSeconds: Double
        public var fullSeconds: Double
        public var fullRows: Int
        public var baselineSeconds: Double
        public var baselineRows: Int
        public var incrementalSeconds: Double
        public var incrementalRows: Int

        /// At least 1.0 is the target: the full refresh as fast as the plain SQL or faster.
        public var ratio: Double { baselineSeconds / fullSeconds }
        /// Under 1% is the target.
        public var incrementalShare: Double { incrementalSeconds / fullSeconds }

        public var description: String {
            func f(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
            return """
                analytics benchmark (\(backend)): \(stations) stations x \(snapshots) snapshots = \(observations) observations \
                (loaded in \(f(loadSeconds, 1)) s, not measured)
                  refresh_hourly, full: \(f(fullSeconds)) s, \(fullRows) station-hours \
                (\(f(Double(observations) / fullSeconds / 1e6)) M observations/s)
                  baseline, plain SQL GROUP BY over an unpacked, indexed table: \(f(baselineSeconds)) s, \(baselineRows) rows
                  ratio (baseline time / refresh time): \(f(ratio)) (target >= 1.0)
                  one incremental 5-minute cycle: \(f(incrementalSeconds * 1000, 1)) ms, \(incrementalRows) station-hours, \
                \(f(incrementalShare * 100, 3))% of the full refresh (target < 1%)
                """
        }
    }

    /// A deterministic day of bikes: each station its own phase, rush hours emptying some.
    static func observation(station: Int, minute: Int, at time: Int64) -> StationObservation {
        let capacity = 20 + station % 21
        let phase = Double(station % 97) / 97 * 2 * Double.pi
        let day = Double(minute % 1_440) / 1_440 * 2 * Double.pi
        let wave = (sin(day * 2 + phase) + 1) / 2
        let bikes = max(0, min(capacity, Int((wave * Double(capacity + 6)).rounded()) - 3))
        let ebikes = bikes / 3
        let closed = (station % 211 == 0) && (minute / 120) % 12 == 0
        return StationObservation(
            sourceID: "bench", stationID: String(100_000 + station), capacity: capacity, bikesAvailable: bikes,
            mechanicalAvailable: bikes - ebikes, ebikesAvailable: ebikes, docksAvailable: capacity - bikes,
            isInstalled: true, isRenting: !closed, isReturning: !closed, observedAt: time)
    }

    static func result(_ minute: Int, start: Int64, stations: Int) -> RunResult {
        let time = start + Int64(minute) * 60_000
        let observations = (0..<stations).map { observation(station: $0, minute: minute, at: time) }
        let id = "bench@\(time)"
        return RunResult(
            run: TaskRun(
                id: id, jobID: id, taskID: nil, sourceID: "bench", attempt: 1, workerID: "bench", status: .succeeded,
                startedAt: time + 1_000, finishedAt: time + 2_000, entityCount: stations),
            observations: ObservationBatch(stations: observations), outcome: nil)
    }

    /// What differs between the backends: the store, and the plain table with its `GROUP BY`.
    struct Plain: Sendable {
        var create: @Sendable () async throws -> Void
        var insert: @Sendable ([StationObservation]) async throws -> Void
        var index: @Sendable () async throws -> Void
        /// Runs the GROUP BY into a table; returns its rows.
        var groupBy: @Sendable () async throws -> Int
    }

    public func run() async throws -> Report {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        if let postgresURL {
            return try await PostgresBackend.withScratchSchema(
                url: postgresURL, schema: "bench_analytics_\(getpid())", logger: logger
            ) { backend in
                let client = backend.client
                let plain = Plain(
                    create: {
                        try await client.query(
                            """
                            CREATE TABLE plain (station_id text NOT NULL, observed_at bigint NOT NULL,
                                bikes integer NOT NULL, ebikes integer, docks integer)
                            """, logger: logger)
                    },
                    insert: { rows in
                        try await client.query(
                            """
                            INSERT INTO plain SELECT * FROM UNNEST(\(rows.map(\.stationID))::text[],
                                \(rows.map(\.observedAt))::bigint[], \(rows.map { Int32($0.bikesAvailable) })::integer[],
                                \(rows.map { Int32($0.ebikesAvailable ?? 0) })::integer[],
                                \(rows.map { Int32($0.docksAvailable ?? 0) })::integer[])
                            """, logger: logger)
                    },
                    index: {
                        try await client.query(
                            "CREATE INDEX plain_station_time ON plain (station_id, observed_at)", logger: logger)
                        try await client.query("ANALYZE plain", logger: logger)
                    },
                    groupBy: {
                        try await client.query(PostgresQuery(unsafeSQL: Self.groupBy), logger: logger)
                        for try await count in try await client.query(
                            "SELECT count(*) FROM plain_hours", logger: logger
                        )
                        .decode(Int64.self) {
                            return Int(count)
                        }
                        return 0
                    })
                return try await measure(store: backend, backend: "PostgreSQL", plain: plain, logger: logger)
            }
        }
        let folder = URL(fileURLWithPath: directory).appendingPathComponent("mp-analytics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("bench.sqlite").path
        let store = try SQLiteBackend(path: path)
        defer { try? store.close() }
        let pool = try DatabasePool(path: path)
        defer { try? pool.close() }
        let plain = Plain(
            create: {
                try await pool.write { db in
                    try db.execute(
                        sql: """
                            CREATE TABLE plain (station_id TEXT NOT NULL, observed_at INTEGER NOT NULL,
                                bikes INTEGER NOT NULL, ebikes INTEGER, docks INTEGER)
                            """)
                }
            },
            insert: { rows in
                try await pool.write { db in
                    let insert = try db.makeStatement(sql: "INSERT INTO plain VALUES (?, ?, ?, ?, ?)")
                    for o in rows {
                        try insert.execute(arguments: [
                            o.stationID, o.observedAt, o.bikesAvailable, o.ebikesAvailable, o.docksAvailable,
                        ])
                    }
                }
            },
            index: {
                try await pool.write { db in
                    try db.execute(sql: "CREATE INDEX plain_station_time ON plain(station_id, observed_at)")
                }
            },
            groupBy: {
                try await pool.write { db -> Int in
                    try db.execute(sql: Self.groupBy)
                    return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM plain_hours") ?? 0
                }
            })
        return try await measure(store: store, backend: "SQLite", plain: plain, logger: logger)
    }

    /// The plain SQL: the hourly counts of every station from the unpacked rows.
    static let groupBy = """
        CREATE TABLE plain_hours AS
        SELECT station_id, observed_at / 3600000 AS hour, COUNT(*) AS observations,
            AVG(bikes) AS bikes_mean, MIN(bikes) AS bikes_min, MAX(bikes) AS bikes_max,
            AVG(ebikes) AS ebikes_mean, MIN(ebikes) AS ebikes_min, MAX(ebikes) AS ebikes_max,
            AVG(docks) AS docks_mean, MIN(docks) AS docks_min, MAX(docks) AS docks_max
        FROM plain GROUP BY station_id, observed_at / 3600000
        """

    func measure(store: any Store & WorkQueue, backend: String, plain: Plain, logger: Logger) async throws -> Report {
        // Midnight UTC, 2026-01-05.
        let start: Int64 = 1_767_571_200_000
        let minutes = days * 1_440
        let end = start + Int64(minutes) * 60_000

        // The history, all but its last 5 minutes, through the store's own write path; and the
        // same observations unpacked into a plain table with an index.
        let loading = ContinuousClock.now
        try await plain.create()
        for first in stride(from: 0, to: minutes - 5, by: 30) {
            let batch = (first..<min(first + 30, minutes - 5)).map { Self.result($0, start: start, stations: stations) }
            try await store.write(batch)
            try await plain.insert(batch.flatMap(\.observations.stations))
        }
        try await plain.index()
        let loadSeconds = seconds(ContinuousClock.now - loading)
        let observations = (minutes - 5) * stations

        // The full refresh, from no watermark.
        let job = RefreshHourlyJob()
        var clock = ContinuousClock.now
        let full = try await job.run(
            JobContext(
                jobID: job.description.id, now: end + 60_000, watermark: nil, store: store, queue: store,
                logger: logger))
        let fullSeconds = seconds(ContinuousClock.now - clock)

        // The plain SQL over the same observations.
        clock = ContinuousClock.now
        let baselineRows = try await plain.groupBy()
        let baselineSeconds = seconds(ContinuousClock.now - clock)

        // One cycle's worth of new observations (the last 5 minutes), then the incremental run.
        try await store.write((minutes - 5..<minutes).map { Self.result($0, start: start, stations: stations) })
        clock = ContinuousClock.now
        let incremental = try await job.run(
            JobContext(
                jobID: job.description.id, now: end + 60_000, watermark: full.watermark, store: store, queue: store,
                logger: logger))
        let incrementalSeconds = seconds(ContinuousClock.now - clock)
        return Report(
            backend: backend, stations: stations, snapshots: minutes, observations: observations,
            loadSeconds: loadSeconds, fullSeconds: fullSeconds, fullRows: full.rowsWritten,
            baselineSeconds: baselineSeconds, baselineRows: baselineRows, incrementalSeconds: incrementalSeconds,
            incrementalRows: incremental.rowsWritten)
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
