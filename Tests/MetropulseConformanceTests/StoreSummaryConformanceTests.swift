import MetropulseCore
import Testing

/// The store's summary (`SummaryStore`) on every backend: each table with its rows and size, and
/// each observation kind counted over the last hour and day (history kinds by observation time,
/// current-state kinds by the rows still current).
@Suite("Store summary")
struct StoreSummaryConformanceTests {
    @Test("tables, sizes and observations per kind in the last hour and day", arguments: BackendFactory.all)
    func summary(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let now: Int64 = 20 * 86_400_000
        let empty = try await backend.store.summary(now: now)
        #expect(empty.observations.map(\.kind) == ObservationKind.allCases)
        #expect(empty.observations.allSatisfy { $0.lastHour == 0 && $0.lastDay == 0 })
        // Each kind observed two days ago, five hours ago and half an hour ago, oldest first.
        var results: [RunResult] = []
        for kind in ObservationKind.allCases {
            for (index, age) in [Int64(2 * 86_400_000), Int64(5 * 3_600_000), Int64(1_800_000)].enumerated() {
                let time = now - age
                results.append(
                    ObservationKindConformanceTests.result(
                        "\(kind)-\(index)", ObservationKindConformanceTests.sample(kind, at: time), at: time))
            }
        }
        for result in results { try await backend.store.write([result]) }
        let summary = try await backend.store.summary(now: now)
        #expect(summary.backend == factory.name)
        for observations in summary.observations {
            switch observations.basis {
            case .history:
                #expect(
                    observations.lastHour == 1 && observations.lastDay == 2, "\(observations.kind): \(observations)")
            case .current:
                // The same entity each time: only the latest write is kept.
                #expect(
                    observations.lastHour == 1 && observations.lastDay == 1, "\(observations.kind): \(observations)")
            }
        }
        #expect(
            Dictionary(uniqueKeysWithValues: summary.observations.map { ($0.kind, $0.basis) }) == [
                .stations: .history, .vehicles: .history, .measurements: .history, .departures: .current,
                .disruptions: .current,
            ])
        let tables = Dictionary(uniqueKeysWithValues: summary.tables.map { ($0.name, $0) })
        let runs = try #require(tables["task_runs"])
        #expect(runs.rows == Int64(results.count) && !runs.rowsEstimated)
        #expect((runs.bytes ?? 0) > 0)
        for name in ["tasks", "station_blocks", "vehicle_positions", "measurements", "system_logs", "control_commands"]
        {
            #expect(tables[name] != nil, "\(name) is listed")
        }
        #expect(summary.tables.map(\.name) == summary.tables.map(\.name).sorted())
        #expect(summary.databaseBytes > 0)
        #expect((summary.walBytes != nil) == (factory.name == "sqlite"))
    }
}
