import Foundation
import GRDB
public import MetropulseCore

/// The station tiers: `station_blocks` (raw history, one packed block per run and source, only the
/// observations that run added) and `station_latest` (one packed block per source). See
/// `StationBlock` and docs/decisions/0002-packed-station-tiers.md.
extension SQLiteBackend {
    static func writeStations(
        _ stations: [StationObservation], fetchedAt: Int64, runID: String, cache: LatestStationCache,
        in db: Database
    ) throws {
        for (sourceID, observations) in stations.groupedBySource() {
            var (token, latest) = try latestStations(sourceID: sourceID, cache: cache, taking: true, in: db)
            let merged = latest.merge(observations, fetchedAt: fetchedAt, runID: runID)
            if let first = merged.fresh.first {
                var range = (first.observedAt, first.observedAt)
                for observation in merged.fresh {
                    range = (min(range.0, observation.observedAt), max(range.1, observation.observedAt))
                }
                var insert = StatementBinder(
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO station_blocks (source_id, run_id, fetched_at, first_observed_at,
                                last_observed_at, count, payload)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """), in: db)
                insert.bind(sourceID)
                insert.bind(runID)
                insert.bind(fetchedAt)
                insert.bind(range.0)
                insert.bind(range.1)
                insert.bind(merged.fresh.count)
                insert.bind(StationBlock.encodeRaw(merged.fresh))
                try insert.step()
            }
            if merged.changed {
                try storeLatest(
                    latest, withDetails: merged.detailsChanged, sourceID: sourceID, updatedAt: fetchedAt, cache: cache,
                    in: db)
            } else if let token {
                cache.store(latest, sourceID: sourceID, token: token)
            }
        }
    }

    /// Writes the source's latest state block, and its details block when they changed (always on
    /// a source's first write: a new station is a change of details).
    static func storeLatest(
        _ latest: LatestStations, withDetails: Bool, sourceID: String, updatedAt: Int64, cache: LatestStationCache,
        in db: Database
    ) throws {
        let token = LatestStationCache.newToken()
        if withDetails {
            var upsert = StatementBinder(
                try db.cachedStatement(
                    sql: """
                        INSERT INTO station_latest (source_id, token, updated_at, count, payload, details)
                        VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT(source_id) DO UPDATE SET token = excluded.token,
                            updated_at = MAX(updated_at, excluded.updated_at), count = excluded.count,
                            payload = excluded.payload, details = excluded.details
                        """), in: db)
            upsert.bind(sourceID)
            upsert.bind(token)
            upsert.bind(updatedAt)
            upsert.bind(latest.stations.count)
            upsert.bind(latest.encodedState())
            upsert.bind(latest.encodedDetails())
            try upsert.step()
        } else {
            var update = StatementBinder(
                try db.cachedStatement(
                    sql: """
                        UPDATE station_latest SET token = ?, updated_at = MAX(updated_at, ?), count = ?, payload = ?
                        WHERE source_id = ?
                        """), in: db)
            update.bind(token)
            update.bind(updatedAt)
            update.bind(latest.stations.count)
            update.bind(latest.encodedState())
            update.bind(sourceID)
            try update.step()
        }
        cache.store(latest, sourceID: sourceID, token: token)
    }

    /// The source's latest block and its token: from the cache when the token still matches, else
    /// decoded. `taking` leaves it out of the cache for a writer that will store it back.
    static func latestStations(sourceID: String, cache: LatestStationCache, taking: Bool = false, in db: Database)
        throws -> (token: Int64?, stations: LatestStations)
    {
        guard
            let token = try Int64.fetchOne(
                db, sql: "SELECT token FROM station_latest WHERE source_id = ?", arguments: [sourceID])
        else { return (nil, LatestStations()) }
        let cached =
            taking ? cache.take(sourceID: sourceID, token: token) : cache.stations(sourceID: sourceID, token: token)
        if let cached { return (token, cached) }
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT payload, details FROM station_latest WHERE source_id = ? AND token = ?",
                arguments: [sourceID, token])
        else { return (nil, LatestStations()) }
        let state: Data = row[0]
        let details: Data = row[1]
        let latest = try LatestStations(state: Array(state), details: Array(details), sourceID: sourceID)
        if !taking { cache.store(latest, sourceID: sourceID, token: token) }
        return (token, latest)
    }

    public func stations(_ query: StationQuery) async throws -> [StoredStation] {
        try await pool.read { [latestCache] db in
            let sources =
                if let sourceID = query.sourceID {
                    [sourceID]
                } else {
                    try String.fetchAll(db, sql: "SELECT source_id FROM station_latest ORDER BY source_id")
                }
            let box = query.near.flatMap { near in query.radiusMeters.map { near.boundingBox(meters: $0) } }
            var found: [StoredStation] = []
            for sourceID in sources {
                let latest = try Self.latestStations(sourceID: sourceID, cache: latestCache, in: db).stations
                var stations = latest.stations
                if let box {
                    stations.removeAll { station in
                        guard let lat = station.observation.latitude, let lon = station.observation.longitude
                        else { return true }
                        return !(box.minLat...box.maxLat).contains(lat) || !(box.minLon...box.maxLon).contains(lon)
                    }
                }
                found += stations.sorted { $0.observation.stationID < $1.observation.stationID }
            }
            return query.refine(found)
        }
    }

    public func station(sourceID: String, stationID: String) async throws -> StoredStation? {
        try await pool.read { [latestCache] db in
            try Self.latestStations(sourceID: sourceID, cache: latestCache, in: db).stations.station(stationID)
        }
    }

    /// Newest first; see `StationHistoryCollector`.
    public func stationHistory(sourceID: String, stationID: String, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StoredStation]
    {
        try await pool.read { [latestCache] db in
            let latest = try Self.latestStations(sourceID: sourceID, cache: latestCache, in: db).stations.station(
                stationID)
            var history = StationHistoryCollector(
                stationID: stationID, since: since, until: until, limit: limit, latest: latest)
            let blocks = try Row.fetchCursor(
                db,
                sql: """
                    SELECT run_id, fetched_at, last_observed_at, payload FROM station_blocks
                    WHERE source_id = ? AND last_observed_at >= ? AND first_observed_at <= ?
                    ORDER BY last_observed_at DESC
                    """, arguments: [sourceID, history.since, history.until])
            while let block = try blocks.next(), history.wants(lastObservedAt: block[2]) {
                let payload: Data = block[3]
                try history.add(block: Array(payload), sourceID: sourceID, fetchedAt: block[1], runID: block[0])
            }
            return history.stations
        }
    }

    public func rawStationObservationCount(sourceID: String?) async throws -> Int {
        try await pool.read { db in
            if let sourceID {
                return try Int.fetchOne(
                    db, sql: "SELECT COALESCE(SUM(count), 0) FROM station_blocks WHERE source_id = ?",
                    arguments: [sourceID]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(count), 0) FROM station_blocks") ?? 0
        }
    }
}
