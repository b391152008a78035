import Foundation
import Logging
import MetropulseConnectors
import MetropulseCore
import MetropulsePostgres
public import MetropulseSQLite

/// `metropulse bench ingest`: replays the Vélib' capture as successive snapshots through
/// parse → normalize → raw + latest + run record, against a baseline measured in the same run.
/// On SQLite the baseline inserts the same rows with one prepared statement into a bare table; on
/// PostgreSQL (`postgresURL`) it sends them with `COPY` into an unlogged bare table.
public struct IngestBenchmark: Sendable {
    public struct Report: Sendable, CustomStringConvertible {
        /// What the pipeline writes to, e.g. `SQLite synchronous=full`.
        public var store: String
        public var baselineLabel: String
        public var secondBaselineLabel: String
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

        public var perSnapshotRatio: Double { pipelineRowsPerSecond / perSnapshotBaselineRowsPerSecond }

        /// One line: this round's figures.
        public var description: String {
            """
            pipeline \(f(pipelineRowsPerSecond)) rows/s (\(f(pipelineCPUSeconds / Double(rows) * 1e6, 2)) µs CPU/row; \
            parse + normalize \(f(parseSeconds / Double(rows) * 1e6, 2)) µs/row, \
            \(f(Double(bytes) / parseSeconds / 1e6, 1)) MB/s; store \(f((pipelineSeconds - parseSeconds) / Double(rows) * 1e6, 2)) µs/row), \
            baseline \(f(baselineRowsPerSecond)) rows/s, ratio \(f(ratio, 2)); \
            second baseline \(f(perSnapshotBaselineRowsPerSecond)) rows/s, ratio \(f(perSnapshotRatio, 2))
            """
        }
    }

    /// Every round (the pipeline on a fresh store, then the baselines) and the medians: the
    /// machine's speed drifts by tens of percent within seconds, so one short run says little.
    public struct Summary: Sendable, CustomStringConvertible {
        public var rounds: [Report]

        public var medianRatio: Double { median(rounds.map(\.ratio)) }

        public var description: String {
            guard let first = rounds.first else { return "ingest benchmark: no rounds" }
            var lines = [
                "ingest benchmark: \(first.snapshots) snapshots x \(first.rows / max(1, first.snapshots)) stations = \(first.rows) rows, \(rounds.count) rounds",
                "  pipeline: parse + normalize + raw + latest + run, \(first.store)",
                "  baseline: \(first.baselineLabel)",
                "  second baseline: \(first.secondBaselineLabel)",
            ]
            for (index, round) in rounds.enumerated() { lines.append("  round \(index + 1): \(round)") }
            lines.append(
                "  median: pipeline \(f(median(rounds.map(\.pipelineRowsPerSecond)))) rows/s, baseline \(f(median(rounds.map(\.baselineRowsPerSecond)))) rows/s, ratio pipeline/baseline \(f(medianRatio, 2)) (median of the rounds' ratios); second baseline ratio \(f(median(rounds.map(\.perSnapshotRatio)), 2))"
            )
            return lines.joined(separator: "\n")
        }
    }

    public var statusPath: String
    public var informationPath: String
    public var snapshots: Int
    public var directory: String
    public var synchronous: SQLiteBackend.Configuration.Synchronous
    /// Measure on this PostgreSQL database (in a scratch schema) instead of SQLite.
    public var postgresURL: String?
    /// Rounds of pipeline then baselines; the summary gives their medians.
    public var rounds: Int

    public init(
        statusPath: String, informationPath: String, snapshots: Int, directory: String,
        synchronous: SQLiteBackend.Configuration.Synchronous = .full, postgresURL: String? = nil, rounds: Int = 3
    ) {
        self.rounds = max(1, rounds)
        self.synchronous = synchronous
        self.postgresURL = postgresURL
        self.statusPath = statusPath
        self.informationPath = informationPath
        self.snapshots = snapshots
        self.directory = directory
    }

    public func run() async throws -> Summary {
        var reports: [Report] = []
        for _ in 0..<rounds { reports.append(try await runRound()) }
        return Summary(rounds: reports)
    }

