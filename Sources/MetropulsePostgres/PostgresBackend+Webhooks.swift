public import MetropulseCore
import PostgresNIO

extension PostgresBackend: WebhookStore {
    public func putWebhookEndpoint(_ endpoint: WebhookEndpoint) async throws {
        let document = try CityDocuments.encode(endpoint)
        try await client.query(
            """
            INSERT INTO webhook_endpoints (id, enabled, document) VALUES (\(endpoint.id), \(endpoint.enabled), \(document))
            ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, document = excluded.document
            """, logger: logger)
    }

    public func webhookEndpoints() async throws -> [WebhookEndpoint] {
        try await documents(WebhookEndpoint.self, "SELECT document FROM webhook_endpoints ORDER BY id")
    }

    public func webhookEndpoint(id: String) async throws -> WebhookEndpoint? {
        try await documents(WebhookEndpoint.self, "SELECT document FROM webhook_endpoints WHERE id = \(id)").first
    }

    public func deleteWebhookEndpoint(id: String) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            var removed = false
            for try await _ in try await connection.query(
                "DELETE FROM webhook_endpoints WHERE id = \(id) RETURNING 1", logger: logger)
            {
                removed = true
            }
            try await connection.query("DELETE FROM webhook_conditions WHERE endpoint_id = \(id)", logger: logger)
            try await connection.query("DELETE FROM webhook_deliveries WHERE endpoint_id = \(id)", logger: logger)
            return removed
        }
    }

    public func webhookConditions(endpointID: String) async throws -> [String: String] {
        var conditions: [String: String] = [:]
        for try await (key, value) in try await client.query(
            "SELECT key, value FROM webhook_conditions WHERE endpoint_id = \(endpointID)", logger: logger
        ).decode((String, String).self) {
            conditions[key] = value
        }
        return conditions
    }

    public func recordWebhookChanges(_ changes: WebhookChanges) async throws {
        guard !changes.isEmpty else { return }
        let put = changes.conditions.filter { $0.value != nil }
        let removed = changes.conditions.filter { $0.value == nil }
        let deliveries = changes.deliveries
        let documents = try deliveries.map { try CityDocuments.encode($0) }
        try await client.withTransaction(logger: logger) { connection in
            if !removed.isEmpty {
                try await connection.query(
                    """
                    DELETE FROM webhook_conditions c USING UNNEST(\(removed.map(\.endpointID))::text[],
                        \(removed.map(\.key))::text[]) AS r(endpoint_id, key)
                    WHERE c.endpoint_id = r.endpoint_id AND c.key = r.key
                    """, logger: logger)
            }
            if !put.isEmpty {
                // The last value of a key wins, as when written one by one.
                var last: [String: Int] = [:]
                for (index, condition) in put.enumerated() {
                    last["\(condition.endpointID)\u{0}\(condition.key)"] = index
                }
                let rows = last.values.sorted().map { put[$0] }
                try await connection.query(
                    """
                    INSERT INTO webhook_conditions (endpoint_id, key, value)
                    SELECT * FROM UNNEST(\(rows.map(\.endpointID))::text[], \(rows.map(\.key))::text[],
                        \(rows.map { $0.value ?? "" })::text[])
                    ON CONFLICT (endpoint_id, key) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            }
            if !deliveries.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO webhook_deliveries (id, endpoint_id, status, next_attempt_at, created_at, document)
                    SELECT * FROM UNNEST(\(deliveries.map(\.id))::text[], \(deliveries.map(\.endpointID))::text[],
                        \(deliveries.map(\.status.rawValue))::text[], \(deliveries.map(\.nextAttemptAt))::bigint[],
                        \(deliveries.map(\.createdAt))::bigint[], \(documents)::text[])
                    ON CONFLICT (id) DO NOTHING
                    """, logger: logger)
            }
        }
    }

    public func claimWebhookDeliveries(now: Int64, leaseMillis: Int64, limit: Int) async throws -> [WebhookDelivery] {
        try await documents(
            WebhookDelivery.self,
            """
            UPDATE webhook_deliveries SET lease_until = \(now + leaseMillis)
            WHERE id IN (
                SELECT d.id FROM webhook_deliveries d
                JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
                WHERE d.status = 'pending' AND d.next_attempt_at <= \(now)
                    AND (d.lease_until IS NULL OR d.lease_until <= \(now))
                ORDER BY d.next_attempt_at, d.id LIMIT \(max(0, limit))
                FOR UPDATE OF d SKIP LOCKED)
            RETURNING document
            """
        ).sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
    }

    public func updateWebhookDeliveries(_ deliveries: [WebhookDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        let documents = try deliveries.map { try CityDocuments.encode($0) }
        try await client.query(
            """
            UPDATE webhook_deliveries d SET status = u.status, next_attempt_at = u.next_attempt_at,
                lease_until = NULL, document = u.document
            FROM UNNEST(\(deliveries.map(\.id))::text[], \(deliveries.map(\.status.rawValue))::text[],
                \(deliveries.map(\.nextAttemptAt))::bigint[], \(documents)::text[])
                AS u(id, status, next_attempt_at, document)
            WHERE d.id = u.id
            """, logger: logger)
    }

    public func webhookDelivery(id: String) async throws -> WebhookDelivery? {
        try await documents(WebhookDelivery.self, "SELECT document FROM webhook_deliveries WHERE id = \(id)").first
    }

    public func webhookDeliveries(endpointID: String, status: WebhookDelivery.Status?, limit: Int) async throws
        -> [WebhookDelivery]
    {
        try await documents(
            WebhookDelivery.self,
            """
            SELECT document FROM webhook_deliveries
            WHERE endpoint_id = \(endpointID) AND (\(status == nil) OR status = \(status?.rawValue ?? ""))
            ORDER BY created_at DESC, id DESC LIMIT \(max(0, limit))
            """)
    }

    public func pendingWebhookDeliveryCounts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for try await (endpoint, count) in try await client.query(
            "SELECT endpoint_id, COUNT(*) FROM webhook_deliveries WHERE status = 'pending' GROUP BY endpoint_id",
            logger: logger
        ).decode((String, Int).self) {
            counts[endpoint] = count
        }
        return counts
    }

    public func pruneWebhookDeliveries(before: Int64) async throws -> Int {
        var count = 0
        for try await _ in try await client.query(
            "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < \(before) RETURNING 1",
            logger: logger)
        {
            count += 1
        }
        return count
    }

    /// The JSON documents a query returns, decoded.
    private func documents<T: Decodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        var values: [T] = []
        for try await document in try await client.query(query, logger: logger).decode(String.self) {
            values.append(try CityDocuments.decode(T.self, document))
        }
        return values
    }
}
