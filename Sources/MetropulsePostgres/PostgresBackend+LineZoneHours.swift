public import MetropulseCore
import PostgresNIO

extension PostgresBackend {
    private func touches(_ rows: PostgresRowSequence) async throws -> [HourTouch] {
        var touches: [HourTouch] = []
        for try await row in rows.decode((String, Int64, Int64).self) {
            touches.append(HourTouch(sourceID: row.0, hour: row.1, newest: row.2))
        }
        return touches
    }

    public func departureHoursTouched(since: Int64) async throws -> [HourTouch] {
        try await touches(
            try await client.query(
                """
                SELECT source_id, at - ((at % 3600000) + 3600000) % 3600000 AS hour, max(recorded_at)
                FROM departures_seen WHERE recorded_at >= \(since) GROUP BY source_id, hour ORDER BY source_id, hour
                """, logger: logger))
    }

    public func departuresSeen(sourceID: String, from: Int64, until: Int64) async throws -> [DepartureSeen] {
        var seen: [DepartureSeen] = []
        for try await row in try await client.query(
            """
            SELECT source_id, route_id, trip_key, stop_id, at, scheduled_at, delay_seconds, relationship
            FROM departures_seen WHERE source_id = \(sourceID) AND at >= \(from) AND at < \(until) ORDER BY at
            """, logger: logger
        ).decode((String, String?, String, String, Int64, Int64?, Int32?, String?).self) {
            seen.append(
                DepartureSeen(
                    sourceID: row.0, routeID: row.1, tripKey: row.2, stopID: row.3, at: row.4, scheduledAt: row.5,
                    delaySeconds: row.6.map(Int.init), relationship: row.7))
        }
        return seen
    }

    public func replaceLineHours(sourceID: String, hours: [Int64], rows: [LineHour], writtenAt: Int64) async throws {
        let rows = rows.filter { $0.sourceID == sourceID }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "DELETE FROM line_hours WHERE source_id = \(sourceID) AND hour = ANY(\(hours)::bigint[])",
                logger: logger)
            guard !rows.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO line_hours (source_id, route_id, hour, departures, with_delay, cancelled, delay_mean,
                    delay_p90, on_time_share, written_at)
                SELECT \(sourceID), r.*, \(writtenAt) FROM UNNEST(
                    \(rows.map(\.routeID))::text[], \(rows.map(\.hour))::bigint[],
                    \(rows.map { Int32(clamping: $0.departures) })::integer[],
                    \(rows.map { Int32(clamping: $0.withDelay) })::integer[],
                    \(rows.map { Int32(clamping: $0.cancelled) })::integer[], \(NullableArray(rows.map(\.delayMean)))::float8[],
                    \(NullableArray(rows.map(\.delayP90)))::float8[], \(NullableArray(rows.map(\.onTimeShare)))::float8[]) AS r
                """, logger: logger)
        }
    }

    public func lineHours(sourceIDs: [String], routeID: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [LineHour]
    {
        guard !sourceIDs.isEmpty else { return [] }
        var hours: [LineHour] = []
        for try await row in try await client.query(
            """
            SELECT source_id, route_id, hour, departures, with_delay, cancelled, delay_mean, delay_p90, on_time_share
            FROM line_hours WHERE source_id = ANY(\(sourceIDs)::text[])
                AND (\(routeID)::text IS NULL OR route_id = \(routeID))
                AND hour >= \(since ?? Int64.min) AND hour < \(until ?? Int64.max)
            ORDER BY hour, source_id, route_id LIMIT \(max(0, limit))
            """, logger: logger
        ).decode((String, String, Int64, Int32, Int32, Int32, Double?, Double?, Double?).self) {
            hours.append(
                LineHour(
                    sourceID: row.0, routeID: row.1, hour: row.2, departures: Int(row.3), withDelay: Int(row.4),
                    cancelled: Int(row.5), delayMean: row.6, delayP90: row.7, onTimeShare: row.8))
        }
        return hours
    }

    public func measurementHoursTouched(since: Int64) async throws -> [HourTouch] {
        try await touches(
            try await client.query(
                """
                SELECT source_id, observed_at - ((observed_at % 3600000) + 3600000) % 3600000 AS hour, max(fetched_at)
                FROM measurements WHERE fetched_at >= \(since) GROUP BY source_id, hour ORDER BY source_id, hour
                """, logger: logger))
    }

    public func measurements(sourceID: String, from: Int64, until: Int64) async throws -> [CityMeasurement] {
        var readings: [CityMeasurement] = []
        for try await row in try await client.query(
            """
            SELECT source_id, zone, metric, value, unit, observed_at FROM measurements
            WHERE source_id = \(sourceID) AND observed_at >= \(from) AND observed_at < \(until) ORDER BY observed_at
            """, logger: logger
        ).decode((String, String, String, Double, String?, Int64).self) {
            readings.append(
                CityMeasurement(
                    sourceID: row.0, zone: row.1, metric: row.2, value: row.3, unit: row.4, observedAt: row.5))
        }
        return readings
    }

    public func replaceZoneHours(sourceID: String, hours: [Int64], rows: [ZoneHour], writtenAt: Int64) async throws {
        let rows = rows.filter { $0.sourceID == sourceID }
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                "DELETE FROM zone_hours WHERE source_id = \(sourceID) AND hour = ANY(\(hours)::bigint[])",
                logger: logger)
            guard !rows.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO zone_hours (source_id, zone, metric, hour, readings, mean, min, max, unit, written_at)
                SELECT \(sourceID), r.*, \(writtenAt) FROM UNNEST(
                    \(rows.map(\.zone))::text[], \(rows.map(\.metric))::text[], \(rows.map(\.hour))::bigint[],
                    \(rows.map { Int32(clamping: $0.readings) })::integer[], \(rows.map(\.mean))::float8[],
                    \(rows.map(\.min))::float8[], \(rows.map(\.max))::float8[], \(NullableArray(rows.map(\.unit)))::text[]) AS r
                """, logger: logger)
        }
    }

    public func zoneHours(
        sourceIDs: [String], zone: String, metric: String?, since: Int64?, until: Int64?, limit: Int
    ) async throws -> [ZoneHour] {
        guard !sourceIDs.isEmpty else { return [] }
        var hours: [ZoneHour] = []
        for try await row in try await client.query(
            """
            SELECT source_id, zone, metric, hour, readings, mean, min, max, unit
            FROM zone_hours WHERE source_id = ANY(\(sourceIDs)::text[]) AND zone = \(zone)
                AND (\(metric)::text IS NULL OR metric = \(metric))
                AND hour >= \(since ?? Int64.min) AND hour < \(until ?? Int64.max)
            ORDER BY hour, metric, source_id LIMIT \(max(0, limit))
            """, logger: logger
        ).decode((String, String, String, Int64, Int32, Double, Double, Double, String?).self) {
            hours.append(
                ZoneHour(
                    sourceID: row.0, zone: row.1, metric: row.2, hour: row.3, readings: Int(row.4), mean: row.5,
                    min: row.6, max: row.7, unit: row.8))
        }
        return hours
    }
}
