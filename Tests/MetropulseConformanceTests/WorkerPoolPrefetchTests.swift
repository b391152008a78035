import Foundation
import Logging
import MetropulseCore
import Synchronization
import Testing

/// The worker pool claims ahead of its free slots (`prefetch`), on every store-backed queue: it
/// never runs more than its slots at once, starts what it holds in priority order, keeps it
/// waiting while paused and runs it before it stops.
@Suite("Worker pool prefetch")
struct WorkerPoolPrefetchTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Fetches wait while the gate is closed; counts fetches in progress and records the order.
    final class GatedConnector: Connector {
        private struct State {
            var open = false
            var active = 0
            var maxActive = 0
            var started: [String] = []
        }
        private let state: Mutex<State>

        init(open: Bool = false) {
            state = Mutex(State(open: open))
        }

        var active: Int { state.withLock { $0.active } }
        var maxActive: Int { state.withLock { $0.maxActive } }
        var started: [String] { state.withLock { $0.started } }
        func open() { state.withLock { $0.open = true } }

        func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
            state.withLock { state in
                state.active += 1
                state.maxActive = max(state.maxActive, state.active)
                state.started.append(source.id)
            }
            defer { state.withLock { $0.active -= 1 } }
            while !state.withLock({ $0.open }) { try await Task.sleep(for: .milliseconds(10)) }
            return FetchResult(
                observations: ObservationBatch(), url: "gate:", httpStatus: 200, bytes: 0, contentHash: "0",
                feedTimestamp: nil)
        }
    }

    struct Running {
        var pool: WorkerPool
        var bus: InProcessControlBus
        var task: Task<Void, any Error>
    }

    static func start(
        _ backend: ConformanceBackend, sources: [String], concurrency: Int, prefetch: Int, connector: GatedConnector
    ) -> Running {
        let bus = InProcessControlBus()
        let pool = WorkerPool(
            configuration: .init(workerID: "w", concurrency: concurrency, prefetch: prefetch, idlePollMillis: 50),
            queue: backend.queue, committer: backend.committer, store: backend.store,
            catalog: SourceCatalog(
                sources.map { SourceDefinition(id: $0, kind: .gbfs, urls: ["gate:"], intervalMillis: 60_000) }),
            connectors: ConnectorRegistry([.gbfs: connector]), bus: bus, logger: logger)
        return Running(pool: pool, bus: bus, task: Task { try await pool.run() })
    }

    static func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting: \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func tasks(_ backend: ConformanceBackend, _ state: TaskState) async throws -> [QueuedTask] {
        try await backend.queue.tasks(state: state, limit: 100)
    }

    @Test("claims ahead of its free slots but never runs more than its slots at once", arguments: BackendFactory.all)
    func claimsAhead(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let sources = (0..<6).map { "s\($0)" }
        try await backend.queue.enqueue(sources.map { NewTask(jobID: "job-\($0)", sourceID: $0, runAt: 0) }, now: 0)
        let connector = GatedConnector()
        let running = Self.start(backend, sources: sources, concurrency: 2, prefetch: 2, connector: connector)
        defer { running.task.cancel() }

        // Two fetching, two more leased to this worker and waiting for a slot.
        try await Self.until("two fetching and four leased") {
            let leased = try await Self.tasks(backend, .running).count
            return connector.active == 2 && leased == 4
        }
        #expect(try await Self.tasks(backend, .running).allSatisfy { $0.leaseOwner == "w" })
        #expect(running.pool.heartbeat().inFlight == 4)
        #expect(connector.started.count == 2)

        connector.open()
        try await Self.until("all six succeeded") { try await Self.tasks(backend, .succeeded).count == 6 }
        running.pool.stop()
        try await running.task.value
        #expect(connector.maxActive == 2)
        #expect(Set(connector.started) == Set(sources))
        #expect(try await backend.store.taskRuns(TaskRunQuery(limit: 100)).count == 6)
    }

    @Test("tasks claimed ahead start in priority order", arguments: BackendFactory.all)
    func priorityOrder(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue(
            [
                NewTask(jobID: "a", sourceID: "a", priority: 0, runAt: 0),
                NewTask(jobID: "b", sourceID: "b", priority: 5, runAt: 0),
                NewTask(jobID: "c", sourceID: "c", priority: 1, runAt: 0),
                NewTask(jobID: "d", sourceID: "d", priority: 9, runAt: 0),
            ], now: 0)
        let connector = GatedConnector(open: true)
        let running = Self.start(
            backend, sources: ["a", "b", "c", "d"], concurrency: 1, prefetch: 3, connector: connector)
        defer { running.task.cancel() }
        try await Self.until("all four succeeded") { try await Self.tasks(backend, .succeeded).count == 4 }
        running.pool.stop()
        try await running.task.value
        #expect(connector.started == ["d", "b", "c", "a"])
        #expect(connector.maxActive == 1)
    }

    @Test(
        "a task claimed later with a higher priority starts before those already waiting", arguments: BackendFactory.all
    )
    func laterClaimJumpsAhead(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue(
            ["a", "b", "c"].map { NewTask(jobID: $0, sourceID: $0, priority: 0, runAt: 0) }, now: 0)
        let connector = GatedConnector()
        let running = Self.start(
            backend, sources: ["a", "b", "c", "z"], concurrency: 1, prefetch: 2, connector: connector)
        defer { running.task.cancel() }
        // a fetching, b and c waiting: the buffer is full, so nothing more is claimed yet.
        try await Self.until("a fetching, b and c waiting") {
            let leased = try await Self.tasks(backend, .running).count
            return connector.active == 1 && leased == 3
        }
        try await backend.queue.enqueue([NewTask(jobID: "z", sourceID: "z", priority: 9, runAt: 0)], now: 0)
        // Once b starts, the buffer (c) is half empty: the refill claims z, which goes before c.
        connector.open()
        try await Self.until("all four succeeded") { try await Self.tasks(backend, .succeeded).count == 4 }
        running.pool.stop()
        try await running.task.value
        #expect(connector.started == ["a", "b", "z", "c"])
    }

    /// A pool of one slot and one task claimed ahead, holding x (fetching, gate closed) and y
    /// (leased, waiting for the slot).
    static func holdingTwo(_ backend: ConformanceBackend, _ connector: GatedConnector) async throws -> Running {
        try await backend.queue.enqueue(
            [
                NewTask(jobID: "x", sourceID: "x", priority: 1, runAt: 0),
                NewTask(jobID: "y", sourceID: "y", priority: 0, runAt: 0),
            ], now: 0)
        let running = start(backend, sources: ["x", "y"], concurrency: 1, prefetch: 1, connector: connector)
        try await until("x fetching, y leased and waiting") {
            let leased = try await tasks(backend, .running).count
            return connector.active == 1 && leased == 2
        }
        return running
    }

    @Test("a paused pool keeps what it claimed ahead waiting; resumed, it runs it", arguments: BackendFactory.all)
    func pausedHoldsPrefetched(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let connector = GatedConnector()
        let running = try await Self.holdingTwo(backend, connector)
        defer { running.task.cancel() }
        try await running.bus.publish(ControlCommand(id: "p", kind: .pauseFetch, target: nil, issuedAt: 0))
        try await Self.until("the pool paused") { running.pool.heartbeat().status == .paused }
        connector.open()
        try await Self.until("x succeeded") { try await Self.tasks(backend, .succeeded).count == 1 }
        // Give a wrongly started task time to show; y must still be waiting, leased.
        try await Task.sleep(for: .milliseconds(300))
        #expect(connector.started == ["x"])
        #expect(try await Self.tasks(backend, .running).map(\.jobID) == ["y"])

        try await running.bus.publish(ControlCommand(id: "r", kind: .resumeFetch, target: nil, issuedAt: 0))
        try await Self.until("y succeeded") { try await Self.tasks(backend, .succeeded).count == 2 }
        running.pool.stop()
        try await running.task.value
        #expect(connector.started == ["x", "y"])
    }

    @Test("a stopping pool runs what it claimed ahead before it ends", arguments: BackendFactory.all)
    func stopRunsPrefetched(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let connector = GatedConnector()
        let running = try await Self.holdingTwo(backend, connector)
        defer { running.task.cancel() }
        running.pool.stop()
        connector.open()
        try await running.task.value
        #expect(connector.started == ["x", "y"])
        #expect(Set(try await Self.tasks(backend, .succeeded).map(\.jobID)) == ["x", "y"])
    }
}
