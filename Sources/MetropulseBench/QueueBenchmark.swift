import Foundation
public import Logging
public import MetropulseCore
import MetropulsePostgres
import MetropulseSQLite

/// `metropulse bench queue`: enqueue no-op tasks and drain them with the production worker pool
/// (claim in batches, run, commit a run record with the task outcome), on the embedded queue and
/// on PostgreSQL; then offer a steady rate and measure enqueue→start latency. The baseline, in the
/// same run, hands the same number of tasks to the same number of workers through memory only.
public struct QueueBenchmark: Sendable {
    public enum Target: Sendable, CustomStringConvertible {
        case sqlite(directory: String)
        case postgres(url: String)

        public var description: String {
            switch self {
            case .sqlite: "embedded (SQLite)"
            case .postgres: "PostgreSQL"
            }
        }
    }

    public struct Result: Sendable {
        public var target: String
        public var tasks: Int
        public var enqueueSeconds: Double
        public var drainSeconds: Double
        /// Enqueue→start of the drained backlog (all enqueued before the workers started).
        public var drainLatency: Percentiles
        public var steadyRate: Int
        public var steadyTasks: Int
        public var steadyLatency: Percentiles

        public var tasksPerSecond: Double { Double(tasks) / drainSeconds }
    }

    public struct Percentiles: Sendable {
        public var p50: Double
        public var p99: Double
        public var max: Double

