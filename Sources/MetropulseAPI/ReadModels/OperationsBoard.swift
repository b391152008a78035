import Hummingbird
import MetropulseCore

/// The queue, the worker fleet, the scheduler, task runs and tasks as the operator endpoints and
/// the console show them, read from the store and the queue.
struct OperationsBoard: Sendable {
    let store: any FleetStore & LeadershipStore & RunLog
    let queue: any WorkQueue
    /// A worker whose last heartbeat is older than this is Behind; 3× older is Down.
    let heartbeatIntervalMillis: Int64

    init(store: any FleetStore & LeadershipStore & RunLog, queue: any WorkQueue, heartbeatIntervalMillis: Int64) {
        self.store = store
        self.queue = queue
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
    }

    init(_ environment: APIEnvironment) {
        self.init(
            store: environment.store, queue: environment.queue,
            heartbeatIntervalMillis: environment.heartbeatIntervalMillis)
    }

    struct QueueDTO: ResponseCodable, Sendable {
        var queued: Int
        var running: Int
        var retrying: Int
        var dead: Int
        var succeeded: Int
        /// Age of the oldest task that is ready and not yet started: the queue's lag in time.
        var oldestWaitingAgeSeconds: Double?
        var finishedLastMinute: Int
        var throughputPerSecond: Double
        /// On Kafka: each task partition's committed offset, high watermark and lag.
        var partitions: [PartitionDTO]?
    }

    struct PartitionDTO: Codable, Sendable {
        var topic: String
        var partition: Int
        var committed: Int64?
        var highWatermark: Int64
        /// Messages written and not committed.
        var lag: Int64
        /// Lag in time: age of the oldest message not consumed.
        var lagSeconds: Double?
        var oldestUnconsumedAt: String?
        /// The worker reading the partition, when it is this API's own process.
        var readBy: String?
    }

    struct WorkerDTO: Codable, Sendable {
        var workerId: String
        var host: String
        var pid: Int
        /// `healthy`, `behind` or `down`, from the heartbeat's age and the worker's own status.
        var health: String
        var status: String
        var concurrency: Int
        var inFlight: Int
        var processed: Int
        var failed: Int
        var fetchRate: Double
        var errorsLastMinute: Int
        var cpuSeconds: Double
        var memoryBytes: Int64
        var startedAt: String
        var lastSeenAt: String
        var heartbeatAgeSeconds: Double
        /// On Kafka: the partitions assigned to the worker (`topic/partition`).
        var partitions: [String]
    }

    struct WorkerList: ResponseCodable, Sendable {
        var count: Int
        var workers: [WorkerDTO]
    }

    struct TaskRunDTO: Codable, Sendable {
        var id: String
        var jobId: String
        var source: String
        var attempt: Int
        var workerId: String
        var status: String
        var startedAt: String
        var finishedAt: String
        var durationMs: Int64
        var url: String?
        var httpStatus: Int?
        var bytes: Int?
        var entityCount: Int
        var rejectedCount: Int
        var contentHash: String?
        var feedTimestamp: String?
        var errorKind: String?
        var errorMessage: String?
    }

    struct TaskRunList: ResponseCodable, Sendable {
        var count: Int
        var runs: [TaskRunDTO]
    }

    struct TaskDTO: Codable, Sendable {
        var id: Int64
        var jobId: String
        var source: String
        var state: String
        var priority: Int
        var attempts: Int
        var maxAttempts: Int
        var runAt: String
        var enqueuedAt: String
        var leaseOwner: String?
        var leaseExpiresAt: String?
        var lastError: String?
        var finishedAt: String?
    }

    struct TaskList: ResponseCodable, Sendable {
        var count: Int
        var tasks: [TaskDTO]
    }

    struct LeaderDTO: Codable, Sendable {
        var schedulerId: String
        var host: String
        var pid: Int
        var since: String
        var renewedAt: String
        var renewedAgeSeconds: Double
    }

    struct SchedulerDTO: ResponseCodable, Sendable {
        /// `leading` while the leader renews its record, `no_leader` when none has for 15 s (a
        /// standby takes over within that time), `never` before any scheduler ran.
        var state: String
        var leader: LeaderDTO?
    }

    /// Tasks by state, the lag in time, throughput; on Kafka, each partition's lag.
    func queue(now: Int64) async throws -> QueueDTO {
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

    /// Every worker that sent a heartbeat, with its health.
    func workers(now: Int64) async throws -> WorkerList {
        let workers = try await store.heartbeats().map { worker($0, now: now) }
        return WorkerList(count: workers.count, workers: workers)
    }

    /// A worker as its heartbeat shows it: `down` when stopped or silent for 6 intervals,
    /// `behind` when late by 2 intervals (and 5 s) or stalled, else `healthy`.
    func worker(_ h: WorkerHeartbeat, now: Int64) -> WorkerDTO {
        let interval = heartbeatIntervalMillis
        let age = now - h.lastSeenAt
        let health: String
        if h.status == .stopped || age > 6 * interval {
            health = "down"
        } else if age > 2 * interval + 5_000 || h.status == .stalled {
            health = "behind"
        } else {
            health = "healthy"
        }
        return WorkerDTO(
            workerId: h.workerID, host: h.host, pid: h.pid, health: health, status: h.status.rawValue,
            concurrency: h.concurrency, inFlight: h.inFlight, processed: h.processed, failed: h.failed,
            fetchRate: (h.fetchRate * 100).rounded() / 100, errorsLastMinute: h.errorsLastMinute,
            cpuSeconds: (h.cpuSeconds * 100).rounded() / 100, memoryBytes: h.memoryBytes,
            startedAt: Timestamp.iso8601(h.startedAt), lastSeenAt: Timestamp.iso8601(h.lastSeenAt),
            heartbeatAgeSeconds: Double(max(0, age)) / 1000, partitions: h.partitions)
    }

    /// The scheduler's leadership: who leads, and whether it still renews.
    func scheduler(now: Int64) async throws -> SchedulerDTO {
        guard let l = try await store.leadership() else { return SchedulerDTO(state: "never", leader: nil) }
        let age = max(0, now - l.renewedAt)
        return SchedulerDTO(
            state: age <= 15_000 ? "leading" : "no_leader",
            leader: LeaderDTO(
                schedulerId: l.schedulerID, host: l.host, pid: l.pid, since: Timestamp.iso8601(l.since),
                renewedAt: Timestamp.iso8601(l.renewedAt), renewedAgeSeconds: Double(age) / 1000))
    }

    /// Task runs, newest first.
    func taskRuns(_ query: TaskRunQuery) async throws -> TaskRunList {
        let runs = try await store.taskRuns(query).map { run in
            TaskRunDTO(
                id: run.id, jobId: run.jobID, source: run.sourceID, attempt: run.attempt, workerId: run.workerID,
                status: run.status.rawValue, startedAt: Timestamp.iso8601(run.startedAt),
                finishedAt: Timestamp.iso8601(run.finishedAt), durationMs: run.durationMillis, url: run.url,
                httpStatus: run.httpStatus, bytes: run.bytes, entityCount: run.entityCount,
                rejectedCount: run.rejectedCount, contentHash: run.contentHash,
                feedTimestamp: run.feedTimestamp.map(Timestamp.iso8601), errorKind: run.errorKind?.rawValue,
                errorMessage: run.errorMessage)
        }
        return TaskRunList(count: runs.count, runs: runs)
    }

    /// The queue's tasks in a state (or all).
    func tasks(state: TaskState?, limit: Int) async throws -> TaskList {
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
