import Foundation
import GRDB
import Logging
import MetropulseCore
import PostgresNIO
import Testing

@testable import MetropulsePostgres
@testable import MetropulseSQLite

/// Files and databases written before the packed station tiers are converted on upgrade.
@Suite("Station tier migrations")
struct StationMigrationTests {
    /// Old raw rows: (station, observed_at, run, bikes); fetched one ms after observed.
    static let rawRows: [(String, Int64, String, Int)] = [
        ("1", 100, "r1", 3), ("2", 100, "r1", 4), ("1", 200, "r2", 5),
    ]
    static let latestRows: [(String, Int64, String, Int)] = [("1", 200, "r2", 5), ("2", 100, "r1", 4)]

    @Test("SQLite: row-per-observation station tables are packed into blocks, nothing lost")
    func sqlite() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-migrate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("old.sqlite").path

        let pool = try DatabasePool(path: path)
        try SQLiteSchema.migrator.migrate(pool, upTo: "v6-task-runs-by-job")
        try await pool.write { db in
            for (station, observedAt, runID, bikes) in Self.rawRows {
                try db.execute(
                    sql: """
                        INSERT INTO station_observations VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, 20, 1, 1, 1,
                            'in_service', NULL)
                        """,
                    arguments: ["bikes", station, observedAt, observedAt + 1, runID, bikes, 20 - bikes])
            }
            for (station, observedAt, runID, bikes) in Self.latestRows {
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
        #expect(try backend.appliedMigrations().contains("v7-station-blocks"))
        try await Self.expectConverted(backend)
    }

    @Test(
        "PostgreSQL: row-per-observation station tables are packed into blocks, nothing lost",
        .enabled(if: ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"] != nil))
    func postgres() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"])
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let schema = "m_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresBackend.client(url: url, logger: logger)
        let client = try PostgresBackend.client(url: url, schema: schema, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await admin.run() }
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await admin.query("CREATE SCHEMA \(unescaped: schema)", logger: logger)
            do {
                try await PostgresSchema.migrate(client: client, logger: logger, upTo: "v7-task-runs-by-job")
                for (station, observedAt, runID, bikes) in Self.rawRows {
                    try await client.query(
                        """
                        INSERT INTO station_observations VALUES ('bikes', \(station), \(observedAt), \(observedAt + 1),
                            \(runID), \(bikes), NULL, NULL, \(20 - bikes), 20, true, true, true, 'in_service', NULL)
                        """, logger: logger)
                }
                for (station, observedAt, runID, bikes) in Self.latestRows {
                    try await client.query(
                        """
                        INSERT INTO stations_latest VALUES ('bikes', \(station), \("C" + station),
                            \("Station " + station), 48.85, 2.35, 20, \(bikes), NULL, NULL, \(20 - bikes), true, true,
                            true, 'in_service', NULL, \(observedAt), \(observedAt + 1), \(runID))
                        """, logger: logger)
                }
                let backend = PostgresBackend(client: client, logger: logger)
                try await backend.migrate()
                try await Self.expectConverted(backend)
                try await admin.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
            } catch {
                _ = try? await admin.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
                throw error
            }
        }
    }

    static func expectConverted(_ store: any Store) async throws {
        #expect(try await store.rawStationObservationCount(sourceID: "bikes") == 3)
        let history = try await store.stationHistory(
            sourceID: "bikes", stationID: "1", since: nil, until: nil, limit: 10)
        #expect(history.map(\.observation.bikesAvailable) == [5, 3])
        #expect(history.map(\.runID) == ["r2", "r1"])
        #expect(history.first?.observation.name == "Station 1")
        let latest = try #require(try await store.station(sourceID: "bikes", stationID: "C2"))
        #expect(latest.observation.docksAvailable == 16)
        #expect(latest.fetchedAt == 101)
        #expect(try await store.stations(StationQuery(sourceID: "bikes")).map(\.observation.stationID) == ["1", "2"])

        // Writing carries on from the converted state: older data is not history again.
        func observation(_ station: String, bikes: Int, at observedAt: Int64) -> StationObservation {
            StationObservation(
                sourceID: "bikes", stationID: station, bikesAvailable: bikes, docksAvailable: 20 - bikes,
                isInstalled: true, isRenting: true, isReturning: true, observedAt: observedAt)
        }
        try await store.write([
            RunResult.observationsOnly(
                runID: "r3", sourceID: "bikes", fetchedAt: 301,
                observations: ObservationBatch(stations: [
                    observation("1", bikes: 9, at: 300), observation("2", bikes: 1, at: 50),
                ]))
        ])
        #expect(try await store.rawStationObservationCount(sourceID: "bikes") == 4)
        #expect(try await store.station(sourceID: "bikes", stationID: "2")?.observation.bikesAvailable == 4)
        #expect(try await store.station(sourceID: "bikes", stationID: "1")?.runID == "r3")
    }
}
