import Foundation
import Hummingbird
import MetropulseCore
import NIOCore

/// The operator endpoints under `/api/system`: queue, workers (and their live stream), scheduler,
/// task runs, tasks, from `OperationsBoard`; commands and requeue for admins.
struct SystemController {
    let environment: APIEnvironment

    private var board: OperationsBoard { OperationsBoard(environment) }

    struct CommandRequest: Decodable {
        var kind: String
        var target: String?
    }

    struct CommandAccepted: ResponseCodable {
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

    struct RequeueResponse: ResponseCodable {
        var requeued: Int
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        let read = group.requiring(.read, environment)
        read.get("system/queue", use: queue)
        read.get("system/workers", use: workers)
        read.get("system/workers/stream", use: workerStream)
        read.get("system/scheduler", use: scheduler)
        read.get("system/task-runs", use: taskRuns)
        read.get("system/tasks", use: tasks)
        let admin = group.requiring(.admin, environment)
        admin.post("system/commands", use: command)
        admin.post("system/queue/requeue-dead", use: requeueDead)
    }

    @Sendable func queue(_ request: Request, context: APIRequestContext) async throws -> OperationsBoard.QueueDTO {
        try await board.queue(now: environment.clock.nowMillis)
    }

    @Sendable func workers(_ request: Request, context: APIRequestContext) async throws -> OperationsBoard.WorkerList {
        try await board.workers(now: environment.clock.nowMillis)
    }

    /// Server-sent events: the current heartbeat of every worker, then each new one as workers in
    /// any process publish it on the bus (`event: heartbeat`, `data:` the worker object of
    /// `/api/system/workers`).
    @Sendable func workerStream(_ request: Request, context: APIRequestContext) async throws -> Response {
        let streams = environment.streams
        try streams.admit()
        let live: AsyncStream<WorkerHeartbeat>
        let current: [WorkerHeartbeat]
        do {
            live = try await environment.bus.metrics()
            current = try await environment.store.heartbeats()
        } catch {
            streams.leave()
            throw error
        }
        let (board, clock) = (self.board, environment.clock)
        return Response(
            status: .ok,
            headers: StreamLimiter.eventStreamHeaders,
            body: ResponseBody { writer in
                defer { streams.leave() }
                let encoder = APIRequestContext.jsonEncoder()
                func send(_ beat: WorkerHeartbeat) async throws {
                    let dto = board.worker(beat, now: clock.nowMillis)
                    let json = String(decoding: try encoder.encode(dto), as: UTF8.self)
                    try await writer.write(ByteBuffer(string: "event: heartbeat\ndata: \(json)\n\n"))
                }
                for beat in current { try await send(beat) }
                for await beat in live { try await send(beat) }
                try await writer.finish(nil)
            })
    }

    @Sendable func scheduler(_ request: Request, context: APIRequestContext) async throws
        -> OperationsBoard.SchedulerDTO
    {
        try await board.scheduler(now: environment.clock.nowMillis)
    }

    @Sendable func taskRuns(_ request: Request, context: APIRequestContext) async throws
        -> OperationsBoard.TaskRunList
    {
        let status = try request.enumQuery("status", as: TaskRunStatus.self)
        let source = request.query("source")
        let limit = try request.intQuery("limit", default: 100, range: 1...10_000)
        return try await board.taskRuns(TaskRunQuery(status: status, sourceID: source, limit: limit))
    }

    @Sendable func tasks(_ request: Request, context: APIRequestContext) async throws -> OperationsBoard.TaskList {
        let state = try request.enumQuery("state", as: TaskState.self)
        let limit = try request.intQuery("limit", default: 100, range: 1...10_000)
        return try await board.tasks(state: state, limit: limit)
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
