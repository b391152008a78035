public import Logging
public import MetropulseCore
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
            var buffer = ByteBuffer()
            for (index, stations) in snapshots {
                for s in stations {
                    appendRow(s, fetchedAt: Int64(index), to: &buffer)
                    if buffer.readableBytes > 1 << 20 {
                        try await writer.write(buffer)
                        buffer.clear()
                    }
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
    }

    /// One line of COPY text format: tab-separated, `\N` for NULL.
    private static func appendRow(_ s: StationObservation, fetchedAt: Int64, to buffer: inout ByteBuffer) {
        func field(_ text: String) {
            buffer.writeString(text)
            buffer.writeInteger(UInt8(ascii: "\t"))
        }
        func optional(_ value: (some CustomStringConvertible)?) { field(value.map(\.description) ?? "\\N") }
        field(s.sourceID)
        field(s.stationID)
        field(String(s.observedAt))
        field(String(fetchedAt))
        field("bench")
        field(String(s.bikesAvailable))
        optional(s.mechanicalAvailable)
        optional(s.ebikesAvailable)
        optional(s.docksAvailable)
        optional(s.capacity)
        field(s.isInstalled ? "t" : "f")
        field(s.isRenting ? "t" : "f")
        field(s.isReturning ? "t" : "f")
        field(s.status.rawValue)
        buffer.writeString(s.occupancyRate.map { String($0) } ?? "\\N")
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}
