import GRDB
public import MetropulseCore

extension SQLiteBackend {
    /// Writes one run's departures, vehicles and disruptions. A snapshot replaces the source's rows
    /// of each table unless the table already holds a newer snapshot; otherwise rows are upserted
    /// and only move forward. Vehicle positions are also appended to their raw history.
    static func writeTransit(
        _ batch: ObservationBatch, sourceID: String, fetchedAt: Int64, runID: String, in db: Database
    )
        throws
    {
        let departures = try TransitRows.departures(batch.departures)
        let vehicles = try TransitRows.vehicles(batch.vehicles)
        let disruptions = try TransitRows.disruptions(batch.disruptions)
        func replaces(_ table: String) throws -> Bool {
            guard batch.transitSnapshot else { return true }
            let stored = try Int64.fetchOne(
                db, sql: "SELECT MAX(observed_at) FROM \(table) WHERE source_id = ?", arguments: [sourceID])
            guard stored == nil || stored! <= (batch.transitObservedAt ?? Int64.max) else { return false }
            try db.execute(sql: "DELETE FROM \(table) WHERE source_id = ?", arguments: [sourceID])
            return true
        }
        if batch.transitSnapshot || !departures.isEmpty {
            // Departures whose time has come by this fetch are seen: their last prediction is kept.
            let observed = batch.transitObservedAt ?? batch.departures.map(\.observedAt).max() ?? fetchedAt
            try db.cachedStatement(
                sql: """
                    INSERT INTO departures_seen (source_id, trip_key, stop_id, sequence, day, route_id, at,
                        scheduled_at, delay_seconds, relationship, observed_at, recorded_at)
                    SELECT source_id, trip_key, stop_id, sequence,
                        (COALESCE(json_extract(payload, '$.scheduledAt'), at) / 86400000) * 86400000, route_id, at,
                        json_extract(payload, '$.scheduledAt'),
                        MAX(-604800, MIN(604800, COALESCE(json_extract(payload, '$.delaySeconds'),
                            (json_extract(payload, '$.expectedAt') - json_extract(payload, '$.scheduledAt')) / 1000))),
                        json_extract(payload, '$.relationship'), observed_at, ?3
                    FROM departures
                    WHERE source_id = ?1 AND at IS NOT NULL AND at <= ?2 AND at > ?2 - 7200000
                    ON CONFLICT (source_id, trip_key, stop_id, sequence, day) DO UPDATE SET
                        route_id = excluded.route_id, at = excluded.at, scheduled_at = excluded.scheduled_at,
                        delay_seconds = excluded.delay_seconds, relationship = excluded.relationship,
                        observed_at = excluded.observed_at, recorded_at = excluded.recorded_at
                    WHERE excluded.observed_at > departures_seen.observed_at
                    """
            ).execute(arguments: [sourceID, observed, fetchedAt])
        }
        if try replaces("departures") {
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO departures (source_id, trip_key, stop_id, sequence, route_id, at, observed_at,
                        fetched_at, run_id, payload)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source_id, trip_key, stop_id, sequence) DO UPDATE SET
                        route_id = excluded.route_id, at = excluded.at, observed_at = excluded.observed_at,
                        fetched_at = excluded.fetched_at, run_id = excluded.run_id, payload = excluded.payload
                    WHERE excluded.observed_at >= departures.observed_at
                    """)
            for r in departures {
                try statement.execute(arguments: [
                    r.sourceID, r.tripKey, r.stopID, r.sequence, r.routeID, r.at, r.observedAt, fetchedAt, runID,
                    r.payload,
                ])
            }
        }
        if try replaces("vehicles") {
            let latest = try db.cachedStatement(
                sql: """
                    INSERT INTO vehicles (source_id, vehicle_id, route_id, observed_at, fetched_at, run_id, payload)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source_id, vehicle_id) DO UPDATE SET
                        route_id = excluded.route_id, observed_at = excluded.observed_at,
                        fetched_at = excluded.fetched_at, run_id = excluded.run_id, payload = excluded.payload
                    WHERE excluded.observed_at >= vehicles.observed_at
                    """)
            for r in vehicles {
                try latest.execute(arguments: [
                    r.sourceID, r.vehicleID, r.routeID, r.observedAt, fetchedAt, runID, r.payload,
                ])
            }
        }
        let raw = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO vehicle_positions (source_id, vehicle_id, observed_at, run_id, payload)
                VALUES (?, ?, ?, ?, ?)
                """)
        for r in vehicles { try raw.execute(arguments: [r.sourceID, r.vehicleID, r.observedAt, runID, r.payload]) }
        if try replaces("disruptions") {
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO disruptions (source_id, id, observed_at, fetched_at, run_id, payload)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (source_id, id) DO UPDATE SET
                        observed_at = excluded.observed_at, fetched_at = excluded.fetched_at,
                        run_id = excluded.run_id, payload = excluded.payload
                    WHERE excluded.observed_at >= disruptions.observed_at
                    """)
            for r in disruptions {
                try statement.execute(arguments: [r.sourceID, r.id, r.observedAt, fetchedAt, runID, r.payload])
            }
        }
    }

    /// Raw readings are idempotent on (source, zone, metric, observed_at); the latest only moves forward.
    static func writeMeasurements(_ measurements: [CityMeasurement], fetchedAt: Int64, runID: String, in db: Database)
        throws
    {
        let raw = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO measurements (source_id, zone, metric, observed_at, value, unit, fetched_at, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let latest = try db.cachedStatement(
            sql: """
                INSERT INTO measurements_latest (source_id, zone, metric, observed_at, value, unit, fetched_at, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (source_id, zone, metric) DO UPDATE SET
                    observed_at = excluded.observed_at, value = excluded.value, unit = excluded.unit,
                    fetched_at = excluded.fetched_at, run_id = excluded.run_id
                WHERE excluded.observed_at >= measurements_latest.observed_at
                """)
        for m in measurements {
            let arguments: StatementArguments = [
                m.sourceID, m.zone, m.metric, m.observedAt, m.value, m.unit, fetchedAt, runID,
            ]
            try raw.execute(arguments: arguments)
            try latest.execute(arguments: arguments)
        }
    }

    public func latestMeasurements(sourceIDs: [String], zone: String?) async throws -> [StoredValue<CityMeasurement>] {
        try await pool.read { db in
            var arguments = StatementArguments(sourceIDs)
            var filter = "source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ",")))"
            if let zone {
                filter += " AND zone = ?"
                _ = arguments.append(contentsOf: [zone])
            }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.measurementColumns) FROM measurements_latest WHERE \(filter)
                    ORDER BY zone, metric, source_id
                    """, arguments: arguments
            ).map(Self.measurement)
        }
    }

    public func measurementHistory(sourceIDs: [String], zone: String, metric: String?, since: Int64?, limit: Int)
        async throws -> [StoredValue<CityMeasurement>]
    {
        try await pool.read { db in
            var arguments = StatementArguments(sourceIDs)
            _ = arguments.append(contentsOf: [zone, metric, metric, since, since, limit])
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.measurementColumns) FROM measurements
                    WHERE source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ","))) AND zone = ?
                        AND (? IS NULL OR metric = ?) AND (? IS NULL OR observed_at >= ?)
                    ORDER BY observed_at DESC, metric LIMIT ?
                    """, arguments: arguments
            ).map(Self.measurement)
        }
    }

    static let measurementColumns = "source_id, zone, metric, observed_at, value, unit, fetched_at, run_id"

    private static func measurement(_ row: Row) -> StoredValue<CityMeasurement> {
        StoredValue(
            value: CityMeasurement(
                sourceID: row[0], zone: row[1], metric: row[2], value: row[4], unit: row[5], observedAt: row[3]),
            fetchedAt: row[6], runID: row[7])
    }

    public func departures(_ query: DepartureQuery) async throws -> [StoredValue<Departure>] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let sources = query.sourceIDs {
                clauses.append("source_id IN (\(sources.map { _ in "?" }.joined(separator: ",")))")
                _ = arguments.append(contentsOf: StatementArguments(sources))
            }
            if let route = query.routeID {
                clauses.append("route_id = ?")
                _ = arguments.append(contentsOf: [route])
            }
            if let stop = query.stopID {
                clauses.append("stop_id = ?")
                _ = arguments.append(contentsOf: [stop])
            }
            if let from = query.from {
                clauses.append("(at IS NULL OR at >= ?)")
                _ = arguments.append(contentsOf: [from])
            }
            _ = arguments.append(contentsOf: [query.limit])
            let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT payload, fetched_at, run_id FROM departures \(filter)
                    ORDER BY at IS NULL, at, stop_id, trip_key LIMIT ?
                    """, arguments: arguments
            ).map { try Self.transit(Departure.self, $0) }
        }
    }

    public func vehicles(sourceIDs: [String]?, routeID: String?) async throws -> [StoredValue<VehiclePosition>] {
        try await pool.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let sources = sourceIDs {
                clauses.append("source_id IN (\(sources.map { _ in "?" }.joined(separator: ",")))")
                _ = arguments.append(contentsOf: StatementArguments(sources))
            }
            if let routeID {
                clauses.append("route_id = ?")
                _ = arguments.append(contentsOf: [routeID])
            }
            let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            return try Row.fetchAll(
                db, sql: "SELECT payload, fetched_at, run_id FROM vehicles \(filter) ORDER BY source_id, vehicle_id",
                arguments: arguments
            ).map { try Self.transit(VehiclePosition.self, $0) }
        }
    }

    public func disruptions(sourceIDs: [String]?) async throws -> [StoredValue<Disruption>] {
        try await pool.read { db in
            let filter = sourceIDs.map { "WHERE source_id IN (\($0.map { _ in "?" }.joined(separator: ",")))" } ?? ""
            return try Row.fetchAll(
                db, sql: "SELECT payload, fetched_at, run_id FROM disruptions \(filter) ORDER BY source_id, id",
                arguments: StatementArguments(sourceIDs ?? [])
            ).map { try Self.transit(Disruption.self, $0) }
        }
    }

    private static func transit<T: Decodable & Sendable & Hashable>(_ type: T.Type, _ row: Row) throws
        -> StoredValue<T>
    {
        StoredValue(value: try TransitRows.decode(T.self, row[0]), fetchedAt: row[1], runID: row[2])
    }
}
