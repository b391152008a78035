import Foundation
import GRDB
import MetropulseCore
import Testing

@testable import MetropulseSQLite

@Suite("SQLite migrations")
struct SQLiteMigrationTests {
    @Test("a file with row-per-observation station tables is packed into blocks, nothing lost")
    func packsStationRows() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("old.sqlite").path

        let pool = try DatabasePool(path: path)
        try SQLiteSchema.migrator.migrate(pool, upTo: "v6-task-runs-by-job")
        try await pool.write { db in
            for (station, observedAt, runID, bikes) in [
                ("1", Int64(100), "r1", 3), ("2", 100, "r1", 4), ("1", 200, "r2", 5),
            ] {
                try db.execute(
                    sql: """
                        INSERT INTO station_observations VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, 20, 1, 1, 1,
                            'in_service', NULL)
                        """,
                    arguments: ["bikes", station, observedAt, observedAt + 1, runID, bikes, 20 - bikes])
            }
            for (station, observedAt, runID, bikes) in [("1", Int64(200), "r2", 5), ("2", 100, "r1", 4)] {
                try db.execute(
                    sql: """
                        INSERT INTO stations_latest VALUES (?, ?, ?, ?, 48.85, 2.35, 20, ?, NULL, NULL, ?, 1, 1, 1,
                            'in_service', NULL, ?, ?, ?)
                        """,
                    arguments: [
                        "bikes", station, "C\(station)", "Station \(station)", bikes, 20 - bikes, observedAt,
                        observedAt + 1, runID,
                    ])
            }
        }
        try pool.close()

        let backend = try SQLiteBackend(path: path)
        defer { try? backend.close() }
        #expect(try backend.appliedMigrations().last == "v7-station-blocks")
        #expect(try await backend.rawStationObservationCount(sourceID: "bikes") == 3)
        let history = try await backend.stationHistory(
            sourceID: "bikes", stationID: "1", since: nil, until: nil, limit: 10)
        #expect(history.map(\.observation.bikesAvailable) == [5, 3])
        #expect(history.map(\.runID) == ["r2", "r1"])
        #expect(history.first?.observation.name == "Station 1")
        let latest = try #require(try await backend.station(sourceID: "bikes", stationID: "C2"))
        #expect(latest.observation.docksAvailable == 16)
        #expect(latest.fetchedAt == 101)
        #expect(try await backend.stations(StationQuery(sourceID: "bikes")).map(\.observation.stationID) == ["1", "2"])

        // Writing carries on from the migrated state: older data is not history again.
        try await backend.write([
            RunResult.observationsOnly(
                runID: "r3", sourceID: "bikes", fetchedAt: 301,
                observations: ObservationBatch(stations: [
                    StationObservation(
                        sourceID: "bikes", stationID: "1", bikesAvailable: 9, docksAvailable: 11, isInstalled: true,
                        isRenting: true, isReturning: true, observedAt: 300),
                    StationObservation(
                        sourceID: "bikes", stationID: "2", bikesAvailable: 1, docksAvailable: 19, isInstalled: true,
                        isRenting: true, isReturning: true, observedAt: 50),
                ]))
        ])
        #expect(try await backend.rawStationObservationCount(sourceID: "bikes") == 4)
        #expect(try await backend.station(sourceID: "bikes", stationID: "2")?.observation.bikesAvailable == 4)
    }
}
