import Foundation
import GRDB
import Logging
public import MetropulseCore
import MetropulseSQLite

/// `metropulse bench analytics`: a Paris-size history (by default 1,500 stations, one snapshot a
/// minute for 7 days: about 15 million observations) in a fresh SQLite store; the full
/// `refresh_hourly` timed against a plain SQL `GROUP BY` over the same observations in an
/// unpacked, indexed table of the same file, and one incremental 5-minute cycle against the full
/// refresh.
public struct AnalyticsBenchmark: Sendable {
    public var stations: Int
    public var days: Int
    public var directory: String

    public init(stations: Int = 1_500, days: Int = 7, directory: String) {
        self.stations = max(1, stations)
        self.days = max(1, days)
        self.directory = directory
    }

    public struct Report: Sendable, CustomStringConvertible {
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
                analytics benchmark (SQLite): \(stations) stations x \(snapshots) snapshots = \(observations) observations \
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

    public func run() async throws -> Report {
        let folder = URL(fileURLWithPath: directory).appendingPathComponent("mp-analytics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("bench.sqlite").path
        let store = try SQLiteBackend(path: path)
        defer { try? store.close() }
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        // Midnight UTC, 2026-01-05.
        let start: Int64 = 1_767_571_200_000
        let minutes = days * 1_440
        let end = start + Int64(minutes) * 60_000

        // The history, all but its last 5 minutes, through the store's own write path; and the
        // same observations unpacked into a plain table with an index.
        let loading = ContinuousClock.now
        let baseline = try DatabasePool(path: path)
        try await baseline.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE plain (station_id TEXT NOT NULL, observed_at INTEGER NOT NULL, bikes INTEGER NOT NULL,
                        ebikes INTEGER, docks INTEGER)
                    """)
        }
        for first in stride(from: 0, to: minutes - 5, by: 30) {
            let batch = (first..<min(first + 30, minutes - 5)).map { Self.result($0, start: start, stations: stations) }
            try await store.write(batch)
            try await baseline.write { db in
                let insert = try db.makeStatement(sql: "INSERT INTO plain VALUES (?, ?, ?, ?, ?)")
                for result in batch {
                    for o in result.observations.stations {
                        try insert.execute(arguments: [
                            o.stationID, o.observedAt, o.bikesAvailable, o.ebikesAvailable, o.docksAvailable,
                        ])
                    }
                }
            }
        }
        try await baseline.write { db in
            try db.execute(sql: "CREATE INDEX plain_station_time ON plain(station_id, observed_at)")
        }
        let loadSeconds = seconds(ContinuousClock.now - loading)
        let observations = (minutes - 5) * stations

        // The full refresh, from no watermark.
        let job = RefreshHourlyJob()
        var clock = ContinuousClock.now
        let full = try await job.run(
            JobContext(
                jobID: job.description.id, now: end + 60_000, watermark: nil, store: store, queue: store, logger: logger
            ))
        let fullSeconds = seconds(ContinuousClock.now - clock)

        // The plain SQL over the same observations.
        clock = ContinuousClock.now
        let baselineRows = try await baseline.write { db -> Int in
            try db.execute(
                sql: """
                    CREATE TABLE plain_hours AS
                    SELECT station_id, observed_at / 3600000 AS hour, COUNT(*) AS observations,
                        AVG(bikes), MIN(bikes), MAX(bikes), AVG(ebikes), MIN(ebikes), MAX(ebikes),
                        AVG(docks), MIN(docks), MAX(docks)
                    FROM plain GROUP BY station_id, observed_at / 3600000
                    """)
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM plain_hours") ?? 0
        }
        let baselineSeconds = seconds(ContinuousClock.now - clock)

        // One cycle's worth of new observations (the last 5 minutes), then the incremental run.
        try await store.write((minutes - 5..<minutes).map { Self.result($0, start: start, stations: stations) })
        clock = ContinuousClock.now
        let incremental = try await job.run(
            JobContext(
                jobID: job.description.id, now: end + 60_000, watermark: full.watermark, store: store, queue: store,
                logger: logger))
        let incrementalSeconds = seconds(ContinuousClock.now - clock)
        try baseline.close()
        return Report(
            stations: stations, snapshots: minutes, observations: observations, loadSeconds: loadSeconds,
            fullSeconds: fullSeconds, fullRows: full.rowsWritten, baselineSeconds: baselineSeconds,
            baselineRows: baselineRows, incrementalSeconds: incrementalSeconds, incrementalRows: incremental.rowsWritten
        )
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
