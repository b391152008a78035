import Foundation
import Logging
import MetropulseCore
import MetropulsePostgres
import MetropulseSQLite
import PostgresNIO
import Testing

/// One backend under test: a store, a queue and the committer that joins them.
struct ConformanceBackend: Sendable {
    var store: any Store
    var queue: any WorkQueue
    var committer: any RunCommitter
    var cleanup: @Sendable () -> Void
}

/// A way to make a fresh, empty backend. Every conformance test runs against each of these.
struct BackendFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> ConformanceBackend

    var testDescription: String { name }

    static let sqlite = BackendFactory(name: "sqlite") {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mp-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let backend = try SQLiteBackend(path: folder.appendingPathComponent("test.sqlite").path)
        return ConformanceBackend(store: backend, queue: backend, committer: backend) {
            try? backend.close()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// A fresh schema in the server at `METROPULSE_TEST_POSTGRES_URL`, so tests run in parallel.
    static let postgres = BackendFactory(name: "postgres") {
        guard let url = ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"] else {
            throw PostgresURLError(url: "METROPULSE_TEST_POSTGRES_URL is not set")
        }
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresBackend.client(url: url, logger: logger)
        let adminTask = Task { await admin.run() }
        try await admin.query("CREATE SCHEMA \(unescaped: schema)", logger: logger)
        let client = try PostgresBackend.client(url: url, schema: schema, logger: logger)
        let clientTask = Task { await client.run() }
        let backend = PostgresBackend(client: client, logger: logger)
        try await backend.migrate()
        return ConformanceBackend(store: backend, queue: backend, committer: backend) {
            clientTask.cancel()
            Task {
                _ = try? await admin.query("DROP SCHEMA \(unescaped: schema) CASCADE", logger: logger)
                adminTask.cancel()
            }
        }
    }

    /// The backends every suite runs against: SQLite always, PostgreSQL when
    /// `METROPULSE_TEST_POSTGRES_URL` names a server (`.ci/run` starts one).
    static let all: [BackendFactory] =
        ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"] == nil ? [.sqlite] : [.sqlite, .postgres]
}

func task(_ job: String, source: String = "s", priority: Int = 0, runAt: Int64 = 0, maxAttempts: Int = 3) -> NewTask {
    NewTask(jobID: job, sourceID: source, priority: priority, runAt: runAt, maxAttempts: maxAttempts)
}
