public import Logging
public import MetropulseCore
public import MetropulseKafka
import MetropulsePostgres
import MetropulseSQLite
import PostgresNIO
public import ServiceLifecycle

/// The store, queue and committer a process uses, chosen by configuration: SQLite by default,
/// PostgreSQL when `database.url` is set.
public struct StorageBackend: Sendable {
    public let store: any Store
    public let queue: any WorkQueue
    public let committer: any RunCommitter
    /// The control bus that reaches every process sharing this backend (PostgreSQL NOTIFY), or
    /// nil when commands stay in-process.
    public let bus: (any ControlBus)?
    /// Leader election for schedulers sharing the database (PostgreSQL), nil for SQLite.
    public let leadership: (any LeaderElection)?
    /// Services the backend needs running (the PostgreSQL connection pool), started first.
    public let services: [any Service]
    /// The `sink` role's service when the data path is Kafka: loads the record topics into the
    /// store.
    public let sink: (any Service)?
    public let description: String
    private let prepareAction: @Sendable () async throws -> Void
    private let closeAction: @Sendable () throws -> Void

    init(
        store: any Store, queue: any WorkQueue, committer: any RunCommitter, bus: (any ControlBus)?,
        leadership: (any LeaderElection)?, services: [any Service], sink: (any Service)? = nil,
        description: String, prepareAction: @escaping @Sendable () async throws -> Void,
        closeAction: @escaping @Sendable () throws -> Void
    ) {
        self.store = store
        self.queue = queue
        self.committer = committer
        self.bus = bus
        self.leadership = leadership
        self.services = services
        self.sink = sink
        self.description = description
        self.prepareAction = prepareAction
        self.closeAction = closeAction
    }

    /// `commitTimeout`: how long a worker's commit may wait on PostgreSQL before it is abandoned
    /// (the workers' lease).
    public static func make(
        _ database: MetropulseConfiguration.Database, commitTimeout: Duration = .seconds(60), logger: Logger
    ) throws -> StorageBackend {
        if let url = database.url {
            let client = try PostgresBackend.client(url: url, logger: logger)
            let backend = PostgresBackend(client: client, commitTimeout: commitTimeout, logger: logger)
            let notifier = PostgresNotifier(backend: backend, logger: logger)
            return StorageBackend(
                store: backend, queue: backend, committer: backend, bus: notifier,
                leadership: try PostgresLeaderElection(url: url, logger: logger),
                services: [PostgresClientService(client: client), notifier],
                description: "postgresql", prepareAction: { try await migratePostgres(url: url, logger: logger) },
                closeAction: {})
        }
        let backend = try SQLiteBackend(
            path: database.path,
            configuration: .init(synchronous: database.synchronous == "normal" ? .normal : .full))
        return StorageBackend(
            store: backend, queue: backend, committer: backend, bus: nil, leadership: nil, services: [],
            description: "sqlite \(database.path)",
            prepareAction: {}, closeAction: { try backend.close() })
    }

    /// The store, queue and bus a configuration asks for: the database's, with the queue and the
    /// bus on Kafka when `kafka.brokers` is set.
    public static func make(_ configuration: MetropulseConfiguration, clientID: String, logger: Logger) throws
        -> StorageBackend
    {
        let commitTimeout = Duration.milliseconds(configuration.workers.leaseMillis)
        guard let brokers = configuration.kafka.brokers else {
            if configuration.dataPath == .kafka {
                throw ConfigurationErrors(errors: [
                    ConfigurationError(
                        line: nil, key: "data_path", message: "kafka needs kafka.brokers (METROPULSE_KAFKA_BROKERS)")
                ])
            }
            return try make(configuration.database, commitTimeout: commitTimeout, logger: logger)
        }
        let backend = try make(configuration.database, commitTimeout: commitTimeout, logger: logger)
        do {
            return try backend.onKafka(
                configuration.kafka, brokers: brokers, dataPath: configuration.dataPath, clientID: clientID,
                logger: logger)
        } catch {
            try? backend.close()
            throw error
        }
    }

