import Foundation
import GRDB
public import MetropulseCore

extension SQLiteBackend: SummaryStore {
    public func summary(now: Int64) async throws -> DatabaseSummary {
        let (hour, day) = (now - 3_600_000, now - 86_400_000)
        let wal = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.int64Value
        return try await pool.read { db in
            let master = try Row.fetchAll(
                db, sql: "SELECT name, tbl_name, type, sql FROM sqlite_master WHERE type IN ('table', 'index')")
            let virtual = Set(
                master.filter { ($0[3] as String?)?.uppercased().hasPrefix("CREATE VIRTUAL TABLE") == true }
                    .map { $0[0] as String })
            // A search index's shadow tables (`system_logs_text_data`, ...) count under it.
            func owner(_ table: String) -> String {
                virtual.first { table.hasPrefix($0 + "_") } ?? table
            }
            var owners: [String: String] = [:]
            for row in master {
                let (name, table): (String, String) = (row[0], row[1])
                owners[name] = owner(table)
            }
            let tables = Set(master.filter { $0[2] == "table" }.map { owner($0[0]) })
                .filter { !$0.hasPrefix("sqlite_") && $0 != "grdb_migrations" }
            // Page sizes per table and its indexes, where the library has the dbstat table.
            var bytes: [String: Int64]?
            if let rows = try? Row.fetchAll(
                db, sql: "SELECT name, SUM(pgsize) FROM dbstat WHERE aggregate = TRUE GROUP BY name")
            {
                var sizes: [String: Int64] = [:]
                for row in rows {
                    let (name, size): (String, Int64) = (row[0], row[1])
                    if let table = owners[name] { sizes[table, default: 0] += size }
                }
                bytes = sizes
            }
            let summary = try tables.sorted().map { table in
                let rows = try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table.quotedDatabaseIdentifier)") ?? 0
                return DatabaseSummary.Table(
                    name: table, rows: rows, rowsEstimated: false, bytes: bytes.map { $0[table] ?? 0 })
            }
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return DatabaseSummary(
                backend: "sqlite", databaseBytes: pages * pageSize, walBytes: wal ?? 0, tables: summary,
                observations: try ObservationKind.allCases.map { try Self.observations($0, hour: hour, day: day, db) })
        }
    }

    /// Observations of `kind` since `hour` and `day`: a history table counted by observation
    /// time, a current-state table by the time its rows were written.
    static func observations(_ kind: ObservationKind, hour: Int64, day: Int64, _ db: Database) throws
        -> DatabaseSummary.Observations
    {
        // Rows of a history table by their observation time; of a current-state table, by when
        // they were written.
        let (table, column, basis): (String, String, DatabaseSummary.Observations.Basis)
        switch kind {
        case .stations: (table, column, basis) = ("station_blocks", "last_observed_at", .history)
        case .vehicles: (table, column, basis) = ("vehicle_positions", "observed_at", .history)
        case .measurements: (table, column, basis) = ("measurements", "observed_at", .history)
        case .departures: (table, column, basis) = ("departures", "fetched_at", .current)
        case .disruptions: (table, column, basis) = ("disruptions", "fetched_at", .current)
        }
        let sql =
            kind == .stations
            // One block per run and source holding `count` stations, read through the time index.
            ? """
            SELECT COALESCE(SUM(CASE WHEN b.last_observed_at >= :hour THEN b.count END), 0),
                COALESCE(SUM(b.count), 0)
            FROM station_latest s JOIN station_blocks b
                ON b.source_id = s.source_id AND b.last_observed_at >= :day
            """
            : "SELECT COALESCE(SUM(\(column) >= :hour), 0), COUNT(*) FROM \(table) WHERE \(column) >= :day"
        let row = try Row.fetchOne(db, sql: sql, arguments: ["hour": hour, "day": day])
        return .init(kind: kind, lastHour: row?[0] ?? 0, lastDay: row?[1] ?? 0, basis: basis)
    }
}
