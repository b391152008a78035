import Hummingbird
import MetropulseCore

/// `/api/jobs`: the job runner's jobs, their runs, and (admin) run now, pause and resume.
struct JobsController {
    let environment: APIEnvironment

    private var board: JobBoard { JobBoard(environment) }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        let read = group.requiring(.read, environment)
        read.get("jobs", use: jobs)
        read.get("jobs/{job}", use: job)
        read.get("jobs/{job}/runs", use: runs)
        read.get("jobs/{job}/runs/{run}", use: run)
        let admin = group.requiring(.admin, environment)
        admin.post("jobs/{job}/run", use: runNow)
        admin.post("jobs/{job}/pause", use: pause)
        admin.post("jobs/{job}/resume", use: resume)
    }

    @Sendable func jobs(_ request: Request, context: APIRequestContext) async throws -> JobBoard.JobList {
        try await board.jobs(recent: try request.intQuery("recent", default: 20, range: 0...200))
    }

    @Sendable func job(_ request: Request, context: APIRequestContext) async throws -> JobBoard.JobDTO {
        try await board.job(
            try context.parameters.require("job"), recent: try request.intQuery("recent", default: 20, range: 0...200))
    }

    @Sendable func runs(_ request: Request, context: APIRequestContext) async throws -> JobBoard.JobRunList {
        let id = try context.parameters.require("job")
        _ = try board.description(id)
        return try await board.runs(
            JobRunQuery(
                jobID: id, status: try request.enumQuery("status", as: JobRunStatus.self),
                since: try request.timeQuery("since"),
                limit: try request.intQuery("limit", default: 100, range: 1...10_000)
            ))
    }

    @Sendable func run(_ request: Request, context: APIRequestContext) async throws -> JobBoard.RunDetail {
        try await board.run(jobID: try context.parameters.require("job"), runID: try context.parameters.require("run"))
    }

    @Sendable func runNow(_ request: Request, context: APIRequestContext) async throws -> Response {
        let action = try await board.requestRun(try context.parameters.require("job"), by: context.apiKeyName)
        var response = try action.response(from: request, context: context)
        response.status = .accepted
        return response
    }

    @Sendable func pause(_ request: Request, context: APIRequestContext) async throws -> JobBoard.JobAction {
        try await board.setPaused(try context.parameters.require("job"), paused: true)
    }

    @Sendable func resume(_ request: Request, context: APIRequestContext) async throws -> JobBoard.JobAction {
        try await board.setPaused(try context.parameters.require("job"), paused: false)
    }
}