    private func onKafka(
        _ kafka: MetropulseConfiguration.Kafka, brokers: String, dataPath: MetropulseConfiguration.DataPath,
        clientID: String, logger: Logger
    ) throws -> StorageBackend {
        #if Kafka
            let settings = KafkaSettings(brokers: brokers, properties: kafka.properties)
            let topics = kafka.topics.prefixed(kafka.topicPrefix)
            let queue = try KafkaWorkQueue(
                configuration: .init(
                    settings: settings, topics: topics, clientID: clientID, stallAfterMillis: kafka.stallAfterMillis,
                    recordTopics: dataPath == .kafka ? kafka.recordTopics : nil),
                logger: logger)
            let bus = try KafkaControlBus(settings: settings, topics: topics, clientID: clientID, logger: logger)
            let prepareDatabase = prepareAction
            guard dataPath == .kafka else {
                return StorageBackend(
                    store: store, queue: queue, committer: SequentialRunCommitter(store: store, queue: queue), bus: bus,
                    leadership: leadership, services: [queue, bus] + services,
                    description: "\(description), queue and bus on kafka \(brokers)",
                    prepareAction: {
                        try await prepareDatabase()
                        try await queue.createTopics()
                    }, closeAction: closeAction)
            }
            let records = try KafkaRecordCommitter(
                settings: settings, topics: kafka.recordTopics, partitions: topics.partitions,
                replication: topics.replication, queue: queue, clientID: clientID)
            let sink = KafkaRecordSink(
                settings: settings, topics: kafka.recordTopics, store: store, clientID: clientID, logger: logger)
            return StorageBackend(
                store: store, queue: queue, committer: records, bus: bus, leadership: leadership,
                services: [queue, bus, records] + services, sink: sink,
                description: "\(description), queue, bus and records on kafka \(brokers)",
                prepareAction: {
                    try await prepareDatabase()
                    try await queue.createTopics()
                    try await records.createTopics()
                }, closeAction: closeAction)
        #else
            throw ConfigurationErrors(errors: [
                ConfigurationError(
                    line: nil, key: "kafka.brokers",
                    message: KafkaSupport.missing)
            ])
        #endif
    }

    /// Reads the records of `kinds` written since `since` (epoch ms) from Kafka into the
    /// configured store again (idempotent: what is there already stays once).
    public static func replayRecords(
        _ configuration: MetropulseConfiguration, kinds: [RecordKind], since: Int64, clientID: String,
        logger: Logger, progress: @escaping @Sendable (ReplayProgress) -> Void
    ) async throws -> ReplayProgress {
        guard let brokers = configuration.kafka.brokers else {
            throw ConfigurationErrors(errors: [
                ConfigurationError(line: nil, key: "kafka.brokers", message: "replay reads from Kafka: set the brokers")
            ])
        }
        #if Kafka
            let backend = try make(configuration.database, logger: logger)
            defer { try? backend.close() }
            try await backend.prepare()
            // The database's own services (the PostgreSQL pool) run while the replay writes.
            return try await backend.whileRunning { backend in
                try await KafkaReplay.run(
                    settings: KafkaSettings(brokers: brokers, properties: configuration.kafka.properties),
                    topics: configuration.kafka.recordTopics, kinds: kinds, since: since, store: backend.store,
                    clientID: clientID, logger: logger, progress: progress)
            }
        #else
            throw ConfigurationErrors(errors: [
                ConfigurationError(line: nil, key: "kafka.brokers", message: KafkaSupport.missing)
            ])
        #endif
    }

    /// Runs `body` with the backend's own services (the PostgreSQL pool) running beside it: for
    /// one-off commands that use the store without the rest of a process.
    public func whileRunning<T: Sendable>(_ body: @escaping @Sendable (StorageBackend) async throws -> T)
        async throws -> T
    {
        try await withThrowingTaskGroup(of: T?.self) { group in
            for service in services {
                group.addTask {
                    try await service.run()
                    return nil
                }
            }
            group.addTask { try await body(self) }
            defer { group.cancelAll() }
            while let finished = try await group.next() {
                if let finished { return finished }
            }
            throw CancellationError()
        }
    }

    /// The store's invariants now (tasks due or leased for longer than `grace` count as stuck).
    public func audit(now: Int64, grace: Duration) async throws -> StoreAudit {
        guard let auditor = store as? any StoreAuditing else {
            throw ConfigurationErrors(errors: [
                ConfigurationError(line: nil, key: "database", message: "\(description) cannot be audited")
            ])
        }
        return try await auditor.audit(now: now, graceMillis: Int64(grace.seconds * 1000))
    }

    /// Creates or upgrades the schema (SQLite migrates when opened), and the Kafka topics.
    public func prepare() async throws { try await prepareAction() }

    public func close() throws { try closeAction() }

    /// Runs the PostgreSQL migrations with a short-lived client.
    static func migratePostgres(url: String, logger: Logger) async throws {
        let client = try PostgresBackend.client(url: url, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await PostgresBackend(client: client, logger: logger).migrate()
        }
    }
}

/// Runs the PostgreSQL connection pool until graceful shutdown, after every service using it stopped.
struct PostgresClientService: Service {
    let client: PostgresClient

    func run() async throws {
        await cancelWhenGracefulShutdown { await client.run() }
    }
}
