public import MetropulseCore
import PostgresNIO

extension PostgresBackend: CityStore {
    public func putZoneSnapshots(_ snapshots: [ZoneSnapshot]) async throws {
        guard !snapshots.isEmpty else { return }
        let documents = try snapshots.map { try CityDocuments.encode($0) }
        try await client.query(
            """
            INSERT INTO city_zone_snapshots (city, zone, computed_at, document)
            SELECT * FROM UNNEST(\(snapshots.map(\.city))::text[], \(snapshots.map(\.zone))::text[],
                \(snapshots.map(\.computedAt))::bigint[], \(documents)::text[])
            ON CONFLICT (city, zone) DO UPDATE SET computed_at = excluded.computed_at, document = excluded.document
            """, logger: logger)
    }

    public func zoneSnapshots(city: String) async throws -> [ZoneSnapshot] {
        var snapshots: [ZoneSnapshot] = []
        for try await document in try await client.query(
            "SELECT document FROM city_zone_snapshots WHERE city = \(city) ORDER BY zone", logger: logger
        ).decode(String.self) {
            snapshots.append(try CityDocuments.decode(ZoneSnapshot.self, document))
        }
        return snapshots
    }

    public func upsertCityAlerts(_ alerts: [CityAlert]) async throws {
        guard !alerts.isEmpty else { return }
        let documents = try alerts.map { try CityDocuments.encode($0) }
        try await client.query(
            """
            INSERT INTO city_alerts (id, city, state, updated_at, document)
            SELECT * FROM UNNEST(\(alerts.map(\.id))::text[], \(alerts.map(\.city))::text[],
                \(alerts.map(\.state.rawValue))::text[], \(alerts.map(\.updatedAt))::bigint[], \(documents)::text[])
            ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at,
                document = excluded.document
            """, logger: logger)
    }

    public func cityAlerts(city: String, states: [CityAlert.State]?, limit: Int) async throws -> [CityAlert] {
        let names = states?.map(\.rawValue)
        var alerts: [CityAlert] = []
        for try await document in try await client.query(
            """
            SELECT document FROM city_alerts
            WHERE city = \(city) AND (\(names == nil) OR state = ANY(\(names ?? [])::text[]))
            ORDER BY updated_at DESC, id LIMIT \(max(0, limit))
            """, logger: logger
        ).decode(String.self) {
            alerts.append(try CityDocuments.decode(CityAlert.self, document))
        }
        return alerts
    }

    public func cityAlert(id: String) async throws -> CityAlert? {
        for try await document in try await client.query(
            "SELECT document FROM city_alerts WHERE id = \(id)", logger: logger
        ).decode(String.self) {
            return try CityDocuments.decode(CityAlert.self, document)
        }
        return nil
    }
}
