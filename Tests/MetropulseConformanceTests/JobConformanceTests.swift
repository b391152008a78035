import Foundation
import Logging
import MetropulseCore
import Synchronization
import Testing

/// The job runner's bookkeeping (`JobStore`), the gold tier's station hours (`AggregateStore`)
/// and the runner itself, on every store backend.
@Suite("Jobs and the gold tier")
struct JobConformanceTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let hour = StationHours.hourMillis
    /// 2026-01-05 00:00 UTC.
    static let day: Int64 = 1_767_571_200_000

    static func station(_ id: String, bikes: Int, docks: Int? = nil, at observedAt: Int64, open: Bool = true)
        -> StationObservation
    {
        StationObservation(
            sourceID: "bikes", stationID: id, capacity: 10, bikesAvailable: bikes, ebikesAvailable: bikes / 2,
            docksAvailable: docks ?? (10 - bikes), isInstalled: true, isRenting: open, isReturning: open,
            observedAt: observedAt)
    }

    static func write(_ store: any Store, _ runID: String, fetchedAt: Int64, _ stations: [StationObservation])
        async throws
    {
        try await store.write([
            RunResult(
                run: TaskRun(
                    id: runID, jobID: runID, taskID: nil, sourceID: "bikes", attempt: 1, workerID: "w",
                    status: .succeeded, startedAt: fetchedAt - 5, finishedAt: fetchedAt,
                    entityCount: stations.count),
                observations: ObservationBatch(stations: stations), outcome: nil)
        ])
    }

    @Test(
        "job runs: a running run replaced when it ends, newest first, filtered, pruned", arguments: BackendFactory.all)
    func runs(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        var first = JobRun(
            jobID: "refresh_hourly", cycle: 300_000, trigger: .schedule, attempt: 1, status: .running,
            startedAt: 300_100)
        try await store.recordJobRun(first)
        first.status = .failed
        first.finishedAt = 300_900
        first.error = "timed out after 1 s"
        try await store.recordJobRun(first)
        let second = JobRun(
            jobID: "refresh_hourly", cycle: 300_000, trigger: .schedule, attempt: 2, status: .succeeded,
            startedAt: 301_000, finishedAt: 301_500, rowsRead: 42, rowsWritten: 7, detail: "rewrote 2 hours")
        let manual = JobRun(
            jobID: "check_store_health", cycle: 302_000, trigger: .manual, attempt: 1, status: .skipped,
            startedAt: 302_000, finishedAt: 302_000, error: "paused", requestedBy: "ops")
        try await store.recordJobRun(second)
        try await store.recordJobRun(manual)
        #expect(try await store.jobRuns(JobRunQuery()) == [manual, second, first])
        #expect(try await store.jobRuns(JobRunQuery(jobID: "refresh_hourly")) == [second, first])
        #expect(try await store.jobRuns(JobRunQuery(status: .failed)) == [first])
        #expect(try await store.jobRuns(JobRunQuery(since: 301_000)) == [manual, second])
        #expect(try await store.jobRuns(JobRunQuery(limit: 1)) == [manual])
        #expect(try await store.jobRun(id: first.id) == first)
        #expect(first.id == "refresh_hourly-300000-1")
        #expect(try await store.jobRun(id: "nope") == nil)
        #expect(try await store.pruneJobRuns(before: 301_000) == 1)
        #expect(try await store.jobRuns(JobRunQuery()).map(\.id) == [manual.id, second.id])
    }

    @Test(
        "job state: pause, a pending request keeps its time, a newer one survives clearing, watermark",
        arguments: BackendFactory.all)
    func states(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        #expect(try await store.jobStates().isEmpty)
        try await store.setJobPaused("a", paused: true)
        try await store.requestJobRun("b", at: 1_000, by: "ops")
        try await store.requestJobRun("b", at: 2_000, by: "other")
        try await store.setJobWatermark("c", to: 99)
        #expect(
            try await store.jobStates() == [
                JobState(jobID: "a", paused: true), JobState(jobID: "b", requestedAt: 1_000, requestedBy: "ops"),
                JobState(jobID: "c", watermark: 99),
            ])
        try await store.clearJobRequest("b", upTo: 500)  // an older request: this one stays
        #expect(try await store.jobStates()[1].requestedAt == 1_000)
        try await store.clearJobRequest("b", upTo: 1_000)
        try await store.setJobPaused("a", paused: false)
        try await store.setJobWatermark("a", to: 5)
        try await store.requestJobRun("a", at: 3_000, by: nil)
        #expect(
            try await store.jobStates() == [
                JobState(jobID: "a", paused: false, requestedAt: 3_000, watermark: 5), JobState(jobID: "b"),
                JobState(jobID: "c", watermark: 99),
            ])
    }

    /// Three stations over five hours, with a closed spell, an empty one, a full one and a gap.
    static func history() -> [(fetchedAt: Int64, stations: [StationObservation])] {
        var batches: [(Int64, [StationObservation])] = []
        for minute in stride(from: 0, to: 300, by: 5) {
            let t = day + Int64(minute) * 60_000
            var stations = [
                station("1", bikes: minute % 60 < 20 ? 0 : 4, at: t),
                station("2", bikes: 10, docks: 0, at: t, open: !(120..<150).contains(minute)),
            ]
            // Station 3 reports every 20 minutes, and not at all in the third hour.
            if minute % 20 == 0 && !(120..<180).contains(minute) {
                stations.append(station("3", bikes: 3, at: t + 7_000))
            }
            batches.append((t + 30_000, stations))
        }
        return batches
    }

    @Test("refresh_hourly equals the plain computation, and a full rebuild", arguments: BackendFactory.all)
    func hourlyAggregates(_ factory: BackendFactory) async throws {
        let incremental = try await factory.make()
        defer { incremental.cleanup() }
        let full = try await factory.make()
        defer { full.cleanup() }
        let job = RefreshHourlyJob()
        let batches = Self.history()
        var watermark: Int64?
        func run(_ backend: ConformanceBackend, now: Int64) async throws -> JobResult {
            let result = try await job.run(
                JobContext(
                    jobID: "refresh_hourly", now: now, watermark: watermark, store: backend.store,
                    queue: backend.queue, logger: Self.logger))
            watermark = result.watermark ?? watermark
            return result
        }
        // Incremental: a run after every fourth batch; then a late observation of an early hour.
        for (index, batch) in batches.enumerated() {
            try await Self.write(incremental.store, "r\(index)", fetchedAt: batch.fetchedAt, batch.stations)
            if index % 4 == 3 { _ = try await run(incremental, now: batch.fetchedAt) }
        }
        let late = Self.station("4", bikes: 0, at: Self.day + 30 * 60_000)
        try await Self.write(incremental.store, "late", fetchedAt: Self.day + 301 * 60_000, [late])
        let last = try await run(incremental, now: Self.day + 302 * 60_000)
        // The hour from 300 min on is not over: the watermark waits before the first block whose
        // observations reach into it (at 285 min, held 15 min).
        #expect(last.rowsWritten > 0 && watermark == Self.day + 285 * 60_000 + 30_000)
        let before = try await incremental.store.stationHours(
            sourceID: "bikes", stationID: nil, since: nil, until: nil, limit: 1_000)
        let again = try await run(incremental, now: Self.day + 303 * 60_000)  // nothing new: the same rows
        #expect(again.rowsRead > 0)
        #expect(
            try await incremental.store.stationHours(
                sourceID: "bikes", stationID: nil, since: nil, until: nil, limit: 1_000) == before)

        // Full rebuild: everything written first, one run without a watermark.
        for (index, batch) in batches.enumerated() {
            try await Self.write(full.store, "r\(index)", fetchedAt: batch.fetchedAt, batch.stations)
        }
        try await Self.write(full.store, "late", fetchedAt: Self.day + 301 * 60_000, [late])
        watermark = nil
        _ = try await run(full, now: Self.day + 302 * 60_000)

        var rows: [StationHour] = []
        var rebuilt: [StationHour] = []
        for id in ["1", "2", "3", "4"] {
            rows += try await incremental.store.stationHours(
                sourceID: "bikes", stationID: id, since: nil, until: nil, limit: 100)
            rebuilt += try await full.store.stationHours(
                sourceID: "bikes", stationID: id, since: nil, until: nil, limit: 100)
        }
        #expect(rows == rebuilt)
        #expect(rows.count == 15)  // 5 hours of stations 1 and 2, 4 of station 3, 1 of station 4
        let all = batches.flatMap(\.stations) + [late]
        #expect(Self.sorted(rows) == Self.sorted(Self.plain(all)))
        let everyStation = try await full.store.stationHours(
            sourceID: "bikes", stationID: nil, since: Self.day + Self.hour, until: Self.day + Self.hour, limit: 100)
        #expect(everyStation.map(\.stationID) == ["1", "2", "3"])
        #expect(rows.contains { $0.bikesTaken > 0 } && rows.contains { $0.bikesReturned > 0 })

        // Days, from the hours written since the watermark: the same on both stores, and equal to
        // the hours summed.
        var dailyMark: Int64?
        for backend in [incremental, full] {
            dailyMark = nil
            let daily = try await RefreshDailyJob().run(
                JobContext(
                    jobID: "refresh_daily", now: Self.day + 304 * 60_000, watermark: dailyMark, store: backend.store,
                    queue: backend.queue, logger: Self.logger))
            #expect(daily.rowsWritten == 4 && daily.watermark != nil)
        }
        let days = try await incremental.store.stationDays(
            sourceID: "bikes", stationID: nil, since: nil, until: nil, limit: 100)
        #expect(
            days
                == (try await full.store.stationDays(
                    sourceID: "bikes", stationID: nil, since: nil, until: nil, limit: 100)))
        let one = try #require(days.first { $0.stationID == "1" })
        let hoursOfOne = rows.filter { $0.stationID == "1" }
        #expect(one.hour == Self.day && one.observations == hoursOfOne.reduce(0) { $0 + $1.observations })
        #expect(one.minutesEmpty == hoursOfOne.reduce(0) { $0 + $1.minutesEmpty })
        #expect(one.bikesTaken == hoursOfOne.reduce(0) { $0 + $1.bikesTaken })
        #expect(one.bikesMin == 0 && one.bikesMax == 4)

        // The ranking over the last 24 hours.
        let ranked = try await StationRankingJob().run(
            JobContext(
                jobID: "compute_station_ranking", now: Self.day + 304 * 60_000, watermark: nil, store: full.store,
                queue: full.queue, logger: Self.logger))
        #expect(ranked.rowsWritten == 4)
        let byEmpty = try await full.store.stationRanking(sourceID: "bikes", by: .empty, limit: 10)
        #expect(byEmpty.map(\.rankEmpty) == [1, 2, 3, 4])
        #expect(byEmpty.first?.stationID == "1")
        let byTurnover = try await full.store.stationRanking(sourceID: "bikes", by: .turnover, limit: 2)
        #expect(
            byTurnover.first?.stationID == "1"
                && byTurnover.first?.turnover == hoursOfOne.reduce(0) { $0 + $1.bikesTaken + $1.bikesReturned })
        let byFull = try await full.store.stationRanking(sourceID: "bikes", by: .full, limit: 1)
        #expect(byFull.first?.stationID == "2")
    }

    static func sorted(_ rows: [StationHour]) -> [StationHour] {
        rows.sorted { ($0.stationID, $0.hour) < ($1.stationID, $1.hour) }
    }

    /// The statistics written out the long way, to check `StationHours` against.
    static func plain(_ observations: [StationObservation]) -> [StationHour] {
        let hold = StationHours.maxHoldMillis
        var rows: [StationHour] = []
        for (id, list) in Dictionary(grouping: observations, by: \.stationID) {
            let timeline = list.sorted { $0.observedAt < $1.observedAt }
            for hourStart in Set(timeline.map { $0.observedAt - $0.observedAt % hour }).sorted() {
                let inHour = timeline.filter { $0.observedAt >= hourStart && $0.observedAt < hourStart + hour }
                var empty = 0.0
                var full = 0.0
                var closed = 0.0
                // Minute by minute: the state in force is the last observation at most `hold` old.
                for minute in 0..<60 {
                    let at = hourStart + Int64(minute) * 60_000
                    for sub in 0..<60 {
                        let instant = at + Int64(sub) * 1_000
                        guard let current = timeline.last(where: { $0.observedAt <= instant }),
                            instant - current.observedAt < hold
                        else { continue }
                        if current.status != .inService {
                            closed += 1 / 60
                        } else {
                            if current.bikesAvailable == 0 { empty += 1 / 60 }
                            if current.docksAvailable == 0 { full += 1 / 60 }
                        }
                    }
                }
                var taken = 0
                var returned = 0
                for observation in inHour {
                    guard let previous = timeline.last(where: { $0.observedAt < observation.observedAt }),
                        observation.observedAt - previous.observedAt <= hold
                    else { continue }
                    let change = observation.bikesAvailable - previous.bikesAvailable
                    if change < 0 { taken -= change } else { returned += change }
                }
                let bikes = inHour.map(\.bikesAvailable)
                let ebikes = inHour.compactMap(\.ebikesAvailable)
                let docks = inHour.compactMap(\.docksAvailable)
                let occupancy = inHour.compactMap(\.occupancyRate)
                rows.append(
                    StationHour(
                        sourceID: "bikes", stationID: id, hour: hourStart, observations: inHour.count,
                        bikesMean: Double(bikes.reduce(0, +)) / Double(bikes.count), bikesMin: bikes.min()!,
                        bikesMax: bikes.max()!, ebikesMean: Double(ebikes.reduce(0, +)) / Double(ebikes.count),
                        ebikesMin: ebikes.min(), ebikesMax: ebikes.max(),
                        docksMean: Double(docks.reduce(0, +)) / Double(docks.count), docksMin: docks.min(),
                        docksMax: docks.max(), occupancyMean: occupancy.reduce(0, +) / Double(occupancy.count),
                        minutesEmpty: (empty * 1000).rounded() / 1000, minutesFull: (full * 1000).rounded() / 1000,
                        minutesClosed: (closed * 1000).rounded() / 1000, bikesTaken: taken, bikesReturned: returned))
            }
        }
        return rows
    }
}
