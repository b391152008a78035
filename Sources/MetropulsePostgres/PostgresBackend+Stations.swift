import Logging
public import MetropulseCore
import NIOCore
import PostgresNIO

/// The station tiers on PostgreSQL, laid out as on SQLite: `station_blocks` (raw history, one
/// packed block per run and source) and `station_latest` (one packed block per source). Writers in
/// several processes serialise per source on the `station_latest` row, locked in source order.
extension PostgresBackend {
    /// A commit's station observations of one source and run.
    typealias StationGroup = (sourceID: String, fetchedAt: Int64, runID: String, stations: [StationObservation])

    static func stationGroups(_ results: [RunResult]) -> [StationGroup] {
        var groups: [StationGroup] = []
        for result in results where !result.observations.stations.isEmpty {
            for group in result.observations.stations.groupedBySource() {
                groups.append((group.sourceID, result.run.finishedAt, result.run.id, group.stations))
            }
        }
        return groups
    }

    /// What merging a commit's groups into the sources' latest blocks gave: the raw blocks to
    /// write, and the sources whose latest block changed (newest fetch time, details changed).
    struct MergedStations {
        var raw = RawBlockColumns()
        var updatedAt: [String: Int64] = [:]
        var detailsChanged: Set<String> = []

        init(_ groups: [StationGroup], into latest: inout [String: LatestStations]) {
            for group in groups {
                let merged = latest[group.sourceID, default: LatestStations()].merge(
                    group.stations, fetchedAt: group.fetchedAt, runID: group.runID)
                if !merged.fresh.isEmpty {
                    raw.append(merged.fresh, sourceID: group.sourceID, fetchedAt: group.fetchedAt, runID: group.runID)
                }
                if merged.changed {
                    updatedAt[group.sourceID] = max(updatedAt[group.sourceID] ?? .min, group.fetchedAt)
                }
                if merged.detailsChanged { detailsChanged.insert(group.sourceID) }
            }
        }
    }

    /// The raw blocks of a commit as the columns `unnest` takes.
    struct RawBlockColumns: ArrayColumns {
        static let types: [PostgresDataType] = [
            .textArray, .textArray, .int8Array, .int8Array, .int8Array, .int8Array, .byteaArray,
        ]

        var sourceIDs: [String] = []
        var runIDs: [String] = []
        var fetchedAt: [Int64] = []
        var firstObservedAt: [Int64] = []
        var lastObservedAt: [Int64] = []
        var counts: [Int64] = []
        var payloads: [ByteBuffer] = []

        mutating func append(_ stations: [StationObservation], sourceID: String, fetchedAt: Int64, runID: String) {
            var range = (stations[0].observedAt, stations[0].observedAt)
            for station in stations {
                range = (min(range.0, station.observedAt), max(range.1, station.observedAt))
            }
            sourceIDs.append(sourceID)
            runIDs.append(runID)
            self.fetchedAt.append(fetchedAt)
            firstObservedAt.append(range.0)
            lastObservedAt.append(range.1)
            counts.append(Int64(stations.count))
            payloads.append(ByteBuffer(bytes: StationBlock.encodeRaw(stations)))
        }

        func append(to bindings: inout PostgresBindings) throws {
            try bindings.append(sourceIDs)
            try bindings.append(runIDs)
            try bindings.append(fetchedAt)
            try bindings.append(firstObservedAt)
            try bindings.append(lastObservedAt)
            try bindings.append(counts)
            try bindings.append(payloads)
        }
    }

    /// The sources' new latest blocks, each under a new token.
    struct LatestBlockColumns: ArrayColumns {
        static let types: [PostgresDataType] = [
            .textArray, .int8Array, .int8Array, .int8Array, .byteaArray, .boolArray, .byteaArray,
        ]

        var sourceIDs: [String] = []
        var tokens: [Int64] = []
        var updatedAt: [Int64] = []
        var counts: [Int64] = []
        var payloads: [ByteBuffer] = []
        var withDetails: [Bool] = []
        var details: [ByteBuffer] = []

        mutating func append(_ stations: LatestStations, sourceID: String, updatedAt: Int64, withDetails: Bool) {
            sourceIDs.append(sourceID)
            tokens.append(LatestStationCache.newToken())
            self.updatedAt.append(updatedAt)
            counts.append(Int64(stations.stations.count))
            payloads.append(ByteBuffer(bytes: stations.encodedState()))
            self.withDetails.append(withDetails)
            details.append(withDetails ? ByteBuffer(bytes: stations.encodedDetails()) : ByteBuffer())
        }

        /// A source checked but not changed: its token as it is, no block.
        mutating func appendUnchanged(sourceID: String, token: Int64) {
            sourceIDs.append(sourceID)
            tokens.append(token)
            updatedAt.append(0)
            counts.append(0)
            payloads.append(ByteBuffer())
            withDetails.append(false)
            details.append(ByteBuffer())
        }

        func append(to bindings: inout PostgresBindings) throws {
            try bindings.append(sourceIDs)
            try bindings.append(tokens)
            try bindings.append(updatedAt)
            try bindings.append(counts)
            try bindings.append(payloads)
            try bindings.append(withDetails)
            try bindings.append(details)
        }
    }

    struct LockLatest: PostgresPreparedStatement {
        typealias Row = (String, Int64)

        static let sql =
            "SELECT source_id, token FROM station_latest WHERE source_id = ANY($1) ORDER BY source_id FOR UPDATE"
        static let bindingDataTypes: [PostgresDataType] = [.textArray]

