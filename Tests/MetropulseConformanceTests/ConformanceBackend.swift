import Foundation
import Logging
import MetropulseCore
import MetropulseKafka
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

    /// The queue backends: the store backends, and Kafka when built with the `Kafka` trait and
    /// `METROPULSE_TEST_KAFKA_BROKERS` names a broker (`.ci/run` starts one).
    static var queues: [BackendFactory] {
        #if Kafka
            if ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_BROKERS"] != nil { return all + [.kafka] }
        #endif
        return all
    }

    #if Kafka
        /// Fresh topics and a fresh consumer group (a unique prefix) on the test broker; the
        /// consumer has joined its group before the test starts. Runs are kept in SQLite.
        static let kafka = BackendFactory(name: "kafka") {
            let queue = try await makeTestKafkaQueue()
            let store = try await BackendFactory.sqlite.make()
            return ConformanceBackend(
                store: store.store, queue: queue, committer: SequentialRunCommitter(store: store.store, queue: queue)
            ) {
                queue.shutdown()
                store.cleanup()
            }
        }
    #endif
}

func task(_ job: String, source: String = "s", priority: Int = 0, runAt: Int64 = 0, maxAttempts: Int = 3) -> NewTask {
    NewTask(jobID: job, sourceID: source, priority: priority, runAt: runAt, maxAttempts: maxAttempts)
}

#if Kafka
    /// A Kafka queue on fresh topics of the test broker, with its consumer in the group.
    func makeTestKafkaQueue(
        prefix: String = "t\(UUID().uuidString.prefix(8).lowercased())-",
        brokers: String? = ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_BROKERS"]
    ) async throws -> KafkaWorkQueue {
        guard let brokers else {
            throw KafkaTestError(message: "METROPULSE_TEST_KAFKA_BROKERS is not set")
        }
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        var properties = ["session.timeout.ms": "6000", "max.poll.interval.ms": "10000"]
        // librdkafka's own tracing, e.g. `cgrp,topic` (printed on stderr).
        if let debug = ProcessInfo.processInfo.environment["METROPULSE_TEST_KAFKA_DEBUG"] {
            properties["debug"] = debug
        }
        let queue = try KafkaWorkQueue(
            configuration: .init(
                settings: KafkaSettings(brokers: brokers, properties: properties),
                topics: KafkaTopics().prefixed(prefix), clientID: "test-\(prefix)"),
            logger: logger)
        try await queue.createTopics()
        guard try await queue.waitUntilAssigned(timeoutMillis: 60_000) else {
            queue.shutdown()
            throw KafkaTestError(message: "the consumer got no partitions within 60 s")
        }
        return queue
    }

    struct KafkaTestError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
#endif
