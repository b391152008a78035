public import Logging
public import MetropulseCore
import MetropulsePostgres
import NIOCore
public import PostgresNIO

/// The PostgreSQL ingest benchmark's baseline: the same station rows sent with `COPY ... FROM STDIN`
/// into an unlogged table without keys or indexes, the fastest way rows get into PostgreSQL.
public struct PostgresCopyBaseline: Sendable {
    private let client: PostgresClient
    private let logger: Logger

    /// `client` should point at a scratch schema; the table is created there.
    public init(client: PostgresClient, logger: Logger) async throws {
        self.client = client
        self.logger = logger
        try await client.query(
            """
            CREATE UNLOGGED TABLE IF NOT EXISTS bare (source_id text, station_id text, observed_at bigint,
                fetched_at bigint, run_id text, bikes_available integer, mechanical_available integer,
                ebikes_available integer, docks_available integer, capacity integer, is_installed boolean,
                is_renting boolean, is_returning boolean, status text, occupancy_rate double precision)
            """, logger: logger)
    }

    /// Copies every snapshot, in one COPY or one per snapshot; returns the elapsed time.
    public func copy(_ snapshots: [[StationObservation]], copyPerSnapshot: Bool) async throws -> Duration {
        try await client.query("TRUNCATE bare", logger: logger)
        let started = ContinuousClock.now
        try await client.withConnection { connection in
            if copyPerSnapshot {
                for (index, stations) in snapshots.enumerated() {
                    try await Self.copy([(index, stations)], on: connection, logger: logger)
                }
            } else {
                try await Self.copy(Array(snapshots.enumerated()), on: connection, logger: logger)
            }
        }
        return ContinuousClock.now - started
    }

    private static func copy(
        _ snapshots: [(offset: Int, element: [StationObservation])], on connection: PostgresConnection, logger: Logger
    ) async throws {
        try await connection.copyFrom(table: "bare", logger: logger) { writer in
            var rows = CopyText()
            for (index, stations) in snapshots {
                for s in stations {
                    appendRow(s, fetchedAt: Int64(index), to: &rows)
                    if rows.buffer.readableBytes > 1 << 20 {
                        try await writer.write(rows.buffer)
                        rows = CopyText()
                    }
                }
            }
            if rows.buffer.readableBytes > 0 { try await writer.write(rows.buffer) }
        }
    }

    /// One row of the bare table.
    private static func appendRow(_ s: StationObservation, fetchedAt: Int64, to row: inout CopyText) {
        row.text(s.sourceID)
        row.text(s.stationID)
        row.integer(s.observedAt)
        row.integer(fetchedAt)
        row.text("bench")
        row.integer(s.bikesAvailable)
        row.integer(s.mechanicalAvailable)
        row.integer(s.ebikesAvailable)
        row.integer(s.docksAvailable)
        row.integer(s.capacity)
        row.bool(s.isInstalled)
        row.bool(s.isRenting)
        row.bool(s.isReturning)
        row.text(s.status.rawValue)
        row.double(s.occupancyRate)
        row.endRow()
    }
}
