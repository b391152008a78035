import Logging
import MetropulseCore
import NIOCore
import PostgresNIO

extension PostgresSchema {
    /// Moves the row-per-observation tables of schema v1 into packed blocks: one raw block per run
    /// and source (in fetch order), one latest block per source; then drops the old tables.
    @Sendable static func packStationRows(_ connection: PostgresConnection, logger: Logger) async throws {
        var blocks: [(sourceID: String, runID: String, fetchedAt: Int64, stations: [StationObservation])] = []
        let raw = try await connection.query(
            """
            SELECT source_id, run_id, fetched_at, station_id, observed_at, bikes_available, mechanical_available,
                ebikes_available, docks_available, capacity, is_installed, is_renting, is_returning
            FROM station_observations ORDER BY source_id, fetched_at, run_id, observed_at
            """, logger: logger)
        for try await row in raw {
            let r = row.makeRandomAccess()
            let sourceID = try r[0].decode(String.self)
            let runID = try r[1].decode(String.self)
            let fetchedAt = try r[2].decode(Int64.self)
            let observation = StationObservation(
                sourceID: sourceID, stationID: try r[3].decode(String.self), capacity: try r[9].decode(Int?.self),
                bikesAvailable: try r[5].decode(Int.self), mechanicalAvailable: try r[6].decode(Int?.self),
                ebikesAvailable: try r[7].decode(Int?.self), docksAvailable: try r[8].decode(Int?.self),
                isInstalled: try r[10].decode(Bool.self), isRenting: try r[11].decode(Bool.self),
                isReturning: try r[12].decode(Bool.self), observedAt: try r[4].decode(Int64.self))
            if let last = blocks.last, last.sourceID == sourceID, last.runID == runID, last.fetchedAt == fetchedAt {
                blocks[blocks.count - 1].stations.append(observation)
            } else {
                blocks.append((sourceID, runID, fetchedAt, [observation]))
            }
        }
        for block in blocks {
            let times = block.stations.map(\.observedAt)
            try await connection.query(
                """
                INSERT INTO station_blocks (source_id, run_id, fetched_at, first_observed_at, last_observed_at, count,
                    payload)
                VALUES (\(block.sourceID), \(block.runID), \(block.fetchedAt), \(times.min()!), \(times.max()!),
                    \(block.stations.count), \(ByteBuffer(bytes: StationBlock.encodeRaw(block.stations))))
                """, logger: logger)
        }

        var latest: [String: [StoredStation]] = [:]
        let rows = try await connection.query(
            """
            SELECT source_id, station_id, code, name, latitude, longitude, capacity, bikes_available,
                mechanical_available, ebikes_available, docks_available, is_installed, is_renting, is_returning,
                observed_at, fetched_at, run_id
            FROM stations_latest ORDER BY source_id, station_id
            """, logger: logger)
        for try await row in rows {
            let r = row.makeRandomAccess()
            let observation = StationObservation(
                sourceID: try r[0].decode(String.self), stationID: try r[1].decode(String.self),
                code: try r[2].decode(String?.self), name: try r[3].decode(String?.self),
                latitude: try r[4].decode(Double?.self), longitude: try r[5].decode(Double?.self),
                capacity: try r[6].decode(Int?.self), bikesAvailable: try r[7].decode(Int.self),
                mechanicalAvailable: try r[8].decode(Int?.self), ebikesAvailable: try r[9].decode(Int?.self),
                docksAvailable: try r[10].decode(Int?.self), isInstalled: try r[11].decode(Bool.self),
                isRenting: try r[12].decode(Bool.self), isReturning: try r[13].decode(Bool.self),
                observedAt: try r[14].decode(Int64.self))
            latest[observation.sourceID, default: []].append(
                StoredStation(
                    observation: observation, fetchedAt: try r[15].decode(Int64.self),
                    runID: try r[16].decode(String.self)))
        }
        for (sourceID, stations) in latest {
            let updatedAt = stations.map(\.fetchedAt).max() ?? 0
            let packed = LatestStations(stations)
            try await connection.query(
                """
                INSERT INTO station_latest (source_id, token, updated_at, count, payload, details)
                VALUES (\(sourceID), \(LatestStationCache.newToken()), \(updatedAt), \(stations.count),
                    \(ByteBuffer(bytes: packed.encodedState())), \(ByteBuffer(bytes: packed.encodedDetails())))
                """, logger: logger)
        }
        try await connection.query("DROP TABLE station_observations, stations_latest", logger: logger)
        logger.info(
            "station rows packed into blocks",
            metadata: ["raw_blocks": "\(blocks.count)", "latest_sources": "\(latest.count)"])
    }
}
