import Foundation
public import MetropulseCore
import PostgresNIO

extension PostgresBackend: SummaryStore {
    /// Tables of up to this many rows (by the statistics) are counted; larger ones show the
    /// statistics' estimate, as counting them would read them whole.
    static let exactCountLimit: Int64 = 200_000

    public func summary(now: Int64) async throws -> DatabaseSummary {
        var tables: [DatabaseSummary.Table] = []
        for try await row in try await client.query(
            """
            SELECT c.relname, c.reltuples::BIGINT, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
            ORDER BY c.relname
            """, logger: logger)
        {
            let (name, estimate, bytes) = try row.decode((String, Int64, Int64).self)
            tables.append(.init(name: name, rows: estimate, rowsEstimated: true, bytes: bytes))
        }
        for index in tables.indices where tables[index].rows < Self.exactCountLimit {
            // Never analyzed (-1) or small: counted. The name comes from the catalogue, quoted.
            let quoted = "\"" + tables[index].name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            for try await count in try await client.query("SELECT COUNT(*) FROM \(unescaped: quoted)", logger: logger)
                .decode(Int64.self)
            {
                tables[index].rows = count
                tables[index].rowsEstimated = false
            }
        }
        var databaseBytes: Int64 = 0
        for try await size in try await client.query(
            "SELECT pg_database_size(current_database())", logger: logger
        ).decode(Int64.self) {
            databaseBytes = size
        }
        var observations: [DatabaseSummary.Observations] = []
        for kind in ObservationKind.allCases {
            observations.append(try await self.observations(kind, hour: now - 3_600_000, day: now - 86_400_000))
        }
        return DatabaseSummary(
            backend: "postgres", databaseBytes: databaseBytes, walBytes: nil, tables: tables,
            observations: observations)
    }

    /// Observations of `kind` since `hour` and `day`: a history table counted by observation
    /// time, a current-state table by the time its rows were written.
    private func observations(_ kind: ObservationKind, hour: Int64, day: Int64) async throws
        -> DatabaseSummary.Observations
    {
        // Rows of a history table by their observation time; of a current-state table, by when
        // they were written. Table and column names are these constants, never input.
        let (table, column, basis): (String, String, DatabaseSummary.Observations.Basis)
        switch kind {
        case .stations: (table, column, basis) = ("station_blocks", "last_observed_at", .history)
        case .vehicles: (table, column, basis) = ("vehicle_positions", "observed_at", .history)
        case .measurements: (table, column, basis) = ("measurements", "observed_at", .history)
        case .departures: (table, column, basis) = ("departures", "fetched_at", .current)
        case .disruptions: (table, column, basis) = ("disruptions", "fetched_at", .current)
        }
        let query: PostgresQuery =
            kind == .stations
            // One block per run and source holding `count` stations, read through the time index.
            ? """
            SELECT COALESCE(SUM(b.count) FILTER (WHERE b.last_observed_at >= \(hour)), 0)::BIGINT,
                COALESCE(SUM(b.count), 0)::BIGINT
            FROM station_latest s JOIN station_blocks b
                ON b.source_id = s.source_id AND b.last_observed_at >= \(day)
            """
            : """
            SELECT COUNT(*) FILTER (WHERE \(unescaped: column) >= \(hour)), COUNT(*) FROM \(unescaped: table)
            WHERE \(unescaped: column) >= \(day)
            """
        for try await (lastHour, lastDay) in try await client.query(query, logger: logger).decode((Int64, Int64).self) {
            return .init(kind: kind, lastHour: lastHour, lastDay: lastDay, basis: basis)
        }
        return .init(kind: kind, lastHour: 0, lastDay: 0, basis: basis)
    }
}
