import Foundation
import GRDB
import MetropulseCore

extension SQLiteSchema {
    /// Moves the row-per-observation tables of schema v1 into packed blocks: one raw block per
    /// run and source (in fetch order), one latest block per source.
    static func packStationRows(_ db: Database) throws {
        let raw = try Row.fetchCursor(
            db,
            sql: """
                SELECT source_id, run_id, fetched_at, station_id, observed_at, bikes_available,
                    mechanical_available, ebikes_available, docks_available, capacity, is_installed, is_renting,
                    is_returning
                FROM station_observations ORDER BY source_id, fetched_at, run_id, observed_at
                """)
        var block: (sourceID: String, runID: String, fetchedAt: Int64, stations: [StationObservation])?
        func flush() throws {
            guard let block, !block.stations.isEmpty else { return }
            let times = block.stations.map(\.observedAt)
            try db.execute(
                sql: """
                    INSERT INTO station_blocks (source_id, run_id, fetched_at, first_observed_at, last_observed_at,
                        count, payload)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    block.sourceID, block.runID, block.fetchedAt, times.min(), times.max(), block.stations.count,
                    Data(StationBlock.encodeRaw(block.stations)),
                ])
        }
        while let row = try raw.next() {
            let sourceID: String = row[0]
            let runID: String = row[1]
            let fetchedAt: Int64 = row[2]
            if block?.sourceID != sourceID || block?.runID != runID || block?.fetchedAt != fetchedAt {
                try flush()
                block = (sourceID, runID, fetchedAt, [])
            }
            block?.stations.append(
                StationObservation(
                    sourceID: sourceID, stationID: row[3], capacity: row[9], bikesAvailable: row[5],
                    mechanicalAvailable: row[6], ebikesAvailable: row[7], docksAvailable: row[8], isInstalled: row[10],
                    isRenting: row[11], isReturning: row[12], observedAt: row[4]))
        }
        try flush()

        let latest = try Row.fetchAll(
            db,
            sql: """
                SELECT source_id, station_id, code, name, latitude, longitude, capacity, bikes_available,
                    mechanical_available, ebikes_available, docks_available, is_installed, is_renting, is_returning,
                    observed_at, fetched_at, run_id
                FROM stations_latest ORDER BY source_id, station_id
                """)
        var bySource: [String: [StoredStation]] = [:]
        for row in latest {
            let observation = StationObservation(
                sourceID: row[0], stationID: row[1], code: row[2], name: row[3], latitude: row[4], longitude: row[5],
                capacity: row[6], bikesAvailable: row[7], mechanicalAvailable: row[8], ebikesAvailable: row[9],
                docksAvailable: row[10], isInstalled: row[11], isRenting: row[12], isReturning: row[13],
                observedAt: row[14])
            bySource[observation.sourceID, default: []].append(
                StoredStation(observation: observation, fetchedAt: row[15], runID: row[16]))
        }
        for (sourceID, stations) in bySource {
            let latest = LatestStations(stations)
            try db.execute(
                sql: """
                    INSERT INTO station_latest (source_id, token, updated_at, count, payload, details)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    sourceID, LatestStationCache.newToken(), stations.map(\.fetchedAt).max(), stations.count,
                    Data(latest.encodedState()), Data(latest.encodedDetails()),
                ])
        }
    }
}
