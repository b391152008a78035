import Foundation
import GRDB
public import MetropulseCore

/// The station tiers: `station_blocks` (raw history, one packed block per run and source, only the
/// observations that run added) and `station_latest` (one packed block per source). See
/// `StationBlock` and docs/decisions/0004-packed-station-tiers.md.
extension SQLiteBackend {
    static func writeStations(
        _ stations: [StationObservation], fetchedAt: Int64, runID: String, cache: LatestStationCache,
        in db: Database
    ) throws {
        for (sourceID, observations) in bySource(stations) {
            var latest = try latestStations(sourceID: sourceID, cache: cache, in: db)
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
                try storeLatest(latest, sourceID: sourceID, updatedAt: fetchedAt, cache: cache, in: db)
            }
        }
    }

    static func storeLatest(
        _ latest: LatestStations, sourceID: String, updatedAt: Int64, cache: LatestStationCache, in db: Database
    ) throws {
        let token = LatestStationCache.newToken()
        var upsert = StatementBinder(
            try db.cachedStatement(
                sql: """
                    INSERT INTO station_latest (source_id, token, updated_at, count, payload) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(source_id) DO UPDATE SET token = excluded.token,
                        updated_at = MAX(updated_at, excluded.updated_at), count = excluded.count,
                        payload = excluded.payload
                    """), in: db)
        upsert.bind(sourceID)
        upsert.bind(token)
        upsert.bind(updatedAt)
        upsert.bind(latest.stations.count)
        upsert.bind(latest.encoded())
        try upsert.step()
        cache.store(latest, sourceID: sourceID, token: token)
    }

    /// Observations grouped by source, in order; one group without copying in the usual case.
    static func bySource(_ stations: [StationObservation]) -> [(String, [StationObservation])] {
        guard let first = stations.first?.sourceID else { return [] }
        if stations.allSatisfy({ $0.sourceID == first }) { return [(first, stations)] }
        var order: [String] = []
        var groups: [String: [StationObservation]] = [:]
        for station in stations {
            if groups[station.sourceID] == nil { order.append(station.sourceID) }
            groups[station.sourceID, default: []].append(station)
        }
        return order.map { ($0, groups[$0]!) }
    }

    /// The source's latest block: from the cache when its token still matches, else decoded.
    static func latestStations(sourceID: String, cache: LatestStationCache, in db: Database) throws
        -> LatestStations
    {
        guard
            let token = try Int64.fetchOne(
                db, sql: "SELECT token FROM station_latest WHERE source_id = ?", arguments: [sourceID])
        else { return LatestStations() }
        if let cached = cache.stations(sourceID: sourceID, token: token) { return cached }
        let payload =
            try Data.fetchOne(
                db, sql: "SELECT payload FROM station_latest WHERE source_id = ? AND token = ?",
                arguments: [sourceID, token]) ?? Data()
        let latest = try LatestStations(decoding: Array(payload), sourceID: sourceID)
        cache.store(latest, sourceID: sourceID, token: token)
        return latest
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
                let latest = try Self.latestStations(sourceID: sourceID, cache: latestCache, in: db)
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
            try Self.latestStations(sourceID: sourceID, cache: latestCache, in: db).station(stationID)
        }
    }

    /// Newest first. Blocks are read newest-last-observation first and reading stops once `limit`
    /// observations are found and no older block can hold a newer one.
    public func stationHistory(sourceID: String, stationID: String, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StoredStation]
    {
        let since = since ?? Int64.min
        let until = until ?? Int64.max
        return try await pool.read { [latestCache] db in
            let latest = try Self.latestStations(sourceID: sourceID, cache: latestCache, in: db).station(stationID)
            let stationID = latest?.observation.stationID ?? stationID
            var found: [StoredStation] = []
            let blocks = try Row.fetchCursor(
                db,
                sql: """
                    SELECT run_id, fetched_at, last_observed_at, payload FROM station_blocks
                    WHERE source_id = ? AND last_observed_at >= ? AND first_observed_at <= ?
                    ORDER BY last_observed_at DESC
                    """, arguments: [sourceID, since, until])
            while let block = try blocks.next() {
                let lastObservedAt: Int64 = block[2]
                if found.count >= limit, let oldest = found.last?.observation.observedAt, lastObservedAt < oldest {
                    break
                }
                let payload: Data = block[3]
                let observations = try StationBlock.rawObservations(
                    of: stationID, in: Array(payload), sourceID: sourceID)
                for var observation in observations where (since...until).contains(observation.observedAt) {
                    if let described = latest?.observation {
                        observation.code = described.code
                        observation.name = described.name
                        observation.latitude = described.latitude
                        observation.longitude = described.longitude
                    }
                    let stored = StoredStation(observation: observation, fetchedAt: block[1], runID: block[0])
                    // Kept newest first; blocks usually arrive in that order already.
                    let inOrder = found.last.map { observation.observedAt <= $0.observation.observedAt } ?? true
                    found.append(stored)
                    if !inOrder { found.sort { $0.observation.observedAt > $1.observation.observedAt } }
                    if found.count > limit { found.removeLast() }
                }
            }
            return found
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
