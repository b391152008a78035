import Foundation
public import Logging
import MetropulseCore
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

extension PostgresBackend {
    /// Creates the empty database `name` on the server of `url` and returns its URL: for drills
    /// whose processes need a database of their own.
    public static func createDatabase(named name: String, besides url: String, logger: Logger) async throws -> String {
        try await onServer(of: url, logger: logger) { admin in
            try await admin.query("CREATE DATABASE \(unescaped: name)", logger: logger)
        }
        guard var components = URLComponents(string: url) else { throw PostgresURLError(url: url) }
        components.path = "/" + name
        guard let scratch = components.string else { throw PostgresURLError(url: url) }
        return scratch
    }

    /// Drops the database `name` on the server of `url`, ending its sessions.
    public static func dropDatabase(named name: String, besides url: String, logger: Logger) async throws {
        try await onServer(of: url, logger: logger) { admin in
            try await admin.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
        }
    }

    private static func onServer(
        of url: String, logger: Logger, _ body: @escaping @Sendable (PostgresClient) async throws -> Void
    ) async throws {
        let admin = try client(url: url, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await admin.run() }
            defer { group.cancelAll() }
            try await body(admin)
        }
    }
}
