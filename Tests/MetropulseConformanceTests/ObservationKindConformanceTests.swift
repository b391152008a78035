import MetropulseCore
import Testing

#if Kafka
    import MetropulseKafka
#endif

/// Every declared observation kind (`ObservationKind`) through every backend, by the store's
/// write and by the run committer, and through the Kafka record codec: a kind a backend or the
/// codec does not carry fails here. `sample` and `stored` switch over every kind, so a new one
/// does not compile until it has both.
@Suite("Observation kinds round trip")
struct ObservationKindConformanceTests {
    static let source = "kinds"

    /// One entity of `kind`, observed at `time`.
    static func sample(_ kind: ObservationKind, at time: Int64) -> ObservationBatch {
        switch kind {
        case .stations:
            var station = StoreConformanceTests.station("1", bikes: 3, at: time)
            station.sourceID = source
            return ObservationBatch(stations: [station])
        case .departures:
            return ObservationBatch(departures: [
                Departure(
                    sourceID: source, stopID: "S1", stopSequence: 1, routeID: "R1", tripID: "T1",
                    scheduledAt: time + 60_000, expectedAt: time + 90_000, delaySeconds: 30, observedAt: time)
            ])
        case .vehicles:
            return ObservationBatch(vehicles: [
                VehiclePosition(
                    sourceID: source, vehicleID: "V1", routeID: "R1", latitude: 48.85, longitude: 2.35,
                    observedAt: time)
            ])
        case .disruptions:
            return ObservationBatch(disruptions: [
                Disruption(
                    sourceID: source, id: "D1", effect: "detour", header: "Detour",
                    entities: [.init(routeID: "R1")], observedAt: time)
            ])
        case .measurements:
            return ObservationBatch(measurements: [
                CityMeasurement(
                    sourceID: source, zone: "centre", metric: "pm25", value: 9.5, unit: "µg/m³", observedAt: time)
            ])
        }
    }

    /// How many entities of `kind` the store holds for the source.
    static func stored(_ kind: ObservationKind, in store: any Store) async throws -> Int {
        switch kind {
        case .stations: try await store.stations(StationQuery(sourceID: source)).count
        case .departures: try await store.departures(DepartureQuery(sourceIDs: [source])).count
        case .vehicles: try await store.vehicles(sourceIDs: [source], routeID: nil).count
        case .disruptions: try await store.disruptions(sourceIDs: [source]).count
        case .measurements: try await store.latestMeasurements(sourceIDs: [source], zone: nil).count
        }
    }

    static func result(_ id: String, _ batch: ObservationBatch, at time: Int64) -> RunResult {
        RunResult(
            run: TaskRun(
                id: id, jobID: id, taskID: nil, sourceID: source, attempt: 1, workerID: "w", status: .succeeded,
                startedAt: time - 5, finishedAt: time, entityCount: batch.count),
            observations: batch, outcome: nil)
    }

    @Test(
        "every kind is written and read back by every backend", arguments: BackendFactory.all, ObservationKind.allCases)
    func throughBackends(_ factory: BackendFactory, _ kind: ObservationKind) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let batch = Self.sample(kind, at: 1_000)
        #expect(batch.count(of: kind) == 1 && batch.count == 1)
        #expect(batch.families == [kind.family])
        try await backend.store.write([Self.result("written", batch, at: 1_100)])
        #expect(try await Self.stored(kind, in: backend.store) == 1, "\(kind) through \(factory.name)'s write")
        // Through the committer too (on PostgreSQL the one-statement commit or the locked one).
        let other = try await factory.make()
        defer { other.cleanup() }
        try await other.committer.commit([Self.result("committed", batch, at: 1_100)])
        #expect(try await Self.stored(kind, in: other.store) == 1, "\(kind) through \(factory.name)'s committer")
        #expect(try await other.store.taskRun(id: "committed")?.entityCount == 1)
    }

    #if Kafka
        @Test("every kind survives the record codec", arguments: ObservationKind.allCases)
        func throughRecordCodec(_ kind: ObservationKind) throws {
            let sent = Self.result("r", Self.sample(kind, at: 1_000), at: 1_100)
            let messages = try RecordCodec.messages(for: sent)
            #expect(messages.map(\.kind) == [RecordKind(kind.family), .runs])
            let received = RecordCodec.merged(
                try messages.map { try RecordCodec.result(kind: $0.kind, value: $0.value) })
            let observations = received.map(\.observations).reduce(into: ObservationBatch()) { batch, part in
                for family in ObservationFamily.allCases { batch.append(part, family: family) }
            }
            #expect(observations.count(of: kind) == 1 && observations.count == 1)
            #expect(observations.stations == sent.observations.stations)
            #expect(observations.departures == sent.observations.departures)
            #expect(observations.vehicles == sent.observations.vehicles)
            #expect(observations.disruptions == sent.observations.disruptions)
            #expect(observations.measurements == sent.observations.measurements)
        }
    #endif
}
