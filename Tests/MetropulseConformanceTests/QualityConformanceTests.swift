import Foundation
import Logging
import MetropulseCore
import Testing

/// Rejections kept with their runs, the data-quality results (`QualityStore`) and the
/// `data_quality_check` job, on every store backend.
@Suite("Data quality")
struct QualityConformanceTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    /// 2026-01-05 12:00 UTC.
    static let now: Int64 = 1_767_571_200_000 + 12 * 3_600_000

    static func run(
        _ id: String, source: String = "bikes", at finishedAt: Int64, entities: Int = 0, rejected: Int = 0,
        rejections: [Rejection] = [], status: TaskRunStatus = .succeeded
    ) -> TaskRun {
        TaskRun(
            id: id, jobID: id, taskID: nil, sourceID: source, attempt: 1, workerID: "w", status: status,
            startedAt: finishedAt - 100, finishedAt: finishedAt, entityCount: entities, rejectedCount: rejected,
            rejections: rejections)
    }

    @Test("a run keeps its rejections; totals and runs with rejections per window", arguments: BackendFactory.all)
    func rejections(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let refused = [
            Rejection(entity: "a", reason: "num_bikes_available -2 is negative"),
            Rejection(entity: "b\u{0}'\"", reason: "station_id is missing"),
            Rejection(entity: "c", reason: "lat 91 is out of range", field: "lat,lon"),
        ]
        let runs = [
            Self.run("old", at: Self.now - 48 * 3_600_000, entities: 10, rejected: 5, rejections: refused),
            Self.run("r1", at: Self.now - 60_000, entities: 8, rejected: 2, rejections: refused),
            Self.run("r2", at: Self.now - 30_000, entities: 9),
            Self.run("f1", at: Self.now - 20_000, status: .failed),
            Self.run(
                "t1", source: "transit", at: Self.now - 10_000, entities: 100, rejected: 1, rejections: [refused[0]]),
        ]
        try await store.write(runs.map { RunResult(run: $0, outcome: nil) })
        #expect(try await store.taskRun(id: "r1")?.rejections == refused)
        #expect(try await store.taskRun(id: "r2")?.rejections == [])
        let listed = try await store.taskRuns(TaskRunQuery(sourceID: "bikes", limit: 10))
        #expect(listed.first { $0.id == "r1" }?.rejections == refused)

        let totals = try await store.runTotals(since: Self.now - 24 * 3_600_000)
        #expect(
            totals == [
                SourceRunTotals(sourceID: "bikes", runs: 3, failed: 1, entities: 17, rejected: 2),
                SourceRunTotals(sourceID: "transit", runs: 1, failed: 0, entities: 100, rejected: 1),
            ])
        let withRejections = try await store.runsWithRejections(since: Self.now - 24 * 3_600_000, limit: 10)
        #expect(withRejections.map(\.id) == ["t1", "r1"])
        #expect(try await store.runsWithRejections(since: 0, limit: 1).map(\.id) == ["t1"])

        let groups = RejectionGroups(withRejections)
        #expect(
            groups.bySource["bikes"]?.map(\.reason).sorted() == [
                "lat # is out of range", "num_bikes_available # is negative", "station_id is missing",
            ])
        #expect(groups.bySource["bikes"]?.first { $0.reason == "lat # is out of range" }?.kept == true)
    }

    @Test("quality results: recorded, latest per check and source, history, pruned", arguments: BackendFactory.all)
    func results(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        #expect(try await store.latestQualityResults().isEmpty)
        let first = [
            QualityResult(
                check: "over_capacity", sourceID: "bikes", severity: .warning, count: 2, total: 10,
                detail: "2 of 10", samples: ["s1: 12 > 10", "s2: 'quoted' \"text\""], at: 1_000),
            QualityResult(
                check: "run_gaps", sourceID: "bikes", severity: .warning, count: 0, total: 50, detail: "fine", at: 1_000
            ),
        ]
        let second = [
            QualityResult(
                check: "over_capacity", sourceID: "bikes", severity: .warning, count: 0, total: 10, detail: "0 of 10",
                at: 2_000)
        ]
        try await store.recordQualityResults(first)
        try await store.recordQualityResults(second)
        try await store.recordQualityResults([])
        let latest = try await store.latestQualityResults()
        #expect(latest == [second[0], first[1]])
        #expect(try await store.qualityResults(QualityQuery(check: "over_capacity")) == [second[0], first[0]])
        #expect(try await store.qualityResults(QualityQuery(since: 1_500)) == second)
        #expect(try await store.qualityResults(QualityQuery(until: 1_500)).count == 2)
        #expect(try await store.qualityResults(QualityQuery(sourceID: "other")).isEmpty)
        #expect(try await store.qualityResults(QualityQuery(limit: 1)) == second)
        #expect(try await store.pruneQualityResults(before: 1_500) == 2)
        #expect(try await store.qualityResults(QualityQuery()) == second)
    }

    @Test("data_quality_check finds each kind of problem and records passes", arguments: BackendFactory.all)
    func job(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let minute: Int64 = 60_000
        func station(_ id: String, bikes: Int, docks: Int, lat: Double, lon: Double, at: Int64) -> StationObservation {
            StationObservation(
                sourceID: "bikes", stationID: id, name: "Station \(id)", latitude: lat, longitude: lon, capacity: 10,
                bikesAvailable: bikes, docksAvailable: docks, isInstalled: true, isRenting: true, isReturning: true,
                observedAt: at)
        }
        // Runs every minute for 7 hours, with a 30-minute gap, and one run listing a station twice.
        var results: [RunResult] = []
        var t = Self.now - 420 * minute
        var index = 0
        while t <= Self.now - minute {
            defer { t += t >= Self.now - 100 * minute && t < Self.now - 70 * minute ? 30 * minute : minute }
            index += 1
            let moving = index % 7
            var stations = [
                station("ok", bikes: moving, docks: 10 - moving, lat: 48.85, lon: 2.35, at: t),
                station("frozen", bikes: 4, docks: 6, lat: 48.86, lon: 2.34, at: t),
                station("over", bikes: 9, docks: 5 + index % 2, lat: 48.84, lon: 2.36, at: t),
                station("far", bikes: moving, docks: 3, lat: 43.3, lon: 5.4, at: t),
                station("twin", bikes: moving, docks: 1, lat: 48.85, lon: 2.35, at: t),
            ]
            if t == Self.now - minute {
                stations.append(station("future", bikes: 1, docks: 1, lat: 48.85, lon: 2.351, at: Self.now + 3_600_000))
            }
            let rejections =
                index == 3
                ? [
                    Rejection(entity: "ok", reason: Rejection.duplicateReason),
                    Rejection(entity: "x", reason: "num_bikes_available -1 is negative"),
                ] : []
            results.append(
                RunResult(
                    run: Self.run(
                        "run-\(index)", at: t, entities: stations.count, rejected: rejections.count,
                        rejections: rejections),
                    observations: ObservationBatch(stations: stations), outcome: nil))
        }
        try await store.write(results)
        let context = JobContext(
            jobID: "refresh_hourly", now: Self.now, watermark: nil, store: store, queue: backend.queue,
            logger: Self.logger)
        _ = try await RefreshHourlyJob().run(context)
        var quality = context
        quality.jobID = "data_quality_check"
        let outcome = try await DataQualityJob().run(quality)
        #expect(outcome.rowsWritten == DataQualityJob.Check.allCases.count)
        let latest = try await store.latestQualityResults()
        func result(_ check: DataQualityJob.Check) throws -> QualityResult {
            try #require(latest.first { $0.check == check.rawValue && $0.sourceID == "bikes" })
        }
        let gaps = try result(.runGaps)
        #expect(gaps.count == 1 && gaps.samples.first?.hasPrefix("30 min without a run") == true)
        let share = try result(.rejectedShare)
        #expect(share.count == 2 && share.severity == .info)
        #expect(share.samples.contains { $0.hasPrefix("num_bikes_available # is negative: 1") })
        let over = try result(.overCapacity)
        #expect(over.count == 1 && over.samples.first?.hasPrefix("over: 9 bikes + ") == true)
        let frozen = try result(.frozenCounters)
        #expect(frozen.count == 1 && frozen.samples.first?.hasPrefix("frozen: 4 bikes, 6 docks") == true)
        let far = try result(.outOfArea)
        #expect(far.count == 1 && far.samples.first?.hasPrefix("far: 6") == true)
        let future = try result(.futureObservations)
        #expect(future.count == 1 && future.samples.first?.hasPrefix("future: ") == true)
        let duplicates = try result(.duplicates)
        #expect(duplicates.count == 2)
        #expect(duplicates.samples.contains("ok: listed twice in one document"))
        #expect(duplicates.samples.contains("ok, twin: same position 48.85,2.35"))

        // A second cycle adds to the history; results that passed are kept too.
        quality.cycle = Self.now + 300_000
        _ = try await DataQualityJob().run(quality)
        let history = try await store.qualityResults(QualityQuery(check: "over_capacity", sourceID: "bikes"))
        #expect(history.map(\.at) == [Self.now + 300_000, Self.now])
    }

    @Test(
        "a burst of runs (a backfill) is not the source's cadence: the usual interval is that of its regular runs",
        arguments: BackendFactory.all)
    func burst(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        var runs: [TaskRun] = []
        var t = Self.now - 22 * 60_000
        for index in 0..<30 {  // a backfill: 30 runs 10 ms apart
            runs.append(Self.run("burst-\(index)", source: "air", at: t + 100, entities: 1))
            t += 10
        }
        t = Self.now - 20 * 60_000
        for index in 0..<12 {  // then every minute, with one pause of 170 s (under 3 × 60 s)
            runs.append(Self.run("live-\(index)", source: "air", at: t + 100, entities: 1))
            t += index == 5 ? 170_000 : 60_000
        }
        try await store.write(runs.map { RunResult(run: $0, outcome: nil) })
        _ = try await DataQualityJob().run(
            JobContext(
                jobID: "data_quality_check", now: t, watermark: nil, store: store, queue: backend.queue,
                logger: Self.logger))
        let gaps = try #require(try await store.latestQualityResults().first { $0.check == "run_gaps" })
        #expect(gaps.count == 0, "\(gaps.detail)")
        #expect(gaps.detail == "runs every 60 s as usual over the last 6 hours")
    }
}
