public import Logging
import PostgresNIO

extension PostgresBackend {
    /// Runs `body` on a migrated backend in a fresh schema `schema` of the database at `url`; the
    /// schema is dropped afterwards, also when `body` throws. For benchmarks and tools that must
    /// not touch the real tables.
    public static func withScratchSchema<T: Sendable>(
        url: String, schema: String, logger: Logger, _ body: (PostgresBackend) async throws -> T
    ) async throws -> T {
        let admin = try client(url: url, logger: logger)
        let scratch = try client(url: url, schema: schema, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await admin.run() }
            group.addTask { await scratch.run() }
            defer { group.cancelAll() }
            try await admin.query("DROP SCHEMA IF EXISTS \(unescaped: schema) CASCADE", logger: logger)
            try await admin.query("CREATE SCHEMA \(unescaped: schema)", logger: logger)
            do {
                let backend = PostgresBackend(client: scratch, logger: logger)
                try await backend.migrate()
                let result = try await body(backend)
                try await admin.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
                return result
            } catch {
                _ = try? await admin.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
                throw error
            }
        }
    }
}