    /// The pipeline on a fresh store, then the baselines on the same rows.
    func runRound() async throws -> Report {
        if let postgresURL { return try await runPostgres(url: postgresURL) }
        let pipelinePath = directory + "/bench-ingest-\(getpid()).sqlite"
        defer { removeDatabase(pipelinePath) }
        let backend = try SQLiteBackend(path: pipelinePath, configuration: .init(synchronous: synchronous))
        let pipeline = try await runPipeline(on: backend)
        try backend.close()

        // Baselines: the same rows with one prepared statement into a bare table, first all in one
        // transaction (the issue's baseline), then one transaction per snapshot (the pipeline's unit).
        let baselinePath = directory + "/bench-baseline-\(getpid()).sqlite"
        defer { removeDatabase(baselinePath) }
        let baseline = try BareInsertBaseline(path: baselinePath, synchronous: synchronous.rawValue)
        let oneTransactionSeconds = try await baseline.insert(pipeline.normalized, transactionPerSnapshot: false)
            .seconds
        let perSnapshotSeconds = try await baseline.insert(pipeline.normalized, transactionPerSnapshot: true).seconds
        try baseline.close()
        return pipeline.report(
            store: "SQLite synchronous=\(synchronous.rawValue)",
            baselineLabel: "same rows, one prepared INSERT, one transaction, bare table",
            baselineSeconds: oneTransactionSeconds,
            secondBaselineLabel: "same, one transaction per snapshot like the pipeline",
            secondBaselineSeconds: perSnapshotSeconds)
    }

    /// The PostgreSQL variant, in a scratch schema dropped afterwards.
    func runPostgres(url: String) async throws -> Report {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        return try await PostgresBackend.withScratchSchema(url: url, schema: "bench_ingest_\(getpid())", logger: logger)
        {
            backend in
            let pipeline = try await runPipeline(on: backend)
            let baseline = try await PostgresCopyBaseline(client: backend.client, logger: logger)
            let oneCopy = try await baseline.copy(pipeline.normalized, copyPerSnapshot: false).seconds
            let perSnapshot = try await baseline.copy(pipeline.normalized, copyPerSnapshot: true).seconds
            return pipeline.report(
                store: "PostgreSQL, one transaction per snapshot",
                baselineLabel: "same rows, one COPY into an unlogged bare table", baselineSeconds: oneCopy,
                secondBaselineLabel: "same, one COPY per snapshot", secondBaselineSeconds: perSnapshot)
        }
    }

    struct PipelineRun {
        var snapshots: Int
        var rows: Int
        var bytes: Int
        var seconds: Double
        var parseSeconds: Double
        var cpuSeconds: Double
        var normalized: [[StationObservation]]

        func report(
            store: String, baselineLabel: String, baselineSeconds: Double, secondBaselineLabel: String,
            secondBaselineSeconds: Double
        ) -> Report {
            Report(
                store: store, baselineLabel: baselineLabel, secondBaselineLabel: secondBaselineLabel,
                snapshots: snapshots, rows: rows, bytes: bytes, pipelineSeconds: seconds, parseSeconds: parseSeconds,
                pipelineCPUSeconds: cpuSeconds, baselineSeconds: baselineSeconds,
                perSnapshotBaselineSeconds: secondBaselineSeconds)
        }
    }

    /// Parse, normalize and write every snapshot through the store, one run per snapshot.
    func runPipeline(on backend: any Store) async throws -> PipelineRun {
        let information = try GBFSParser.stationInformation(
            Array(try Data(contentsOf: URL(fileURLWithPath: informationPath))))
        let bodies = try snapshotBodies()
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
        let stored = try await backend.rawStationObservationCount(sourceID: nil)
        guard stored == rows else {
            throw BenchmarkError("pipeline stored \(stored) raw rows, expected \(rows)")
        }
        return PipelineRun(
            snapshots: bodies.count, rows: rows, bytes: bodies.reduce(0) { $0 + $1.count }, seconds: pipelineSeconds,
            parseSeconds: parseDuration.seconds, cpuSeconds: pipelineCPU, normalized: normalized)
    }

    /// The capture, re-timed: snapshot k moves every `last_reported` and the file time by k minutes,
    /// so every snapshot's rows are new observations. Digits are rewritten in place (the bytes are
    /// otherwise the capture's own).
    func snapshotBodies() throws -> [[UInt8]] {
        let original = Array(try Data(contentsOf: URL(fileURLWithPath: statusPath)))
        let keys = [
            Array(#""last_reported":"#.utf8), Array(#""lastUpdatedOther":"#.utf8), Array(#""last_updated":"#.utf8),
        ]
        var positions: [Range<Int>] = []
        var i = 0
        while i < original.count {
            if original[i] == UInt8(ascii: "\""),
                let key = keys.first(where: { original[i...].starts(with: $0) })
            {
                var start = i + key.count
                while start < original.count, original[start] == UInt8(ascii: " ") { start += 1 }
                var end = start
                while end < original.count, (0x30...0x39).contains(original[end]) { end += 1 }
                if end > start { positions.append(start..<end) }
                i = end
            } else {
                i += 1
            }
        }
        guard !positions.isEmpty else { throw BenchmarkError("\(statusPath) has no last_reported times") }
        return (0..<snapshots).map { k in
            var body = original
            for range in positions {
                let value = Int(String(decoding: original[range], as: UTF8.self))! + k * 60
                let digits = Array(String(value).utf8)
                if digits.count == range.count { body.replaceSubrange(range, with: digits) }
            }
            return body
        }
    }

    private func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

private func f(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
