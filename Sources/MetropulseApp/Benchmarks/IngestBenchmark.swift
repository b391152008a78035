import Foundation
import GRDB
import MetropulseConnectors
public import MetropulseCore
import MetropulseSQLite

/// `metropulse bench ingest`: replays the Vélib' capture as successive snapshots through
/// parse → normalize → raw + latest + run record in SQLite, against a baseline measured in the
/// same run: the same rows inserted with one prepared statement in one transaction per snapshot
/// into a bare table.
public struct IngestBenchmark: Sendable {
    public struct Report: Sendable, CustomStringConvertible {
        public var snapshots: Int
        public var rows: Int
        public var bytes: Int
        public var pipelineSeconds: Double
        /// The parse + normalize share of `pipelineSeconds`.
        public var parseSeconds: Double
        public var pipelineCPUSeconds: Double
        /// All rows in one transaction.
        public var baselineSeconds: Double
        /// One transaction per snapshot, like the pipeline.
        public var perSnapshotBaselineSeconds: Double

        public var pipelineRowsPerSecond: Double { Double(rows) / pipelineSeconds }
        public var baselineRowsPerSecond: Double { Double(rows) / baselineSeconds }
        public var perSnapshotBaselineRowsPerSecond: Double { Double(rows) / perSnapshotBaselineSeconds }
        public var ratio: Double { pipelineRowsPerSecond / baselineRowsPerSecond }

        public var description: String {
            func f(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
            return """
                ingest benchmark: \(snapshots) snapshots x \(rows / max(1, snapshots)) stations = \(rows) rows
                  pipeline (parse + normalize + raw + latest + run, SQLite FULL sync): \(f(pipelineRowsPerSecond)) rows/s, \
                \(f(pipelineCPUSeconds / Double(rows) * 1e6, 2)) µs CPU/row
                    of which parse + normalize: \(f(parseSeconds / Double(rows) * 1e6, 2)) µs/row \
                (\(f(Double(bytes) / parseSeconds / 1e6, 1)) MB/s); store: \
                \(f((pipelineSeconds - parseSeconds) / Double(rows) * 1e6, 2)) µs/row
                  baseline (same rows, one prepared INSERT, one transaction, bare table): \(f(baselineRowsPerSecond)) rows/s
                  ratio pipeline/baseline: \(f(ratio, 2))
                  second baseline (same, one transaction per snapshot like the pipeline): \
                \(f(perSnapshotBaselineRowsPerSecond)) rows/s, ratio \(f(pipelineRowsPerSecond / perSnapshotBaselineRowsPerSecond, 2))
                """
        }
    }

    public var statusPath: String
    public var informationPath: String
    public var snapshots: Int
    public var directory: String

    public init(statusPath: String, informationPath: String, snapshots: Int, directory: String) {
        self.statusPath = statusPath
        self.informationPath = informationPath
        self.snapshots = snapshots
        self.directory = directory
    }

    public func run() async throws -> Report {
        let information = try GBFSParser.stationInformation(
            Array(try Data(contentsOf: URL(fileURLWithPath: informationPath))))
        let bodies = try snapshotBodies()

        // Pipeline: the production code path.
        let pipelinePath = directory + "/bench-ingest-\(getpid()).sqlite"
        defer { removeDatabase(pipelinePath) }
        let backend = try SQLiteBackend(path: pipelinePath)
        var rows = 0
        var normalized: [[StationObservation]] = []
        let cpuBefore = ProcessStats.cpuSeconds
        let started = ContinuousClock.now
        var parseDuration = Duration.zero
        for (index, body) in bodies.enumerated() {
            let now = Int64(1_760_778_679_000) + Int64(index) * 60_000
            let parseStarted = ContinuousClock.now
            let snapshot = try GBFSParser.stationStatus(body, sourceID: "velib", catalog: information, fetchedAt: now)
            parseDuration += ContinuousClock.now - parseStarted
            let run = TaskRun(
                id: "bench@\(index)#1", jobID: "bench@\(index)", taskID: nil, sourceID: "velib", attempt: 1,
                workerID: "bench", status: .succeeded, startedAt: now, finishedAt: now,
                entityCount: snapshot.stations.count)
            try await backend.write([
                RunResult(run: run, observations: ObservationBatch(stations: snapshot.stations), outcome: nil)
            ])
            rows += snapshot.stations.count
            normalized.append(snapshot.stations)
        }
        let pipelineSeconds = (ContinuousClock.now - started).seconds
        let pipelineCPU = ProcessStats.cpuSeconds - cpuBefore
        try backend.close()
        let stored = try await DatabaseQueue(path: pipelinePath).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM station_observations") ?? 0
        }
        guard stored == rows else {
            throw BenchmarkError("pipeline stored \(stored) raw rows, expected \(rows)")
        }