        var sources: [String]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            try bindings.append(sources)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// Locks the sources' latest rows (creating empty ones first where missing), in source order so
    /// concurrent commits cannot deadlock, and returns their tokens.
    static func lockLatest(_ sources: [String], on connection: PostgresConnection, logger: Logger) async throws
        -> [String: Int64]
    {
        func lockedTokens() async throws -> [String: Int64] {
            var tokens: [String: Int64] = [:]
            for try await (sourceID, token) in try await connection.execute(
                LockLatest(sources: sources), logger: logger)
            {
                tokens[sourceID] = token
            }
            return tokens
        }
        var tokens = try await lockedTokens()
        let missing = sources.filter { tokens[$0] == nil }
        if !missing.isEmpty {
            try await connection.query(
                """
                INSERT INTO station_latest (source_id, token, updated_at, count, payload, details)
                SELECT source_id, 0, 0, 0, \(ByteBuffer(bytes: LatestStations().encodedState())),
                    \(ByteBuffer(bytes: LatestStations().encodedDetails()))
                FROM unnest(\(missing)::text[]) AS source_id
                ORDER BY source_id
                ON CONFLICT (source_id) DO NOTHING
                """, logger: logger)
            tokens = try await lockedTokens()
        }
        return tokens
    }

    /// The blocks for these (source, token) pairs: cached ones as they are, the rest read and decoded.
    /// `taking` leaves them out of the cache for a writer that will store them back.
    static func latestStations(
        _ tokens: [String: Int64], cache: LatestStationCache, taking: Bool = false, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [String: LatestStations] {
        var found: [String: LatestStations] = [:]
        var stale: [String] = []
        for (sourceID, token) in tokens {
            let cached =
                taking ? cache.take(sourceID: sourceID, token: token) : cache.stations(sourceID: sourceID, token: token)
            if let cached {
                found[sourceID] = cached
            } else {
                stale.append(sourceID)
            }
        }
        guard !stale.isEmpty else { return found }
        let rows = try await connection.query(
            "SELECT source_id, token, payload, details FROM station_latest WHERE source_id = ANY(\(stale))",
            logger: logger)
        for try await (sourceID, token, state, details) in rows.decode((String, Int64, ByteBuffer, ByteBuffer).self) {
            let stations = try LatestStations(
                state: Array(buffer: state), details: Array(buffer: details), sourceID: sourceID)
            if !taking { cache.store(stations, sourceID: sourceID, token: token) }
            found[sourceID] = stations
        }
        return found
    }

    /// The latest blocks of one source, or of every source.
    func latestStations(sourceID: String?) async throws -> [(sourceID: String, stations: LatestStations)] {
        try await client.withConnection { connection in
            var tokens: [String: Int64] = [:]
            let rows = try await connection.query(
                """
                SELECT source_id, token FROM station_latest
                WHERE (\(sourceID)::text IS NULL OR source_id = \(sourceID)) AND count > 0
                """, logger: logger)
            for try await (source, token) in rows.decode((String, Int64).self) { tokens[source] = token }
            let found = try await Self.latestStations(tokens, cache: latestCache, on: connection, logger: logger)
            return found.keys.sorted().map { ($0, found[$0]!) }
        }
    }

    public func stations(_ query: StationQuery) async throws -> [StoredStation] {
        let box = query.near.flatMap { near in query.radiusMeters.map { near.boundingBox(meters: $0) } }
        var found: [StoredStation] = []
        for (_, latest) in try await latestStations(sourceID: query.sourceID) {
            var stations = latest.stations
            if let box {
                stations.removeAll { station in
                    guard let lat = station.observation.latitude, let lon = station.observation.longitude else {
                        return true
                    }
                    return !(box.minLat...box.maxLat).contains(lat) || !(box.minLon...box.maxLon).contains(lon)
                }
            }
            found += stations.sorted { $0.observation.stationID < $1.observation.stationID }
        }
        return query.refine(found)
    }

    public func station(sourceID: String, stationID: String) async throws -> StoredStation? {
        try await latestStations(sourceID: sourceID).first?.stations.station(stationID)
    }

    /// Newest first; see `StationHistoryCollector`. Blocks are read a page at a time.
    public func stationHistory(sourceID: String, stationID: String, since: Int64?, until: Int64?, limit: Int)
        async throws -> [StoredStation]
    {
        let latest = try await station(sourceID: sourceID, stationID: stationID)
        var history = StationHistoryCollector(
            stationID: stationID, since: since, until: until, limit: limit, latest: latest)
        var after: (lastObservedAt: Int64, id: Int64)?
        pages: while true {
            let rows = try await client.query(
                """
                SELECT id, run_id, fetched_at, last_observed_at, payload FROM station_blocks
                WHERE source_id = \(sourceID) AND last_observed_at >= \(history.since)
                    AND first_observed_at <= \(history.until)
                    AND (\(after == nil) OR (last_observed_at, id) < (\(after?.lastObservedAt ?? 0), \(after?.id ?? 0)))
                ORDER BY last_observed_at DESC, id DESC LIMIT 64
                """, logger: logger)
            var read = 0
            for try await (id, runID, fetchedAt, lastObservedAt, payload) in rows.decode(
                (Int64, String, Int64, Int64, ByteBuffer).self)
            {
                read += 1
                after = (lastObservedAt, id)
                guard history.wants(lastObservedAt: lastObservedAt) else { continue }
                try history.add(block: Array(buffer: payload), sourceID: sourceID, fetchedAt: fetchedAt, runID: runID)
            }
            guard read == 64, let after, history.wants(lastObservedAt: after.lastObservedAt) else { break pages }
        }
        return history.stations
    }

    public func rawStationObservationCount(sourceID: String?) async throws -> Int {
        let rows = try await client.query(
            """
            SELECT COALESCE(SUM(count), 0)::bigint FROM station_blocks
            WHERE (\(sourceID)::text IS NULL OR source_id = \(sourceID))
            """, logger: logger)
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}
