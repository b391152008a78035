import Foundation
import MetropulseApp
import MetropulseCore
import MetropulsePostgres
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// The PostgreSQL server tests may use (`.ci/run` starts one and sets this).
let testPostgresURL = ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_URL"]

/// The whole pipeline on PostgreSQL; runs when `METROPULSE_TEST_POSTGRES_URL` names a server.
@Suite("End to end on PostgreSQL", .enabled(if: testPostgresURL != nil))
struct PostgresEndToEndTests {
    /// A fresh database on the test server; returns its URL.
    static func freshDatabase() async throws -> String {
        let url = try #require(testPostgresURL)
        let name = "mp_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresBackend.client(url: url, logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await admin.run() }
            defer { group.cancelAll() }
            try await admin.query("CREATE DATABASE \(unescaped: name)", logger: quietLogger)
        }
        var components = try #require(URLComponents(string: url))
        components.path = "/" + name
        return try #require(components.string)
    }

    @Test("serve the demo city on PostgreSQL, restart, and find everything again")
    func demoCity() async throws {
        let databaseURL = try await Self.freshDatabase()
        var config = configuration(database: "unused.sqlite")
        config.database.url = databaseURL
        config.sources[0].intervalMillis = 2_000

        let app = try await RunningApp.start(config)
        try await eventually("demo stations served from PostgreSQL") {
            let (_, json) = try await getJSON("\(app.base)/api/stations?source=demo-bikes")
            return json["count"] as? Int == 300
        }
        try await eventually("two successful runs") {
            try await app.runtime.backend.store.taskRuns(TaskRunQuery(status: .succeeded)).count >= 2
        }
        let (_, workers) = try await getJSON("\(app.base)/api/system/workers")
        #expect((workers["workers"] as? [[String: Any]])?.first?["health"] as? String == "healthy")
        let raw = try await app.runtime.backend.store.rawStationObservationCount(sourceID: "demo-bikes")
        try await app.stop()

        // Migrations are idempotent; the data is still there after a restart.
        let again = try await RunningApp.start(config)
        let (_, served) = try await getJSON("\(again.base)/api/stations?source=demo-bikes")
        #expect(served["count"] as? Int == 300)
        #expect(try await again.runtime.backend.store.rawStationObservationCount(sourceID: "demo-bikes") >= raw)
        let runs = try await again.runtime.backend.store.taskRuns(TaskRunQuery(status: .succeeded, limit: 1_000))
        #expect(Set(runs.map(\.jobID)).count == runs.count, "a slot ran twice")
        try await again.stop()
    }
}

extension PostgresEndToEndTests {
    @Test("enqueued work and control commands reach another process through NOTIFY")
    func notifications() async throws {
        var database = MetropulseConfiguration().database
        database.url = try await Self.freshDatabase()
        let a = try StorageBackend.make(database, logger: quietLogger)
        let b = try StorageBackend.make(database, logger: quietLogger)
        try await a.prepare()
        let groups = [a, b].map { (backend: StorageBackend) in
            ServiceGroup(services: backend.services, logger: quietLogger)
        }
        try await withThrowingTaskGroup(of: Void.self) { running in
            for group in groups { running.addTask { try await group.run() } }
            let listener = try #require(b.bus as? PostgresNotifier)
            try await eventually("b listening") { listener.isListening }
            await b.queue.waitForWork(timeoutMillis: 1)  // consume the wake-up sent when listening began

            let woken = Flag()
            running.addTask {
                await b.queue.waitForWork(timeoutMillis: 120_000)
                woken.set()
            }
            try await a.queue.enqueue([NewTask(jobID: "x@1", sourceID: "x", runAt: 0)], now: 0)
            try await eventually("b woken by a's enqueue", timeout: .seconds(60)) { woken.isSet }

            let commands = try await b.bus!.commands()
            let command = ControlCommand(id: "cmd-1", kind: .pauseFetch, target: nil, issuedAt: 1)
            try await a.bus!.publish(command)
            var iterator = commands.makeAsyncIterator()
            #expect(await iterator.next() == command)

            for group in groups { await group.triggerGracefulShutdown() }
            try await running.waitForAll()
        }
    }
}

/// A flag set once by one task and read by another.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Two schedulers on one fresh PostgreSQL database, each with its own backend and leader election.
struct TwoSchedulers {
    let backends: [StorageBackend]
    let elections: [PostgresLeaderElection]
    let schedulers: [Scheduler]

    /// One source of `catalog` scheduled every `intervalMillis`.
    static func make(intervalMillis: Int64) async throws -> TwoSchedulers {
        var database = MetropulseConfiguration().database
        database.url = try await PostgresEndToEndTests.freshDatabase()
        let url = try #require(database.url)
        let backends = try (0..<2).map { _ in try StorageBackend.make(database, logger: quietLogger) }
        try await backends[0].prepare()
        let catalog = SourceCatalog([
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:9/x"], intervalMillis: intervalMillis)
        ])
        let elections = try (0..<2).map { _ in
            try PostgresLeaderElection(url: url, retryInterval: .milliseconds(200), logger: quietLogger)
        }
        let schedulers = (0..<2).map { i in
            Scheduler(
                catalog: catalog, queue: backends[i].queue, store: backends[i].store,
                configuration: Scheduler.Configuration(schedulerID: "scheduler-\(i)"), leadership: elections[i],
                logger: quietLogger)
        }
        return TwoSchedulers(backends: backends, elections: elections, schedulers: schedulers)
    }
}

extension PostgresEndToEndTests {
    @Test("two schedulers: one leads; when it dies the other takes over")
    func leaderElection() async throws {
        let pair = try await TwoSchedulers.make(intervalMillis: 1_000)
        let (backends, elections, schedulers) = (pair.backends, pair.elections, pair.schedulers)
        let pools = backends.map { (backend: StorageBackend) in
            ServiceGroup(services: backend.services, logger: quietLogger)
        }
        try await withThrowingTaskGroup(of: Void.self) { running in
            for pool in pools { running.addTask { try await pool.run() } }
            let first = Task { try await schedulers[0].run() }
            try await eventually("the first scheduler leads") { elections[0].isLeader }
            let second = Task { try await schedulers[1].run() }
            try await eventually("slots enqueued by the leader") {
                try await backends[1].queue.tasks(state: nil, limit: 10).count >= 2
            }
            #expect(!elections[1].isLeader)
            #expect(try await backends[1].store.leadership()?.schedulerID == "scheduler-0")

            first.cancel()  // the leader dies: its lock connection closes
            _ = try? await first.value
            try await eventually("the standby takes over", timeout: .seconds(15)) { elections[1].isLeader }
            let before = try await backends[1].queue.tasks(state: nil, limit: 1_000).count
            try await eventually("the new leader schedules") {
                try await backends[1].queue.tasks(state: nil, limit: 1_000).count > before
            }
            try await eventually("the leadership record names the new leader") {
                try await backends[0].store.leadership()?.schedulerID == "scheduler-1"
            }
            let jobs = try await backends[1].queue.tasks(state: nil, limit: 1_000).map(\.jobID)
            #expect(Set(jobs).count == jobs.count)

            second.cancel()
            _ = try? await second.value
            for pool in pools { await pool.triggerGracefulShutdown() }
            try await running.waitForAll()
        }
    }
}