        // Baselines: the same rows with one prepared statement into a bare table, first all in one
        // transaction (the baseline), then one transaction per snapshot (the pipeline's unit).
        let baselinePath = directory + "/bench-baseline-\(getpid()).sqlite"
        defer { removeDatabase(baselinePath) }
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let pool = try DatabasePool(path: baselinePath, configuration: configuration)
        try await pool.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE bare (source_id TEXT, station_id TEXT, observed_at INTEGER, fetched_at INTEGER,
                        run_id TEXT, bikes_available INTEGER, mechanical_available INTEGER, ebikes_available INTEGER,
                        docks_available INTEGER, capacity INTEGER, is_installed INTEGER, is_renting INTEGER,
                        is_returning INTEGER, status TEXT, occupancy_rate REAL)
                    """)
        }
        let rowsToInsert = normalized
        let oneTransactionStarted = ContinuousClock.now
        try await pool.write { db in
            let statement = try db.makeStatement(sql: Self.bareInsert)
            for (index, stations) in rowsToInsert.enumerated() {
                try Self.insertBare(stations, index: index, with: statement)
            }
        }
        let oneTransactionSeconds = (ContinuousClock.now - oneTransactionStarted).seconds
        let perSnapshotStarted = ContinuousClock.now
        for (index, stations) in rowsToInsert.enumerated() {
            try await pool.write { db in
                try Self.insertBare(stations, index: index, with: try db.cachedStatement(sql: Self.bareInsert))
            }
        }
        let perSnapshotSeconds = (ContinuousClock.now - perSnapshotStarted).seconds
        try pool.close()
        return Report(
            snapshots: bodies.count, rows: rows, bytes: bodies.reduce(0) { $0 + $1.count },
            pipelineSeconds: pipelineSeconds, parseSeconds: parseDuration.seconds, pipelineCPUSeconds: pipelineCPU,
            baselineSeconds: oneTransactionSeconds, perSnapshotBaselineSeconds: perSnapshotSeconds)
    }

    static let bareInsert = "INSERT INTO bare VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

    static func insertBare(_ stations: [StationObservation], index: Int, with statement: Statement) throws {
        for s in stations {
            statement.setUncheckedArguments([
                s.sourceID, s.stationID, s.observedAt, Int64(index), "bench", s.bikesAvailable, s.mechanicalAvailable,
                s.ebikesAvailable, s.docksAvailable, s.capacity, s.isInstalled, s.isRenting, s.isReturning,
                s.status.rawValue, s.occupancyRate,
            ])
            try statement.execute()
        }
    }

    /// The capture, re-timed: snapshot k moves every `last_reported` and the file time by k minutes,
    /// so every snapshot's rows are new observations.
    func snapshotBodies() throws -> [[UInt8]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: statusPath))
        guard var root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            var payload = root["data"] as? [String: Any], let stations = payload["stations"] as? [[String: Any]]
        else { throw BenchmarkError("\(statusPath) is not a station_status file") }
        let baseTime = (root["lastUpdatedOther"] as? Int) ?? (root["last_updated"] as? Int) ?? 0
        var bodies: [[UInt8]] = []
        for k in 0..<snapshots {
            var shifted = stations
            for i in shifted.indices {
                if let reported = shifted[i]["last_reported"] as? Int {
                    shifted[i]["last_reported"] = reported + k * 60
                }
            }
            payload["stations"] = shifted
            root["data"] = payload
            root["lastUpdatedOther"] = baseTime + k * 60
            bodies.append(Array(try JSONSerialization.data(withJSONObject: root)))
        }
        return bodies
    }

    private func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
