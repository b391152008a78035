package import Hummingbird
package import MetropulseCore

/// The queue, the worker fleet, the scheduler, task runs and tasks as the operator endpoints and
/// the console show them, read from the store and the queue.
package struct OperationsBoard: Sendable {
    package let store: any FleetStore & LeadershipStore & RunLog
    package let queue: any WorkQueue
    /// A worker whose last heartbeat is older than this is Behind; 3× older is Down.
    package let heartbeatIntervalMillis: Int64
    /// Recent fleet samples of this process, for the rate rule; nil: heartbeat age and status only.
    package let fleet: FleetWindow?

    package init(
        store: any FleetStore & LeadershipStore & RunLog, queue: any WorkQueue, heartbeatIntervalMillis: Int64,
        fleet: FleetWindow? = nil
    ) {
        self.store = store
        self.queue = queue
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.fleet = fleet
    }

    package init(_ environment: APIEnvironment) {
        self.init(
            store: environment.store, queue: environment.queue,
            heartbeatIntervalMillis: environment.heartbeatIntervalMillis, fleet: environment.fleet)
    }

    package struct QueueDTO: ResponseCodable, Sendable {
        package var queued: Int
        package var running: Int
        package var retrying: Int
        package var dead: Int
        package var succeeded: Int
        /// Age of the oldest task that is ready and not yet started: the queue's lag in time.
        package var oldestWaitingAgeSeconds: Double?
        package var finishedLastMinute: Int
        package var throughputPerSecond: Double
        /// On Kafka: each task partition's committed offset, high watermark and lag.
        package var partitions: [PartitionDTO]?
    }

    package struct PartitionDTO: Codable, Sendable {
        package var topic: String
        package var partition: Int
        package var committed: Int64?
        package var highWatermark: Int64
        /// Messages written and not committed.
        package var lag: Int64
        /// Lag in time: age of the oldest message not consumed.
        package var lagSeconds: Double?
        package var oldestUnconsumedAt: String?
        /// The worker reading the partition, when it is this API's own process.
        package var readBy: String?
    }

    package struct WorkerDTO: Codable, Sendable {
        package var workerId: String
        package var host: String
        package var pid: Int
        /// `healthy`, `behind` or `down` (`FleetHealthRules`): down when stopped or silent for six
        /// heartbeat periods; behind when late, stalled, or finishing less than its share of the
        /// work arriving while the backlog grows.
        package var health: String
        /// Why it is not healthy, with the figures behind the verdict.
        package var healthReason: String?
        package var status: String
        package var concurrency: Int
        package var inFlight: Int
        package var processed: Int
        package var failed: Int
        package var fetchRate: Double
        package var errorsLastMinute: Int
        package var cpuSeconds: Double
        package var memoryBytes: Int64
        package var startedAt: String
        package var lastSeenAt: String
        package var heartbeatAgeSeconds: Double
        /// On Kafka: the partitions assigned to the worker (`topic/partition`).
        package var partitions: [String]
    }

    package struct WorkerList: ResponseCodable, Sendable {
        package var count: Int
        package var workers: [WorkerDTO]
    }

    package struct TaskRunDTO: ResponseCodable, Sendable {
        package var id: String
        package var jobId: String
        package var source: String
        package var attempt: Int
        package var workerId: String
        package var status: String
        package var startedAt: String
        package var finishedAt: String
        package var durationMs: Int64
        package var url: String?
        package var httpStatus: Int?
        package var bytes: Int?
        package var entityCount: Int
        package var rejectedCount: Int
        package var contentHash: String?
        package var feedTimestamp: String?
        package var errorKind: String?
        package var errorMessage: String?
        /// What the run refused or dropped, and why (only in one run's detail).
        package var rejections: [RejectionDTO]?
    }

    package struct RejectionDTO: Codable, Sendable {
        package var entity: String
        package var reason: String
        /// The field left out of an entity that was kept; absent when the entity was refused whole.
        package var field: String?
    }

    package struct TaskRunList: ResponseCodable, Sendable {
        package var count: Int
        package var runs: [TaskRunDTO]
    }

    package struct TaskDTO: Codable, Sendable {
        package var id: Int64
        package var jobId: String
        package var source: String
        package var state: String
        package var priority: Int
        package var attempts: Int
        package var maxAttempts: Int
        package var runAt: String
        package var enqueuedAt: String
        package var leaseOwner: String?
        package var leaseExpiresAt: String?
        package var lastError: String?
        package var finishedAt: String?
    }

    package struct TaskList: ResponseCodable, Sendable {
        package var count: Int
        package var tasks: [TaskDTO]
    }

    package struct LeaderDTO: Codable, Sendable {
        package var schedulerId: String
        package var host: String
        package var pid: Int
        package var since: String
        package var renewedAt: String
        package var renewedAgeSeconds: Double
    }

    package struct SchedulerDTO: ResponseCodable, Sendable {
        /// `leading` while the leader renews its record, `no_leader` when none has for 15 s (a
        /// standby takes over within that time), `never` before any scheduler ran.
        package var state: String
        package var leader: LeaderDTO?
    }

    /// Tasks by state, the lag in time, throughput; on Kafka, each partition's lag.
    package func queue(now: Int64) async throws -> QueueDTO {
        let stats = try await queue.stats(now: now)
        return QueueDTO(
            queued: stats.queued, running: stats.running, retrying: stats.retrying, dead: stats.dead,
            succeeded: stats.succeeded,
            oldestWaitingAgeSeconds: stats.oldestReadySince.map { Double(max(0, now - $0)) / 1000 },
            finishedLastMinute: stats.finishedLastMinute,
            throughputPerSecond: (Double(stats.finishedLastMinute) / 60 * 100).rounded() / 100,
            partitions: stats.partitions?.map { p in
                PartitionDTO(
                    topic: p.topic, partition: p.partition, committed: p.committed, highWatermark: p.highWatermark,
                    lag: p.lag, lagSeconds: p.oldestAt.map { Double(max(0, now - $0)) / 1000 },
                    oldestUnconsumedAt: p.oldestAt.map(Timestamp.iso8601), readBy: p.readBy)
            })
    }

    /// Every worker that sent a heartbeat, with its health judged over the recent fleet samples.
    package func workers(now: Int64) async throws -> WorkerList {
        let heartbeats = try await store.heartbeats()
        var window = fleet?.current ?? []
        if let fleet, fleet.wantsSample(at: now) {
            let stats = try await queue.stats(now: now)
            window = fleet.observe(
                FleetSample(
                    at: now, backlog: stats.queued + stats.retrying,
                    processed: Dictionary(
                        heartbeats.map { ($0.workerID, $0.processed) }, uniquingKeysWith: { a, _ in a })))
        }
        let workers = heartbeats.map { worker($0, now: now, window: window) }
        return WorkerList(count: workers.count, workers: workers)
    }

    /// A worker as its heartbeat shows it, judged by `FleetHealthRules` over `window`.
    package func worker(_ h: WorkerHeartbeat, now: Int64, window: [FleetSample] = []) -> WorkerDTO {
        let age = now - h.lastSeenAt
        let verdict = FleetHealthRules(heartbeatIntervalMillis: heartbeatIntervalMillis).judge(
            h, now: now, window: window)
        return WorkerDTO(
            workerId: h.workerID, host: h.host, pid: h.pid, health: verdict.health.rawValue,
            healthReason: verdict.reason, status: h.status.rawValue,
            concurrency: h.concurrency, inFlight: h.inFlight, processed: h.processed, failed: h.failed,
            fetchRate: (h.fetchRate * 100).rounded() / 100, errorsLastMinute: h.errorsLastMinute,
            cpuSeconds: (h.cpuSeconds * 100).rounded() / 100, memoryBytes: h.memoryBytes,
            startedAt: Timestamp.iso8601(h.startedAt), lastSeenAt: Timestamp.iso8601(h.lastSeenAt),
            heartbeatAgeSeconds: Double(max(0, age)) / 1000, partitions: h.partitions)
    }

    /// The scheduler's leadership: who leads, and whether it still renews.
    package func scheduler(now: Int64) async throws -> SchedulerDTO {
        guard let l = try await store.leadership() else { return SchedulerDTO(state: "never", leader: nil) }
        let age = max(0, now - l.renewedAt)
        return SchedulerDTO(
            state: age <= 15_000 ? "leading" : "no_leader",
            leader: LeaderDTO(
                schedulerId: l.schedulerID, host: l.host, pid: l.pid, since: Timestamp.iso8601(l.since),
                renewedAt: Timestamp.iso8601(l.renewedAt), renewedAgeSeconds: Double(age) / 1000))
    }

    /// Task runs, newest first.
    package func taskRuns(_ query: TaskRunQuery) async throws -> TaskRunList {
        let runs = try await store.taskRuns(query).map { Self.dto($0) }
        return TaskRunList(count: runs.count, runs: runs)
    }

    /// One task run with its rejections.
    package func taskRun(id: String) async throws -> TaskRunDTO {
        guard let run = try await store.taskRun(id: id) else {
            throw HTTPError(.notFound, message: "no task run '\(id)' (runs are kept for the retention period)")
        }
        var dto = Self.dto(run)
        dto.rejections = run.rejections.map { RejectionDTO(entity: $0.entity, reason: $0.reason, field: $0.field) }
        return dto
    }

    package static func dto(_ run: TaskRun) -> TaskRunDTO {
        TaskRunDTO(
            id: run.id, jobId: run.jobID, source: run.sourceID, attempt: run.attempt, workerId: run.workerID,
            status: run.status.rawValue, startedAt: Timestamp.iso8601(run.startedAt),
            finishedAt: Timestamp.iso8601(run.finishedAt), durationMs: run.durationMillis, url: run.url,
            httpStatus: run.httpStatus, bytes: run.bytes, entityCount: run.entityCount,
            rejectedCount: run.rejectedCount, contentHash: run.contentHash,
            feedTimestamp: run.feedTimestamp.map(Timestamp.iso8601), errorKind: run.errorKind?.rawValue,
            errorMessage: run.errorMessage)
    }

    /// The queue's tasks in a state (or all).
    package func tasks(state: TaskState?, limit: Int) async throws -> TaskList {
        let tasks = try await queue.tasks(state: state, limit: limit).map { t in
            TaskDTO(
                id: t.id, jobId: t.jobID, source: t.sourceID, state: t.state.rawValue, priority: t.priority,
                attempts: t.attempts, maxAttempts: t.maxAttempts, runAt: Timestamp.iso8601(t.runAt),
                enqueuedAt: Timestamp.iso8601(t.enqueuedAt), leaseOwner: t.leaseOwner,
                leaseExpiresAt: t.leaseExpiresAt.map(Timestamp.iso8601), lastError: t.lastError,
                finishedAt: t.finishedAt.map(Timestamp.iso8601))
        }
        return TaskList(count: tasks.count, tasks: tasks)
    }
}
