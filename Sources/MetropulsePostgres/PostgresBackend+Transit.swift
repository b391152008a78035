import Foundation
import Logging
public import MetropulseCore
import PostgresNIO

extension PostgresBackend {
    private struct DepartureRecord: Encodable {
        var trip_key: String
        var stop_id: String
        var sequence: Int
        var route_id: String?
        var at: Int64?
        var observed_at: Int64
        var payload: String
    }

    private struct VehicleRecord: Encodable {
        var vehicle_id: String
        var route_id: String?
        var observed_at: Int64
        var payload: String
    }

    private struct DisruptionRecord: Encodable {
        var id: String
        var observed_at: Int64
        var payload: String
    }

    /// Writes one run's departures, vehicles and disruptions, one statement per table (rows as a
    /// JSON record set). Same rules as SQLite: a snapshot replaces the source's rows unless the
    /// table holds a newer snapshot; otherwise rows are upserted and only move forward.
    static func writeTransit(
        _ batch: ObservationBatch, sourceID: String, fetchedAt: Int64, runID: String,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        let encoder = JSONEncoder()
        func json(_ value: some Encodable) throws -> String {
            String(decoding: try encoder.encode(value), as: UTF8.self)
        }
        func replaces(_ table: String) async throws -> Bool {
            guard batch.transitSnapshot else { return true }
            let observed = batch.transitObservedAt ?? Int64.max
            // Deletes only when no stored row is newer than this snapshot; says whether it may write.
            let rows = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        WITH newer AS (SELECT 1 FROM \(table) WHERE source_id = $1 AND observed_at > $2 LIMIT 1),
                        gone AS (DELETE FROM \(table) WHERE source_id = $1 AND NOT EXISTS (SELECT 1 FROM newer))
                        SELECT NOT EXISTS (SELECT 1 FROM newer)
                        """,
                    binds: {
                        var binds = PostgresBindings()
                        binds.append(sourceID)
                        binds.append(observed)
                        return binds
                    }()), logger: logger)
            for try await allowed in rows.decode(Bool.self) { return allowed }
            return true
        }

        let departures = try TransitRows.departures(batch.departures).map {
            DepartureRecord(
                trip_key: $0.tripKey, stop_id: $0.stopID, sequence: $0.sequence, route_id: $0.routeID, at: $0.at,
                observed_at: $0.observedAt, payload: $0.payload)
        }
        if batch.transitSnapshot || !departures.isEmpty {
            // Departures whose time has come by this fetch are seen: their last prediction is kept.
            let observed = batch.transitObservedAt ?? batch.departures.map(\.observedAt).max() ?? fetchedAt
            try await connection.query(
                """
                INSERT INTO departures_seen (source_id, trip_key, stop_id, sequence, day, route_id, at, scheduled_at,
                    delay_seconds, relationship, observed_at, recorded_at)
                SELECT source_id, trip_key, stop_id, sequence,
                    (COALESCE((payload::jsonb->>'scheduledAt')::bigint, at) / 86400000) * 86400000, route_id, at,
                    (payload::jsonb->>'scheduledAt')::bigint,
                    CASE WHEN x.delay IS NULL THEN NULL ELSE GREATEST(-604800, LEAST(604800, x.delay))::int END,
                    payload::jsonb->>'relationship', observed_at, \(fetchedAt)
                FROM departures, LATERAL (SELECT COALESCE((payload::jsonb->>'delaySeconds')::bigint,
                    ((payload::jsonb->>'expectedAt')::bigint - (payload::jsonb->>'scheduledAt')::bigint) / 1000) AS delay) x
                WHERE source_id = \(sourceID) AND at IS NOT NULL AND at <= \(observed) AND at > \(observed - 7_200_000)
                ON CONFLICT (source_id, trip_key, stop_id, sequence, day) DO UPDATE SET
                    route_id = excluded.route_id, at = excluded.at, scheduled_at = excluded.scheduled_at,
                    delay_seconds = excluded.delay_seconds, relationship = excluded.relationship,
                    observed_at = excluded.observed_at, recorded_at = excluded.recorded_at
                WHERE excluded.observed_at > departures_seen.observed_at
                """, logger: logger)
        }
        if try await replaces("departures"), !departures.isEmpty {
            try await connection.query(
                """
                INSERT INTO departures (source_id, trip_key, stop_id, sequence, route_id, at, observed_at, fetched_at,
                    run_id, payload)
                SELECT \(sourceID), trip_key, stop_id, sequence, route_id, at, observed_at, \(fetchedAt), \(runID), payload
                FROM jsonb_to_recordset(\(try json(departures))::jsonb) AS r(trip_key text, stop_id text,
                    sequence integer, route_id text, at bigint, observed_at bigint, payload text)
                ON CONFLICT (source_id, trip_key, stop_id, sequence) DO UPDATE SET
                    route_id = excluded.route_id, at = excluded.at, observed_at = excluded.observed_at,
                    fetched_at = excluded.fetched_at, run_id = excluded.run_id, payload = excluded.payload
                WHERE excluded.observed_at >= departures.observed_at
                """, logger: logger)
        }
        let vehicles = try TransitRows.vehicles(batch.vehicles).map {
            VehicleRecord(
                vehicle_id: $0.vehicleID, route_id: $0.routeID, observed_at: $0.observedAt, payload: $0.payload)
        }
        if try await replaces("vehicles"), !vehicles.isEmpty {
            try await connection.query(
                """
                INSERT INTO vehicles (source_id, vehicle_id, route_id, observed_at, fetched_at, run_id, payload)
                SELECT \(sourceID), vehicle_id, route_id, observed_at, \(fetchedAt), \(runID), payload
                FROM jsonb_to_recordset(\(try json(vehicles))::jsonb) AS r(vehicle_id text, route_id text,
                    observed_at bigint, payload text)
                ON CONFLICT (source_id, vehicle_id) DO UPDATE SET
                    route_id = excluded.route_id, observed_at = excluded.observed_at,
                    fetched_at = excluded.fetched_at, run_id = excluded.run_id, payload = excluded.payload
                WHERE excluded.observed_at >= vehicles.observed_at
                """, logger: logger)
        }
        if !vehicles.isEmpty {
            try await connection.query(
                """
                INSERT INTO vehicle_positions (source_id, vehicle_id, observed_at, run_id, payload)
                SELECT \(sourceID), vehicle_id, observed_at, \(runID), payload
                FROM jsonb_to_recordset(\(try json(vehicles))::jsonb) AS r(vehicle_id text, observed_at bigint,
                    payload text)
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
        let disruptions = try TransitRows.disruptions(batch.disruptions).map {
            DisruptionRecord(id: $0.id, observed_at: $0.observedAt, payload: $0.payload)
        }
        if try await replaces("disruptions"), !disruptions.isEmpty {
            try await connection.query(
                """
                INSERT INTO disruptions (source_id, id, observed_at, fetched_at, run_id, payload)
                SELECT \(sourceID), id, observed_at, \(fetchedAt), \(runID), payload
                FROM jsonb_to_recordset(\(try json(disruptions))::jsonb) AS r(id text, observed_at bigint, payload text)
                ON CONFLICT (source_id, id) DO UPDATE SET
                    observed_at = excluded.observed_at, fetched_at = excluded.fetched_at,
                    run_id = excluded.run_id, payload = excluded.payload
                WHERE excluded.observed_at >= disruptions.observed_at
                """, logger: logger)
        }
    }

    private struct MeasurementRecord: Encodable {
        var source_id: String
        var zone: String
        var metric: String
        var observed_at: Int64
        var value: Double
        var unit: String?
    }

    /// Raw readings are idempotent on (source, zone, metric, observed_at); the latest only moves
    /// forward. One statement each, rows as a JSON record set.
    static func writeMeasurements(
        _ measurements: [CityMeasurement], fetchedAt: Int64, runID: String, on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        // One row per latest key: the newest reading of each (source, zone, metric) in the batch.
        var newest: [String: CityMeasurement] = [:]
        for m in measurements {
            let key = "\(m.sourceID)\u{1}\(m.zone)\u{1}\(m.metric)"
            if (newest[key]?.observedAt ?? Int64.min) <= m.observedAt { newest[key] = m }
        }
        func records(_ list: [CityMeasurement]) throws -> String {
            let rows = list.map {
                MeasurementRecord(
                    source_id: $0.sourceID, zone: $0.zone, metric: $0.metric, observed_at: $0.observedAt,
                    value: $0.value,
                    unit: $0.unit)
            }
            return String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        }
        try await connection.query(
            """
            INSERT INTO measurements (source_id, zone, metric, observed_at, value, unit, fetched_at, run_id)
            SELECT source_id, zone, metric, observed_at, value, unit, \(fetchedAt), \(runID)
            FROM jsonb_to_recordset(\(try records(measurements))::jsonb) AS r(source_id text, zone text, metric text,
                observed_at bigint, value double precision, unit text)
            ON CONFLICT DO NOTHING
            """, logger: logger)
        try await connection.query(
            """
            INSERT INTO measurements_latest (source_id, zone, metric, observed_at, value, unit, fetched_at, run_id)
            SELECT source_id, zone, metric, observed_at, value, unit, \(fetchedAt), \(runID)
            FROM jsonb_to_recordset(\(try records(Array(newest.values)))::jsonb) AS r(source_id text, zone text,
                metric text, observed_at bigint, value double precision, unit text)
            ON CONFLICT (source_id, zone, metric) DO UPDATE SET
                observed_at = excluded.observed_at, value = excluded.value, unit = excluded.unit,
                fetched_at = excluded.fetched_at, run_id = excluded.run_id
            WHERE excluded.observed_at >= measurements_latest.observed_at
            """, logger: logger)
    }

    public func latestMeasurements(sourceIDs: [String], zone: String?) async throws -> [StoredValue<CityMeasurement>] {
        try await measurements(
            client.query(
                """
                SELECT source_id, zone, metric, observed_at, value, unit, fetched_at, run_id FROM measurements_latest
                WHERE source_id = ANY(\(sourceIDs)::text[]) AND (\(zone)::text IS NULL OR zone = \(zone))
                ORDER BY zone, metric, source_id
                """, logger: logger))
    }

    public func measurementHistory(sourceIDs: [String], zone: String, metric: String?, since: Int64?, limit: Int)
        async throws -> [StoredValue<CityMeasurement>]
    {
        try await measurements(
            client.query(
                """
                SELECT source_id, zone, metric, observed_at, value, unit, fetched_at, run_id FROM measurements
                WHERE source_id = ANY(\(sourceIDs)::text[]) AND zone = \(zone)
                    AND (\(metric)::text IS NULL OR metric = \(metric))
                    AND (\(since)::bigint IS NULL OR observed_at >= \(since))
                ORDER BY observed_at DESC, metric LIMIT \(limit)
                """, logger: logger))
    }

    private func measurements(_ rows: PostgresRowSequence) async throws -> [StoredValue<CityMeasurement>] {
        var values: [StoredValue<CityMeasurement>] = []
        for try await (source, zone, metric, observed, value, unit, fetched, run) in rows.decode(
            (String, String, String, Int64, Double, String?, Int64, String).self)
        {
            values.append(
                StoredValue(
                    value: CityMeasurement(
                        sourceID: source, zone: zone, metric: metric, value: value, unit: unit, observedAt: observed),
                    fetchedAt: fetched, runID: run))
        }
        return values
    }

    public func departures(_ query: DepartureQuery) async throws -> [StoredValue<Departure>] {
        try await transit(
            Departure.self,
            client.query(
                """
                SELECT payload, fetched_at, run_id FROM departures
                WHERE (\(query.sourceIDs)::text[] IS NULL OR source_id = ANY(\(query.sourceIDs)::text[]))
                    AND (\(query.routeID)::text IS NULL OR route_id = \(query.routeID))
                    AND (\(query.stopID)::text IS NULL OR stop_id = \(query.stopID))
                    AND (\(query.from)::bigint IS NULL OR at IS NULL OR at >= \(query.from))
                ORDER BY at IS NULL, at, stop_id, trip_key LIMIT \(query.limit)
                """, logger: logger))
    }

    public func vehicles(sourceIDs: [String]?, routeID: String?) async throws -> [StoredValue<VehiclePosition>] {
        try await transit(
            VehiclePosition.self,
            client.query(
                """
                SELECT payload, fetched_at, run_id FROM vehicles
                WHERE (\(sourceIDs)::text[] IS NULL OR source_id = ANY(\(sourceIDs)::text[]))
                    AND (\(routeID)::text IS NULL OR route_id = \(routeID))
                ORDER BY source_id, vehicle_id
                """, logger: logger))
    }

    public func disruptions(sourceIDs: [String]?) async throws -> [StoredValue<Disruption>] {
        try await transit(
            Disruption.self,
            client.query(
                """
                SELECT payload, fetched_at, run_id FROM disruptions
                WHERE (\(sourceIDs)::text[] IS NULL OR source_id = ANY(\(sourceIDs)::text[]))
                ORDER BY source_id, id
                """, logger: logger))
    }

    private func transit<T: Decodable & Sendable & Hashable>(_ type: T.Type, _ rows: PostgresRowSequence) async throws
        -> [StoredValue<T>]
    {
        var values: [StoredValue<T>] = []
        for try await (payload, fetchedAt, runID) in rows.decode((String, Int64, String).self) {
            values.append(
                StoredValue(value: try TransitRows.decode(T.self, payload), fetchedAt: fetchedAt, runID: runID))
        }
        return values
    }
}
