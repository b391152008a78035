import GRDB
public import MetropulseCore

extension SQLiteBackend: CityStore {
    public func putZoneSnapshots(_ snapshots: [ZoneSnapshot]) async throws {
        guard !snapshots.isEmpty else { return }
        let rows = try snapshots.map { ($0, try CityDocuments.encode($0)) }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql:
                    "INSERT OR REPLACE INTO city_zone_snapshots (city, zone, computed_at, document) VALUES (?, ?, ?, ?)"
            )
            for (snapshot, document) in rows {
                try statement.execute(arguments: [snapshot.city, snapshot.zone, snapshot.computedAt, document])
            }
        }
    }

    public func zoneSnapshots(city: String) async throws -> [ZoneSnapshot] {
        let documents = try await pool.read { db in
            try String.fetchAll(
                db, sql: "SELECT document FROM city_zone_snapshots WHERE city = ? ORDER BY zone", arguments: [city])
        }
        return try documents.map { try CityDocuments.decode(ZoneSnapshot.self, $0) }
    }

    public func upsertCityAlerts(_ alerts: [CityAlert]) async throws {
        guard !alerts.isEmpty else { return }
        let rows = try alerts.map { ($0, try CityDocuments.encode($0)) }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO city_alerts (id, city, state, updated_at, document) VALUES (?, ?, ?, ?, ?)"
            )
            for (alert, document) in rows {
                try statement.execute(arguments: [
                    alert.id, alert.city, alert.state.rawValue, alert.updatedAt, document,
                ])
            }
        }
    }

    public func cityAlerts(city: String, states: [CityAlert.State]?, limit: Int) async throws -> [CityAlert] {
        let documents = try await pool.read { db in
            var sql = "SELECT document FROM city_alerts WHERE city = ?"
            var arguments: StatementArguments = [city]
            if let states {
                guard !states.isEmpty else { return [String]() }
                sql += " AND state IN (\(states.map { _ in "?" }.joined(separator: ",")))"
                _ = arguments.append(contentsOf: StatementArguments(states.map(\.rawValue)))
            }
            sql += " ORDER BY updated_at DESC, id LIMIT ?"
            _ = arguments.append(contentsOf: [max(0, limit)])
            return try String.fetchAll(db, sql: sql, arguments: arguments)
        }
        return try documents.map { try CityDocuments.decode(CityAlert.self, $0) }
    }

    public func cityAlert(id: String) async throws -> CityAlert? {
        let document = try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT document FROM city_alerts WHERE id = ?", arguments: [id])
        }
        return try document.map { try CityDocuments.decode(CityAlert.self, $0) }
    }
}