        init(_ millis: [Int64]) {
            let sorted = millis.sorted()
            func at(_ q: Double) -> Double {
                sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))])
            }
            p50 = at(0.5)
            p99 = at(0.99)
            max = Double(sorted.last ?? 0)
        }
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var workers: Int
        public var prefetch: Int
        public var baselineTasksPerSecond: Double
        public var results: [Result]

        public var description: String {
            func f(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
            var lines = [
                "queue benchmark: \(workers) workers, \(prefetch) claimed ahead (one pool, production code path: claim, run a no-op, commit run + outcome)",
                "  baseline (in-memory hand-off to \(workers) workers, no durability): \(f(baselineTasksPerSecond)) tasks/s",
            ]
            for r in results {
                lines += [
                    "  \(r.target): enqueue \(r.tasks) tasks in \(f(r.enqueueSeconds, 2)) s (\(f(Double(r.tasks) / r.enqueueSeconds)) tasks/s)",
                    "    drain: \(f(r.tasksPerSecond)) tasks/s (\(f(r.drainSeconds, 2)) s), ratio to baseline \(f(r.tasksPerSecond / baselineTasksPerSecond, 4)); backlog enqueue→start p50 \(f(r.drainLatency.p50)) ms, p99 \(f(r.drainLatency.p99)) ms",
                    "    steady \(r.steadyRate) tasks/s offered (\(r.steadyTasks) tasks): enqueue→start p50 \(f(r.steadyLatency.p50)) ms, p99 \(f(r.steadyLatency.p99)) ms, max \(f(r.steadyLatency.max)) ms",
                ]
            }
            return lines.joined(separator: "\n")
        }
    }

    public var tasks: Int
    public var workers: Int
    /// Tasks claimed ahead of free slots; nil: the pool's default (as many as `workers`).
    public var prefetch: Int?
    public var steadyRate: Int
    public var steadySeconds: Int
    public var targets: [Target]
    /// The worker pool's logger (default: discards everything).
    public var logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    /// When set, a `LogShipper` moves this buffer's lines into the store being measured while the
    /// pool runs, as in a process with `logging.centralized` on.
    public var centralLog: LogBuffer?

    public init(tasks: Int, workers: Int, prefetch: Int? = nil, steadyRate: Int, steadySeconds: Int, targets: [Target])
    {
        self.tasks = tasks
        self.workers = workers
        self.prefetch = prefetch
        self.steadyRate = steadyRate
        self.steadySeconds = steadySeconds
        self.targets = targets
    }

    public func run() async throws -> Report {
        let baseline = await inMemoryBaseline()
        var results: [Result] = []
        for target in targets {
            results.append(try await measure(target))
        }
        return Report(
            workers: workers, prefetch: prefetch ?? workers, baselineTasksPerSecond: baseline, results: results)
    }

    /// The same number of tasks handed to the same number of workers through an in-memory stream.
    func inMemoryBaseline() async -> Double {
        let (stream, continuation) = AsyncStream<NewTask>.makeStream()
        let started = ContinuousClock.now
        for i in 0..<tasks { continuation.yield(NewTask(jobID: "mem-\(i)", sourceID: "noop", runAt: 0)) }
        continuation.finish()
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    var count = 0
                    for await task in stream where !task.jobID.isEmpty { count += 1 }
                    return count
                }
            }
            await group.waitForAll()
        }
        return Double(tasks) / (ContinuousClock.now - started).seconds
    }

    /// Measures on a fresh, empty backend: a new SQLite file, or a scratch PostgreSQL schema.
    private func measure(_ target: Target) async throws -> Result {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        switch target {
        case .sqlite(let directory):
            let path = directory + "/bench-queue-\(getpid()).sqlite"
            let backend = try SQLiteBackend(path: path)
            defer {
                try? backend.close()
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
            return try await measure(target, on: Opened(store: backend, queue: backend, committer: backend))
        case .postgres(let url):
            return try await PostgresBackend.withScratchSchema(
                url: url, schema: "bench_queue_\(getpid())", logger: logger
            ) { backend in
                try await measure(target, on: Opened(store: backend, queue: backend, committer: backend))
            }
        }
    }

    private func measure(_ target: Target, on opened: Opened) async throws -> Result {
        let clock = WallClock.system
        let catalog = SourceCatalog([
            SourceDefinition(id: "noop", kind: .gbfs, urls: ["noop:"], intervalMillis: 60_000, maxAttempts: 3)
        ])
        let pool = WorkerPool(
            configuration: .init(
                workerID: "bench-worker", concurrency: workers, prefetch: prefetch, leaseMillis: 60_000),
            queue: opened.queue, committer: opened.committer, store: opened.store, catalog: catalog,
            connectors: ConnectorRegistry([.gbfs: NoOpConnector()]), bus: InProcessControlBus(), clock: clock,
            logger: logger)

        // Backlog: every task enqueued before the workers start.
        let enqueueStarted = ContinuousClock.now
        var index = 0
        while index < tasks {
            let now = clock.nowMillis
            let batch = (index..<min(tasks, index + 1_000)).map {
                NewTask(jobID: "drain-\($0)", sourceID: "noop", runAt: now)
            }
            try await opened.queue.enqueue(batch, now: now)
            index += batch.count
        }
        let enqueueSeconds = (ContinuousClock.now - enqueueStarted).seconds

        let shipping = centralLog.map { buffer in
            Task { try await LogShipper(buffer: buffer, store: opened.store, intervalMillis: 500).run() }
        }
        defer { shipping?.cancel() }
        let drainStarted = clock.nowMillis
        let running = Task { try await pool.run() }
        defer { running.cancel() }
        try await waitUntilProcessed(tasks, by: pool)

        // Steady: `steadyRate` tasks per second in 10 ms ticks, workers already running.
        let perTick = max(1, steadyRate / 100)
        let ticks = steadySeconds * 100
        let steadyStarted = ContinuousClock.now
        for tick in 0..<ticks {
            try await Task.sleep(until: steadyStarted + .milliseconds(10 * tick), clock: .continuous)
            let now = clock.nowMillis
            try await opened.queue.enqueue(
                (0..<perTick).map { NewTask(jobID: "steady-\(tick)-\($0)", sourceID: "noop", runAt: now) }, now: now)
        }
        try await waitUntilProcessed(tasks + ticks * perTick, by: pool)
        pool.stop()
        _ = try? await running.value
        // The central log's last lines reach the store before its shipper is stopped.
        if let centralLog {
            let deadline = ContinuousClock.now + .seconds(10)
            while centralLog.count > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            try await Task.sleep(for: .milliseconds(600))
        }

        // enqueue→start from the queue's enqueue times and the run records' start times.
        let enqueued = Dictionary(
            uniqueKeysWithValues: try await opened.queue.tasks(state: .succeeded, limit: 10 * tasks).map {
                ($0.jobID, $0.enqueuedAt)
            })
        var drainLatency: [Int64] = []
        var steadyLatency: [Int64] = []
        var drainFinished = drainStarted
        for run in try await opened.store.taskRuns(TaskRunQuery(limit: 10 * tasks)) {
            guard let at = enqueued[run.jobID] else { continue }
            if run.jobID.hasPrefix("steady-") {
                steadyLatency.append(run.startedAt - at)
            } else {
                drainLatency.append(run.startedAt - at)
                drainFinished = max(drainFinished, run.finishedAt)
            }
        }
        // From the pool's start to the last backlog task's finish, from the run records.
        let drainSeconds = Double(drainFinished - drainStarted) / 1000
        guard drainLatency.count == tasks, steadyLatency.count == ticks * perTick else {
            throw BenchmarkError(
                "\(target): \(drainLatency.count + steadyLatency.count) runs recorded, expected \(tasks + ticks * perTick)"
            )
        }
        return Result(
            target: target.description, tasks: tasks, enqueueSeconds: enqueueSeconds, drainSeconds: drainSeconds,
            drainLatency: Percentiles(drainLatency), steadyRate: perTick * 100, steadyTasks: ticks * perTick,
            steadyLatency: Percentiles(steadyLatency))
    }

    /// Waits on the pool's own count, so the wait adds no load to the queue being measured (counting
    /// the tasks table every 250 ms took 20 ms of server time each at 60,000 tasks).
    private func waitUntilProcessed(_ count: Int, by pool: WorkerPool) async throws {
        while pool.processedCount < count {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private struct Opened {
        var store: any Store
        var queue: any WorkQueue
        var committer: any RunCommitter
    }
}

/// The benchmark's source kind: succeeds at once with nothing to store, so the measurement is the
/// queue and the commit of the run record and outcome.
struct NoOpConnector: Connector {
    func fetch(_ source: SourceDefinition, context: FetchContext) async throws -> FetchResult {
        FetchResult(
            observations: ObservationBatch(), url: "noop:", httpStatus: 200, bytes: 0, contentHash: "0",
            feedTimestamp: nil)
    }
}
