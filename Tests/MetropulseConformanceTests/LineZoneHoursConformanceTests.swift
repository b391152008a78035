import Foundation
import Logging
import MetropulseCore
import Testing

/// `refresh_line_hours` and `refresh_zone_hours` on every store backend: departures are seen once
/// their time comes; the hours equal a plain computation, and incremental runs (with a late
/// reading) equal one full rebuild.
@Suite("Line punctuality and zone statistics")
struct LineZoneHoursConformanceTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let minute: Int64 = 60_000
    /// 2026-01-05 10:00 UTC.
    static let start: Int64 = 1_767_571_200_000 + 10 * 3_600_000

    /// Every 2 minutes a departure of line A (delay cycling -90...+420 s) and of line B (every
    /// fifth cancelled), from 10:01 to 11:59.
    static let schedule: [Departure] = (0..<60).flatMap { i -> [Departure] in
        let at = start + minute + Int64(i) * 2 * minute
        let delayA = [-90, 0, 30, 120, 299, 300, 420][i % 7]
        let cancelled = i % 5 == 0
        return [
            Departure(
                sourceID: "metro", stopID: "S\(i % 4)", stopSequence: i % 4, routeID: "A", tripID: "a\(i)",
                scheduledAt: at, expectedAt: at + Int64(delayA) * 1000, delaySeconds: delayA, observedAt: 0),
            Departure(
                sourceID: "metro", stopID: "S9", stopSequence: 1, routeID: "B", tripID: "b\(i)", scheduledAt: at,
                expectedAt: cancelled ? nil : at + 60_000, delaySeconds: cancelled ? nil : 60,
                relationship: cancelled ? "canceled" : "scheduled", observedAt: 0),
        ]
    }

    /// The feed at `t`: departures from 3 minutes ago to 30 minutes ahead.
    static func snapshot(at t: Int64) -> RunResult {
        let departures = schedule.filter { ($0.at ?? 0) > t - 3 * minute && ($0.at ?? 0) <= t + 30 * minute }.map {
            var d = $0
            d.observedAt = t
            return d
        }
        return RunResult(
            run: TaskRun(
                id: "m\(t)", jobID: "m\(t)", taskID: nil, sourceID: "metro", attempt: 1, workerID: "w",
                status: .succeeded, startedAt: t, finishedAt: t + 100),
            observations: ObservationBatch(departures: departures, transitSnapshot: true, transitObservedAt: t),
            outcome: nil)
    }

    static func readings(at t: Int64) -> RunResult {
        RunResult(
            run: TaskRun(
                id: "w\(t)", jobID: "w\(t)", taskID: nil, sourceID: "weather", attempt: 1, workerID: "w",
                status: .succeeded, startedAt: t, finishedAt: t + 100),
            observations: ObservationBatch(
                measurements: ["north", "south"].map { zone in
                    CityMeasurement(
                        sourceID: "weather", zone: zone, metric: "temperature_2m",
                        value: Double((t - start) / minute % 17) + (zone == "north" ? 0.5 : 0), unit: "°C",
                        observedAt: t)
                }), outcome: nil)
    }

    @Test("hours equal a plain computation; incremental runs equal a full rebuild", arguments: BackendFactory.all)
    func hours(_ factory: BackendFactory) async throws {
        let (start, minute) = (Self.start, Self.minute)
        let incremental = try await factory.make()
        defer { incremental.cleanup() }
        let full = try await factory.make()
        defer { full.cleanup() }
        let end = start + 120 * minute
        var watermarks: [String: Int64?] = ["lines": nil, "zones": nil]
        func run(_ job: any Job, _ key: String, _ backend: ConformanceBackend, now: Int64) async throws {
            let result = try await job.run(
                JobContext(
                    jobID: job.description.id, now: now, watermark: watermarks[key] ?? nil, store: backend.store,
                    queue: backend.queue, logger: Self.logger))
            watermarks[key] = result.watermark
        }
        var t = start
        var index = 0
        while t <= end {
            try await incremental.store.write([Self.snapshot(at: t), Self.readings(at: t)])
            try await full.store.write([Self.snapshot(at: t), Self.readings(at: t)])
            index += 1
            if index % 10 == 0 {
                try await run(RefreshLineHoursJob(), "lines", incremental, now: t + 200)
                try await run(RefreshZoneHoursJob(), "zones", incremental, now: t + 200)
            }
            t += minute
        }
        // A late reading of an early hour, after the last incremental run.
        let late = CityMeasurement(
            sourceID: "weather", zone: "north", metric: "temperature_2m", value: 99, unit: "°C",
            observedAt: start + 30 * minute + 30_000)
        for backend in [incremental, full] {
            try await backend.store.write([
                RunResult(
                    run: TaskRun(
                        id: "late", jobID: "late", taskID: nil, sourceID: "weather", attempt: 1, workerID: "w",
                        status: .succeeded, startedAt: end + 1_000, finishedAt: end + 1_000),
                    observations: ObservationBatch(measurements: [late]), outcome: nil)
            ])
        }
        try await run(RefreshLineHoursJob(), "lines", incremental, now: end + 2_000)
        try await run(RefreshZoneHoursJob(), "zones", incremental, now: end + 2_000)
        watermarks = ["lines": nil, "zones": nil]
        try await run(RefreshLineHoursJob(), "lines", full, now: end + 2_000)
        try await run(RefreshZoneHoursJob(), "zones", full, now: end + 2_000)

        func lines(_ backend: ConformanceBackend) async throws -> [LineHour] {
            try await backend.store.lineHours(sourceIDs: ["metro"], routeID: nil, since: nil, until: nil, limit: 1_000)
        }
        func zones(_ backend: ConformanceBackend, _ zone: String) async throws -> [ZoneHour] {
            try await backend.store.zoneHours(
                sourceIDs: ["weather"], zone: zone, metric: nil, since: nil, until: nil, limit: 1_000)
        }
        let lineRows = try await lines(incremental)
        #expect(lineRows == (try await lines(full)))
        #expect(try await zones(incremental, "north") == (try await zones(full, "north")))
        #expect(try await zones(incremental, "south") == (try await zones(full, "south")))

        // The plain computation: every departure whose time came by the last fetch.
        let seen = Self.schedule.filter { ($0.at ?? .max) <= end }
        #expect(lineRows.map(\.departures).reduce(0, +) == seen.count)
        for row in lineRows {
            let hour: [Departure] = seen.filter { d in
                d.routeID == row.routeID && StationHours.hour(of: d.at ?? 0) == row.hour
            }
            let delays: [Int] = hour.filter { $0.relationship == "scheduled" }.compactMap { $0.delaySeconds }.sorted()
            #expect(row.departures == hour.count)
            #expect(row.cancelled == hour.count(where: { $0.relationship == "canceled" }))
            #expect(row.withDelay == delays.count)
            let mean = Double(delays.reduce(0, +)) / Double(delays.count)
            #expect(abs((row.delayMean ?? .nan) - mean) < 1e-9)
            let p90 = Double(delays[Int((Double(delays.count) * 0.9).rounded(.up)) - 1])
            #expect(row.delayP90 == p90)
            let onTime = Double(delays.filter { $0 >= -60 && $0 < 300 }.count) / Double(delays.count)
            #expect(abs((row.onTimeShare ?? .nan) - onTime) < 1e-9)
        }
        let north = try await zones(full, "north")
        #expect(north.count == 3)  // 10:00, 11:00 and 12:00 (the last fetch)
        let first = try #require(north.first)
        var values = (0..<60).map { Double(Int64($0) % 17) + 0.5 }
        values.append(99)
        #expect(first.readings == 61 && first.max == 99 && first.min == 0.5)
        #expect(abs(first.mean - values.reduce(0, +) / Double(values.count)) < 1e-9)
    }
}
