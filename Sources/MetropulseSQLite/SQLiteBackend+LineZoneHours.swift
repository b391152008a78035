import GRDB
public import MetropulseCore

extension SQLiteBackend {
    public func departureHoursTouched(since: Int64) async throws -> [HourTouch] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, at - (at % 3600000 + 3600000) % 3600000 AS hour, MAX(recorded_at)
                    FROM departures_seen WHERE recorded_at >= ? GROUP BY source_id, hour ORDER BY source_id, hour
                    """, arguments: [since]
            ).map { HourTouch(sourceID: $0[0], hour: $0[1], newest: $0[2]) }
        }
    }

    public func departuresSeen(sourceID: String, from: Int64, until: Int64) async throws -> [DepartureSeen] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, route_id, trip_key, stop_id, at, scheduled_at, delay_seconds, relationship
                    FROM departures_seen WHERE source_id = ? AND at >= ? AND at < ? ORDER BY at
                    """, arguments: [sourceID, from, until]
            ).map {
                DepartureSeen(
                    sourceID: $0[0], routeID: $0[1], tripKey: $0[2], stopID: $0[3], at: $0[4], scheduledAt: $0[5],
                    delaySeconds: $0[6], relationship: $0[7])
            }
        }
    }

    public func replaceLineHours(sourceID: String, hours: [Int64], rows: [LineHour], writtenAt: Int64) async throws {
        try await pool.write { db in
            for hour in hours {
                try db.execute(
                    sql: "DELETE FROM line_hours WHERE source_id = ? AND hour = ?", arguments: [sourceID, hour])
            }
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO line_hours (source_id, route_id, hour, departures, with_delay, cancelled,
                        delay_mean, delay_p90, on_time_share, written_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for row in rows where row.sourceID == sourceID {
                try insert.execute(arguments: [
                    row.sourceID, row.routeID, row.hour, row.departures, row.withDelay, row.cancelled, row.delayMean,
                    row.delayP90, row.onTimeShare, writtenAt,
                ])
            }
        }
    }

    public func lineHours(sourceIDs: [String], routeID: String?, since: Int64?, until: Int64?, limit: Int)
        async throws -> [LineHour]
    {
        guard !sourceIDs.isEmpty else { return [] }
        return try await pool.read { db in
            var arguments = StatementArguments(sourceIDs)
            var sql = """
                SELECT source_id, route_id, hour, departures, with_delay, cancelled, delay_mean, delay_p90,
                    on_time_share
                FROM line_hours WHERE source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ",")))
                """
            if let routeID {
                sql += " AND route_id = ?"
                _ = arguments.append(contentsOf: [routeID])
            }
            sql += " AND hour >= ? AND hour < ? ORDER BY hour, source_id, route_id LIMIT ?"
            _ = arguments.append(contentsOf: [since ?? Int64.min, until ?? Int64.max, max(0, limit)])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                LineHour(
                    sourceID: $0[0], routeID: $0[1], hour: $0[2], departures: $0[3], withDelay: $0[4],
                    cancelled: $0[5], delayMean: $0[6], delayP90: $0[7], onTimeShare: $0[8])
            }
        }
    }

    public func measurementHoursTouched(since: Int64) async throws -> [HourTouch] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, observed_at - (observed_at % 3600000 + 3600000) % 3600000 AS hour,
                        MAX(fetched_at)
                    FROM measurements WHERE fetched_at >= ? GROUP BY source_id, hour ORDER BY source_id, hour
                    """, arguments: [since]
            ).map { HourTouch(sourceID: $0[0], hour: $0[1], newest: $0[2]) }
        }
    }

    public func measurements(sourceID: String, from: Int64, until: Int64) async throws -> [CityMeasurement] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT source_id, zone, metric, value, unit, observed_at FROM measurements
                    WHERE source_id = ? AND observed_at >= ? AND observed_at < ? ORDER BY observed_at
                    """, arguments: [sourceID, from, until]
            ).map {
                CityMeasurement(
                    sourceID: $0[0], zone: $0[1], metric: $0[2], value: $0[3], unit: $0[4], observedAt: $0[5])
            }
        }
    }

    public func replaceZoneHours(sourceID: String, hours: [Int64], rows: [ZoneHour], writtenAt: Int64) async throws {
        try await pool.write { db in
            for hour in hours {
                try db.execute(
                    sql: "DELETE FROM zone_hours WHERE source_id = ? AND hour = ?", arguments: [sourceID, hour])
            }
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR REPLACE INTO zone_hours (source_id, zone, metric, hour, readings, mean, min, max, unit,
                        written_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for row in rows where row.sourceID == sourceID {
                try insert.execute(arguments: [
                    row.sourceID, row.zone, row.metric, row.hour, row.readings, row.mean, row.min, row.max, row.unit,
                    writtenAt,
                ])
            }
        }
    }

    public func zoneHours(
        sourceIDs: [String], zone: String, metric: String?, since: Int64?, until: Int64?, limit: Int
    ) async throws -> [ZoneHour] {
        guard !sourceIDs.isEmpty else { return [] }
        return try await pool.read { db in
            var arguments = StatementArguments(sourceIDs)
            var sql = """
                SELECT source_id, zone, metric, hour, readings, mean, min, max, unit
                FROM zone_hours WHERE source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ","))) AND zone = ?
                """
            _ = arguments.append(contentsOf: [zone])
            if let metric {
                sql += " AND metric = ?"
                _ = arguments.append(contentsOf: [metric])
            }
            sql += " AND hour >= ? AND hour < ? ORDER BY hour, metric, source_id LIMIT ?"
            _ = arguments.append(contentsOf: [since ?? Int64.min, until ?? Int64.max, max(0, limit)])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map {
                ZoneHour(
                    sourceID: $0[0], zone: $0[1], metric: $0[2], hour: $0[3], readings: $0[4], mean: $0[5], min: $0[6],
                    max: $0[7], unit: $0[8])
            }
        }
    }
}
