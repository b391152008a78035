import MetropulseCore
import Testing

/// Transit storage every backend must keep: snapshots replace, older snapshots do not, upserts
/// only move forward, queries filter by source, route, stop and time.
@Suite("Transit store conformance")
struct TransitConformanceTests {
    static func departure(_ trip: String, stop: String, route: String, at: Int64, observed: Int64) -> Departure {
        Departure(
            sourceID: "metro", stopID: stop, stopSequence: 1, routeID: route, tripID: trip, scheduledAt: at - 60_000,
            expectedAt: at, delaySeconds: 60, observedAt: observed)
    }

    static func result(_ runID: String, at time: Int64, _ batch: ObservationBatch) -> RunResult {
        RunResult(
            run: TaskRun(
                id: runID, jobID: runID, taskID: nil, sourceID: "metro", attempt: 1, workerID: "w", status: .succeeded,
                startedAt: time - 5, finishedAt: time, entityCount: batch.count),
            observations: batch, outcome: nil)
    }

    static func snapshot(observed: Int64, departures: [Departure], vehicles: [VehiclePosition] = [], alerts: [String])
        -> ObservationBatch
    {
        ObservationBatch(
            departures: departures, vehicles: vehicles,
            disruptions: alerts.map {
                Disruption(
                    sourceID: "metro", id: $0, effect: "significant_delays", header: "Alert \($0)",
                    entities: [.init(routeID: "M1")], observedAt: observed)
            }, transitSnapshot: true, transitObservedAt: observed)
    }

    @Test("a snapshot replaces the source's departures, vehicles and disruptions", arguments: BackendFactory.all)
    func snapshotReplaces(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let bus = VehiclePosition(
            sourceID: "metro", vehicleID: "v1", routeID: "M1", latitude: 48.85, longitude: 2.35, observedAt: 1_000)
        try await store.write([
            Self.result(
                "r1", at: 1_100,
                Self.snapshot(
                    observed: 1_000,
                    departures: [
                        Self.departure("t1", stop: "A", route: "M1", at: 5_000, observed: 1_000),
                        Self.departure("t2", stop: "B", route: "M2", at: 4_000, observed: 1_000),
                    ], vehicles: [bus], alerts: ["x", "y"]))
        ])
        #expect(try await store.departures(DepartureQuery()).map(\.value.tripID) == ["t2", "t1"])  // soonest first
        #expect(try await store.vehicles(sourceIDs: nil, routeID: "M1").map(\.value.vehicleID) == ["v1"])
        #expect(try await store.disruptions(sourceIDs: ["metro"]).map(\.value.id) == ["x", "y"])

        // The next snapshot: t2 left the feed, alert y ended, v1 moved.
        var moved = bus
        moved.latitude = 48.86
        moved.observedAt = 2_000
        try await store.write([
            Self.result(
                "r2", at: 2_100,
                Self.snapshot(
                    observed: 2_000,
                    departures: [Self.departure("t1", stop: "A", route: "M1", at: 5_500, observed: 2_000)],
                    vehicles: [moved], alerts: ["x"]))
        ])
        let departures = try await store.departures(DepartureQuery(sourceIDs: ["metro"]))
        #expect(departures.map(\.value.tripID) == ["t1"])
        #expect(departures.first?.value.expectedAt == 5_500 && departures.first?.runID == "r2")
        #expect(departures.first?.fetchedAt == 2_100)
        #expect(try await store.disruptions(sourceIDs: nil).map(\.value.id) == ["x"])
        #expect(try await store.vehicles(sourceIDs: ["metro"], routeID: nil).first?.value.latitude == 48.86)

        // A late snapshot older than the stored one changes nothing; an empty newer one clears.
        try await store.write([
            Self.result("late", at: 2_200, Self.snapshot(observed: 1_500, departures: [], alerts: ["old"]))
        ])
        #expect(try await store.disruptions(sourceIDs: nil).map(\.value.id) == ["x"])
        try await store.write([Self.result("r3", at: 3_100, Self.snapshot(observed: 3_000, departures: [], alerts: []))]
        )
        #expect(try await store.departures(DepartureQuery()).isEmpty)
        #expect(try await store.disruptions(sourceIDs: nil).isEmpty)
    }

    @Test(
        "differential updates upsert, move forward only, and filter by route, stop and time",
        arguments: BackendFactory.all)
    func differential(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        func batch(_ departures: [Departure]) -> ObservationBatch { ObservationBatch(departures: departures) }
        try await store.write([
            Self.result(
                "r1", at: 1_100,
                batch([
                    Self.departure("t1", stop: "A", route: "M1", at: 5_000, observed: 1_000),
                    Self.departure("t1", stop: "B", route: "M1", at: 6_000, observed: 1_000),
                    Self.departure("t9", stop: "A", route: "B9", at: 3_000, observed: 1_000),
                ]))
        ])
        try await store.write([
            Self.result(
                "r2", at: 2_100, batch([Self.departure("t1", stop: "A", route: "M1", at: 5_200, observed: 2_000)])),
            Self.result(
                "old", at: 2_200, batch([Self.departure("t1", stop: "B", route: "M1", at: 9_999, observed: 500)])),
        ])
        let all = try await store.departures(DepartureQuery())
        #expect(all.count == 3)
        #expect(all.map(\.value.expectedAt) == [3_000, 5_200, 6_000])
        #expect(try await store.departures(DepartureQuery(routeID: "M1")).map(\.value.stopID) == ["A", "B"])
        #expect(try await store.departures(DepartureQuery(stopID: "A")).map(\.value.tripID) == ["t9", "t1"])
        #expect(try await store.departures(DepartureQuery(from: 5_500)).map(\.value.stopID) == ["B"])
        #expect(try await store.departures(DepartureQuery(sourceIDs: ["other"])).isEmpty)
        #expect(try await store.departures(DepartureQuery(limit: 1)).count == 1)
    }
}
