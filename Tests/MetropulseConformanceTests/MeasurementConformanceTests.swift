import MetropulseCore
import Testing

/// City readings every backend must keep: raw idempotent, latest forward-only, history filtered.
@Suite("Measurement store conformance")
struct MeasurementConformanceTests {
    static func reading(_ zone: String, _ metric: String, _ value: Double, at: Int64, source: String = "weather")
        -> CityMeasurement
    {
        CityMeasurement(sourceID: source, zone: zone, metric: metric, value: value, unit: "°C", observedAt: at)
    }

    static func result(_ runID: String, at time: Int64, _ readings: [CityMeasurement]) -> RunResult {
        RunResult(
            run: TaskRun(
                id: runID, jobID: runID, taskID: nil, sourceID: readings.first?.sourceID ?? "weather", attempt: 1,
                workerID: "w", status: .succeeded, startedAt: time - 5, finishedAt: time, entityCount: readings.count),
            observations: ObservationBatch(measurements: readings), outcome: nil)
    }

    @Test("raw readings are idempotent, the latest only moves forward, history filters", arguments: BackendFactory.all)
    func readings(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let first = Self.result(
            "r1", at: 110,
            [Self.reading("centre", "temperature", 9.5, at: 100), Self.reading("nord", "temperature", 8, at: 100)])
        try await store.write([first])
        try await store.write([first])
        try await store.write([Self.result("r2", at: 210, [Self.reading("centre", "temperature", 10.5, at: 200)])])
        try await store.write([Self.result("late", at: 310, [Self.reading("centre", "temperature", 1, at: 50)])])
        try await store.write([
            Self.result("air", at: 220, [Self.reading("centre", "pm2_5", 12, at: 200, source: "air")])
        ])

        let latest = try await store.latestMeasurements(sourceIDs: ["weather", "air"], zone: nil)
        #expect(
            latest.map { "\($0.value.zone) \($0.value.metric) \($0.value.value)" } == [
                "centre pm2_5 12.0", "centre temperature 10.5", "nord temperature 8.0",
            ])
        #expect(latest.first { $0.value.metric == "temperature" && $0.value.zone == "centre" }?.runID == "r2")
        #expect(try await store.latestMeasurements(sourceIDs: ["weather"], zone: "nord").count == 1)
        #expect(try await store.latestMeasurements(sourceIDs: ["other"], zone: nil).isEmpty)

        let history = try await store.measurementHistory(
            sourceIDs: ["weather"], zone: "centre", metric: "temperature", since: nil, limit: 10)
        #expect(history.map(\.value.value) == [10.5, 9.5, 1])  // newest first; the late reading is history
        #expect(
            try await store.measurementHistory(
                sourceIDs: ["weather", "air"], zone: "centre", metric: nil, since: 150, limit: 10
            ).map(\.value.metric) == ["pm2_5", "temperature"])
        #expect(
            try await store.measurementHistory(
                sourceIDs: ["weather"], zone: "centre", metric: nil, since: nil, limit: 1
            )
            .count == 1)
    }
}
