import Foundation
import Hummingbird
import Logging
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

    struct IncidentRequest: Decodable {
        var zone: String
        var metric: String
        var value: Double
        var minutes: Int?
    }

    struct ScaleRequest: Decodable {
        var count: Int?
        var delta: Int?
        var target: String?
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
        read.get("system/task-runs/{id}", use: taskRun)
        read.get("system/tasks", use: tasks)
        read.get("system/logs", use: logs)
        read.get("system/commands", use: commands)
        read.get("system/db/summary", use: databaseSummary)
        let admin = group.requiring(.admin, environment)
        admin.post("system/commands", use: command)
        admin.post("system/workers/scale", use: scale)
        admin.post("demo/incidents", use: demoIncident)
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
                    try await writer.write(ServerSentEvent(event: "heartbeat", json: dto, encoder: encoder).buffer)
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

    @Sendable func taskRun(_ request: Request, context: APIRequestContext) async throws -> OperationsBoard.TaskRunDTO {
        let raw = try context.parameters.require("id")
        return try await board.taskRun(id: raw.removingPercentEncoding ?? raw)
    }

    @Sendable func tasks(_ request: Request, context: APIRequestContext) async throws -> OperationsBoard.TaskList {
        let state = try request.enumQuery("state", as: TaskState.self)
        let limit = try request.intQuery("limit", default: 100, range: 1...10_000)
        return try await board.tasks(state: state, limit: limit)
    }

    @Sendable func logs(_ request: Request, context: APIRequestContext) async throws -> LogBoard.LogList {
        let level = try request.enumQuery("level", as: Logger.Level.self)
        let text = request.query("q")
        let query = LogQuery(
            service: request.query("service"), minimumLevel: level, text: text, since: try request.timeQuery("since"),
            until: try request.timeQuery("until"), limit: try request.intQuery("limit", default: 100, range: 1...1_000))
        if text != nil, query.terms.isEmpty {
            throw HTTPError(.badRequest, message: "q must hold a word (letters or digits) to search for")
        }
        if let since = query.since, let until = query.until, since > until {
            throw HTTPError(.badRequest, message: "since must not be after until")
        }
        return try await LogBoard(store: environment.store).lines(query)
    }

    @Sendable func databaseSummary(_ request: Request, context: APIRequestContext) async throws
        -> DatabaseBoard.SummaryDTO
    {
        try await DatabaseBoard(environment).summary(now: environment.clock.nowMillis)
    }

    @Sendable func command(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.decode(as: CommandRequest.self, context: context)
        guard let kind = ControlCommand.Kind(rawValue: body.kind), ControlCommand.Kind.plain.contains(kind) else {
            let allowed = ControlCommand.Kind.plain.map(\.rawValue).joined(separator: ", ")
            let scale =
                body.kind == ControlCommand.Kind.scale.rawValue ? " (SCALE: POST /api/system/workers/scale)" : ""
            throw HTTPError(.badRequest, message: "kind must be one of: \(allowed)\(scale)")
        }
        let sent = try await FleetControl(environment).send(
            kind, target: body.target, issuedBy: context.apiKeyName, now: environment.clock.nowMillis)
        var response = try sent.response(from: request, context: context)
        response.status = .accepted
        return response
    }

    /// The demo city's sensors in a zone report a value for a while (every process serving the
    /// demo answers the command): a spike for City Live to flag, on demand.
    @Sendable func demoIncident(_ request: Request, context: APIRequestContext) async throws -> Response {
        guard environment.demoEnabled else {
            throw HTTPError(.conflict, message: "the demo city is not enabled in this deployment")
        }
        let body = try await request.decode(as: IncidentRequest.self, context: context)
        let zones = environment.catalog.city(id: "demo")?.zones.map(\.id) ?? []
        guard zones.contains(body.zone) else {
            throw HTTPError(
                .badRequest, message: "zone must be one of the demo city's: \(zones.joined(separator: ", "))")
        }
        guard DemoIncident.metrics.contains(body.metric) else {
            throw HTTPError(
                .badRequest, message: "metric must be one of: \(DemoIncident.metrics.joined(separator: ", "))")
        }
        guard body.value.isFinite, (-100...5_000).contains(body.value) else {
            throw HTTPError(.badRequest, message: "value must be a number from -100 to 5000")
        }
        let minutes = body.minutes ?? 30
        guard (1...240).contains(minutes) else {
            throw HTTPError(.badRequest, message: "minutes must be 1 to 240")
        }
        let now = environment.clock.nowMillis
        let incident = DemoIncident(
            zone: body.zone, metric: body.metric, value: body.value, from: now, until: now + Int64(minutes) * 60_000)
        let sent = try await FleetControl(environment).demoIncident(incident, issuedBy: context.apiKeyName, now: now)
        var response = try sent.response(from: request, context: context)
        response.status = .accepted
        return response
    }

    @Sendable func scale(_ request: Request, context: APIRequestContext) async throws -> Response {
        let body = try await request.decode(as: ScaleRequest.self, context: context)
        let scaled = try await FleetControl(environment).scale(
            count: body.count, delta: body.delta, target: body.target, issuedBy: context.apiKeyName,
            now: environment.clock.nowMillis)
        var response = try scaled.response(from: request, context: context)
        response.status = .accepted
        return response
    }

    @Sendable func commands(_ request: Request, context: APIRequestContext) async throws -> FleetControl.CommandList {
        try await FleetControl(environment).commands(
            limit: try request.intQuery("limit", default: 50, range: 1...1_000))
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
