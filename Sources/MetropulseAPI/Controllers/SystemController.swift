import Foundation
import Hummingbird
import MetropulseCore
import NIOCore

/// Operator views: queue, workers, task runs, tasks; commands and requeue for admins.
struct SystemController {
    let environment: APIEnvironment

    struct QueueDTO: ResponseEncodable {
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

    struct WorkerList: ResponseEncodable {
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

    struct TaskRunList: ResponseEncodable {
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

    struct TaskList: ResponseEncodable {
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

    struct SchedulerDTO: ResponseEncodable {
        /// `leading` while the leader renews its record, `no_leader` when none has for 15 s (a
        /// standby takes over within that time), `never` before any scheduler ran.
        var state: String
        var leader: LeaderDTO?
    }

    struct CommandRequest: Decodable {
        var kind: String
        var target: String?
    }

    struct CommandAccepted: ResponseEncodable {
        var id: String
        var kind: String
        var target: String?
        var issuedAt: String
    }

    struct RequeueRequest: Decodable {
        var taskIds: [Int64]?

        enum CodingKeys: String, CodingKey {
            case taskIds = "task_ids"
        }
    }

    struct RequeueResponse: ResponseEncodable {
        var requeued: Int
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("system/queue", use: queue)
        group.get("system/workers", use: workers)
        group.get("system/workers/stream", use: workerStream)
        group.get("system/scheduler", use: scheduler)
        group.get("system/task-runs", use: taskRuns)
        group.get("system/tasks", use: tasks)
        let admin = group.admin(key: environment.adminKey)
        admin.post("system/commands", use: command)
        admin.post("system/queue/requeue-dead", use: requeueDead)
    }

    @Sendable func queue(_ request: Request, context: APIRequestContext) async throws -> QueueDTO {
        let now = environment.clock.nowMillis
        let stats = try await environment.queue.stats(now: now)
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

    @Sendable func workers(_ request: Request, context: APIRequestContext) async throws -> WorkerList {
        let now = environment.clock.nowMillis
        let workers = try await environment.store.heartbeats().map { workerDTO($0, now: now) }
        return WorkerList(count: workers.count, workers: workers)
    }

    /// Server-sent events: the current heartbeat of every worker, then each new one as workers in
    /// any process publish it on the bus (`event: heartbeat`, `data:` the worker object of
    /// `/api/system/workers`).
    @Sendable func workerStream(_ request: Request, context: APIRequestContext) async throws -> Response {
        let streams = environment.streams
        guard streams.enter() else {
            throw HTTPError(
                .serviceUnavailable, message: "too many live streams open (\(streams.limit)); try again later")
        }
        let live: AsyncStream<WorkerHeartbeat>
        let current: [WorkerHeartbeat]
        do {
            live = try await environment.bus.metrics()
            current = try await environment.store.heartbeats()
        } catch {
            streams.leave()
            throw error
        }
        let environment = self.environment
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                defer { streams.leave() }
                let encoder = APIRequestContext.jsonEncoder()
                func send(_ beat: WorkerHeartbeat) async throws {
                    let dto = SystemController(environment: environment).workerDTO(
                        beat, now: environment.clock.nowMillis)
                    let json = String(decoding: try encoder.encode(dto), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "event: heartbeat\ndata: \(json)\n\n"))
                }
                for beat in current { try await send(beat) }
                for await beat in live { try await send(beat) }
                try await writer.finish(nil)
            })
    }

    func workerDTO(_ h: WorkerHeartbeat, now: Int64) -> WorkerDTO {
        let interval = environment.heartbeatIntervalMillis
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

    @Sendable func scheduler(_ request: Request, context: APIRequestContext) async throws -> SchedulerDTO {
        let now = environment.clock.nowMillis
        guard let l = try await environment.store.leadership() else { return SchedulerDTO(state: "never", leader: nil) }
        let age = max(0, now - l.renewedAt)
        return SchedulerDTO(
            state: age <= 15_000 ? "leading" : "no_leader",
            leader: LeaderDTO(
                schedulerId: l.schedulerID, host: l.host, pid: l.pid, since: Timestamp.iso8601(l.since),
                renewedAt: Timestamp.iso8601(l.renewedAt), renewedAgeSeconds: Double(age) / 1000))
    }

    @Sendable func taskRuns(_ request: Request, context: APIRequestContext) async throws -> TaskRunList {
        let status = try request.enumQuery("status", as: TaskRunStatus.self)
        let source = request.query("source")
        let limit = try request.intQuery("limit", default: 100, range: 1...10_000)
        let runs = try await environment.store.taskRuns(TaskRunQuery(status: status, sourceID: source, limit: limit))
            .map { run in
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

    @Sendable func tasks(_ request: Request, context: APIRequestContext) async throws -> TaskList {
        let state = try request.enumQuery("state", as: TaskState.self)
        let limit = try request.intQuery("limit", default: 100, range: 1...10_000)
        let tasks = try await environment.queue.tasks(state: state, limit: limit).map { t in
            TaskDTO(
                id: t.id, jobId: t.jobID, source: t.sourceID, state: t.state.rawValue, priority: t.priority,
                attempts: t.attempts, maxAttempts: t.maxAttempts, runAt: Timestamp.iso8601(t.runAt),
                enqueuedAt: Timestamp.iso8601(t.enqueuedAt), leaseOwner: t.leaseOwner,
                leaseExpiresAt: t.leaseExpiresAt.map(Timestamp.iso8601), lastError: t.lastError,
                finishedAt: t.finishedAt.map(Timestamp.iso8601))
        }
        return TaskList(count: tasks.count, tasks: tasks)
    }

    @Sendable func command(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.decode(as: CommandRequest.self, context: context)
        guard let kind = ControlCommand.Kind(rawValue: body.kind) else {
            let allowed = ControlCommand.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            throw HTTPError(.badRequest, message: "kind must be one of: \(allowed)")
        }
        let now = environment.clock.nowMillis
        let command = ControlCommand(
            id: "cmd-\(now)-\(UInt16.random(in: .min ... .max))", kind: kind, target: body.target, issuedAt: now)
        try await environment.bus.publish(command)
        var response = try CommandAccepted(
            id: command.id, kind: kind.rawValue, target: command.target, issuedAt: Timestamp.iso8601(now)
        ).response(from: request, context: context)
        response.status = .accepted
        return response
    }

    @Sendable func requeueDead(_ request: Request, context: APIRequestContext) async throws -> RequeueResponse {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        var ids: [Int64]?
        if buffer.readableBytes > 0 {
            do {
                ids = try JSONDecoder().decode(RequeueRequest.self, from: Data(buffer.readableBytesView)).taskIds
            } catch {
                throw HTTPError(.badRequest, message: "body must be JSON like {\"task_ids\": [1, 2]} or empty")
            }
        }
        let count = try await environment.queue.requeueDead(taskIDs: ids, now: environment.clock.nowMillis)
        return RequeueResponse(requeued: count)
    }
}
