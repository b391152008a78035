import Foundation
import Logging
import MetropulseCore
import Testing

/// `process_city` and its store (`CityStore`) on every backend: a spike in a stored history opens
/// an anomaly alert after two windows, high air quality readings an air quality alert, and the
/// zone's snapshot says what it was computed from.
@Suite("City Live processing")
struct CityConformanceTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let hour: Int64 = 3_600_000
    /// 2026-01-26 12:05 UTC.
    static let now: Int64 = 1_769_428_800_000 + 5 * 60_000

    @Test(
        "a spike opens an anomaly alert after 2 windows; snapshots, risk and alerts are stored",
        arguments: BackendFactory.all)
    func process(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let catalog = SourceCatalog(
            [
                SourceDefinition(
                    id: "air", kind: .city, urls: ["http://127.0.0.1:1/a"], tags: ["city": "demo", "zone": "centre"])
            ], cities: [City(id: "demo", zones: [.init(id: "centre"), .init(id: "nord")])])
        let judged = StationHours.hour(of: Self.now) - Self.hour
        var readings: [CityMeasurement] = []
        for h in 0..<(28 * 24) {
            let at = judged - Int64(h) * Self.hour + 30 * 60_000
            let hourOfDay = Double((at / Self.hour) % 24)
            let wave: Double = 6 * sin(hourOfDay / 24 * 2 * Double.pi)
            let value = h == 0 ? 95.0 : 12 + wave + Double(h % 3) * 0.3
            readings.append(
                CityMeasurement(
                    sourceID: "air", zone: "centre", metric: "pm2_5", value: value, unit: "µg/m³", observedAt: at))
        }
        readings.append(
            CityMeasurement(
                sourceID: "air", zone: "centre", metric: "us_aqi", value: 130, unit: "AQI",
                observedAt: Self.now - 60_000))
        for (index, chunk) in stride(from: 0, to: readings.count, by: 100).map({
            Array(readings[$0..<min($0 + 100, readings.count)])
        }).enumerated() {
            try await store.write([
                RunResult(
                    run: TaskRun(
                        id: "air-\(index)", jobID: "air-\(index)", taskID: nil, sourceID: "air", attempt: 1,
                        workerID: "w",
                        status: .succeeded, startedAt: Self.now - 100_000, finishedAt: Self.now - 90_000 + Int64(index)),
                    observations: ObservationBatch(measurements: chunk), outcome: nil)
            ])
        }
        _ = try await RefreshZoneHoursJob().run(
            JobContext(
                jobID: "refresh_zone_hours", now: Self.now, watermark: nil, store: store, queue: backend.queue,
                logger: Self.logger))
        let job = ProcessCityJob(catalog: catalog)
        func cycle(_ at: Int64) async throws -> JobResult {
            try await job.run(
                JobContext(
                    jobID: "process_city", cycle: at, now: at, watermark: nil, store: store, queue: backend.queue,
                    logger: Self.logger))
        }
        _ = try await cycle(Self.now)
        let pending = try await store.cityAlerts(city: "demo", states: nil, limit: 100)
        #expect(Set(pending.map(\.kind)) == ["anomaly_pm2_5", "air_quality"])
        #expect(pending.allSatisfy { $0.state == .pending })
        let second = try await cycle(Self.now + 300_000)
        #expect(second.detail?.contains("2 alerts open") == true)
        let open = try await store.cityAlerts(city: "demo", states: [.open], limit: 100)
        #expect(open.count == 2 && open.allSatisfy { $0.openedAt == Self.now + 300_000 })
        let anomaly = try #require(open.first { $0.kind == "anomaly_pm2_5" })
        #expect(anomaly.zone == "centre" && anomaly.value == 95)
        #expect(try await store.cityAlert(id: anomaly.id) == anomaly)
        #expect(try await store.cityAlerts(city: "demo", states: [.resolved], limit: 100).isEmpty)
        #expect(try await store.cityAlerts(city: "other", states: nil, limit: 100).isEmpty)

        let snapshots = try await store.zoneSnapshots(city: "demo")
        #expect(snapshots.map(\.zone) == ["centre", "nord"])
        let centre = try #require(snapshots.first)
        #expect(centre.computedAt == Self.now + 300_000)
        #expect(
            centre.featuresByName["us_aqi"]?.value == 130
                && centre.featuresByName["us_aqi"]?.runID.hasPrefix("air-") == true)
        let flagged = try #require(centre.anomalies.first { $0.metric == "pm2_5" })
        #expect(flagged.isAnomaly && flagged.basis == "hour_of_week" && flagged.hour == judged && flagged.value == 95)
        #expect(abs(centre.risk.components.reduce(0) { $0 + $1.points } - centre.risk.score) < 1e-9)
        #expect((centre.risk.components.first { $0.name == "air" }?.points ?? 0) > 0)
        #expect(snapshots.last?.features.isEmpty == true)
    }
}
