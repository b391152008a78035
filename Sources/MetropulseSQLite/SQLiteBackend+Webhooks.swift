import GRDB
public import MetropulseCore

extension SQLiteBackend: WebhookStore {
    public func putWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws {
        let document = try CityDocuments.encode(endpoint)
        try await pool.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO webhook_endpoints (id, enabled, document) VALUES (?, ?, ?)",
                arguments: [endpoint.id, endpoint.enabled, document])
        }
    }

    public func webhookEndpoints() async throws -> [WebhookEndpoint] {
        let documents = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT document FROM webhook_endpoints ORDER BY id")
        }
        return try documents.map { try CityDocuments.decode(WebhookEndpoint.self, $0) }
    }

    public func webhookEndpoint(id: String) async throws -> WebhookEndpoint? {
        let document = try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT document FROM webhook_endpoints WHERE id = ?", arguments: [id])
        }
        return try document.map { try CityDocuments.decode(WebhookEndpoint.self, $0) }
    }

    public func deleteWebhookEndpoint(id: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM webhook_endpoints WHERE id = ?", arguments: [id])
            let removed = db.changesCount > 0
            try db.execute(sql: "DELETE FROM webhook_conditions WHERE endpoint_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM webhook_deliveries WHERE endpoint_id = ?", arguments: [id])
            return removed
        }
    }

    public func webhookConditions(endpointID: String) async throws -> [String: String] {
        try await pool.read { db in
            var conditions: [String: String] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT key, value FROM webhook_conditions WHERE endpoint_id = ?", arguments: [endpointID])
            {
                conditions[row[0]] = row[1]
            }
            return conditions
        }
    }

    public func recordWebhookChanges(_ changes: WebhookChanges) async throws {
        guard !changes.isEmpty else { return }
        let documents = try changes.deliveries.map { ($0, try CityDocuments.encode($0)) }
        try await pool.write { db in
            let put = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO webhook_conditions (endpoint_id, key, value) VALUES (?, ?, ?)")
            let remove = try db.cachedStatement(sql: "DELETE FROM webhook_conditions WHERE endpoint_id = ? AND key = ?")
            for condition in changes.conditions {
                if let value = condition.value {
                    try put.execute(arguments: [condition.endpointID, condition.key, value])
                } else {
                    try remove.execute(arguments: [condition.endpointID, condition.key])
                }
            }
            let insert = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO webhook_deliveries
                        (id, endpoint_id, status, next_attempt_at, lease_until, created_at, document)
                    VALUES (?, ?, ?, ?, NULL, ?, ?)
                    """)
            for (delivery, document) in documents {
                try insert.execute(arguments: [
                    delivery.id, delivery.endpointID, delivery.status.rawValue, delivery.nextAttemptAt,
                    delivery.createdAt, document,
                ])
            }
        }
    }

    public func claimWebhookDeliveries(now: Int64, leaseMillis: Int64, limit: Int) async throws -> [WebhookDelivery] {
        let documents = try await pool.write { db -> [String] in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.id, d.document FROM webhook_deliveries d
                    JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled = 1
                    WHERE d.status = 'pending' AND d.next_attempt_at <= ?
                        AND (d.lease_until IS NULL OR d.lease_until <= ?)
                    ORDER BY d.next_attempt_at, d.id LIMIT ?
                    """, arguments: [now, now, max(0, limit)])
            let lease = try db.cachedStatement(sql: "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?")
            for row in rows {
                try lease.execute(arguments: [now + leaseMillis, row[0] as String])
            }
            return rows.map { $0[1] }
        }
        return try documents.map { try CityDocuments.decode(WebhookDelivery.self, $0) }
    }

    public func updateWebhookDeliveries(_ deliveries: [WebhookDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        let rows = try deliveries.map { ($0, try CityDocuments.encode($0)) }
        try await pool.write { db in
            let update = try db.cachedStatement(
                sql: """
                    UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, lease_until = NULL, document = ?
                    WHERE id = ?
                    """)
            for (delivery, document) in rows {
                try update.execute(arguments: [
                    delivery.status.rawValue, delivery.nextAttemptAt, document, delivery.id,
                ])
            }
        }
    }

    public func webhookDelivery(id: String) async throws -> WebhookDelivery? {
        let document = try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT document FROM webhook_deliveries WHERE id = ?", arguments: [id])
        }
        return try document.map { try CityDocuments.decode(WebhookDelivery.self, $0) }
    }

    public func webhookDeliveries(endpointID: String, status: WebhookDelivery.Status?, limit: Int) async throws
        -> [WebhookDelivery]
    {
        let documents = try await pool.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT document FROM webhook_deliveries WHERE endpoint_id = ? AND (? IS NULL OR status = ?)
                    ORDER BY created_at DESC, id DESC LIMIT ?
                    """, arguments: [endpointID, status?.rawValue, status?.rawValue, max(0, limit)])
        }
        return try documents.map { try CityDocuments.decode(WebhookDelivery.self, $0) }
    }

    public func pendingWebhookDeliveryCounts() async throws -> [String: Int] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT endpoint_id, COUNT(*) AS n FROM webhook_deliveries WHERE status = 'pending' GROUP BY endpoint_id"
            )
            return Dictionary(uniqueKeysWithValues: rows.map { (($0["endpoint_id"] as String), ($0["n"] as Int)) })
        }
    }

    public func pruneWebhookDeliveries(before: Int64) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < ?", arguments: [before])
            return db.changesCount
        }
    }
}
