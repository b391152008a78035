package import Hummingbird
package import MetropulseCore

/// The job runner as `/api/jobs` and the console's jobs page show it: each job with its
/// dependencies, state, last run and recent runs, and each run's detail.
package struct JobBoard: Sendable {
    package let environment: APIEnvironment

    package init(_ environment: APIEnvironment) {
        self.environment = environment
    }

    package struct JobRunDTO: Codable, Sendable {
        package var id: String
        package var jobId: String
        /// The cycle's slot (scheduled) or the request's time (manual).
        package var cycle: String
        package var trigger: String
        package var attempt: Int
        /// running, succeeded, failed or skipped.
        package var status: String
        package var startedAt: String
        package var finishedAt: String?
        package var durationMs: Int64?
        package var rowsRead: Int
        package var rowsWritten: Int
        package var detail: String?
        package var error: String?
        package var requestedBy: String?

        init(_ run: JobRun) {
            id = run.id
            jobId = run.jobID
            cycle = Timestamp.iso8601(run.cycle)
            trigger = run.trigger.rawValue
            attempt = run.attempt
            status = run.status.rawValue
            startedAt = Timestamp.iso8601(run.startedAt)
            finishedAt = run.finishedAt.map(Timestamp.iso8601)
            durationMs = run.durationMillis
            rowsRead = run.rowsRead
            rowsWritten = run.rowsWritten
            detail = run.detail
            error = run.error
            requestedBy = run.requestedBy
        }
    }

    package struct JobDTO: ResponseCodable, Sendable {
        package var id: String
        package var title: String
        package var summary: String
        package var dependsOn: [String]
        package var timeoutMs: Int64
        package var maxAttempts: Int
        package var retryDelayMs: Int64
        package var paused: Bool
        /// A manual run asked for and not started yet.
        package var requestedAt: String?
        package var requestedBy: String?
        /// How far its input was read (the fetch time of the newest raw block read).
        package var watermark: String?
        /// The next scheduled cycle (nil when the runner is off).
        package var nextRunAt: String?
        package var lastRun: JobRunDTO?
        package var lastSuccessAt: String?
        /// Its newest runs, newest first (the console's grid).
        package var recentRuns: [JobRunDTO]
    }

    package struct JobList: ResponseCodable, Sendable {
        package var count: Int
        /// Whether the scheduler runs the jobs (`jobs.enabled`).
        package var enabled: Bool
        package var intervalMs: Int64
        package var jobs: [JobDTO]
    }

    package struct JobRunList: ResponseCodable, Sendable {
        package var count: Int
        package var runs: [JobRunDTO]
    }

    package struct RunDetail: ResponseCodable, Sendable {
        package var run: JobRunDTO
    }

    /// The request a POST answers: what was asked, and the job as it stands now.
    package struct JobAction: ResponseCodable, Sendable {
        package var action: String
        package var job: JobDTO
    }

    /// The job of this id, or a 404 naming it.
    package func description(_ id: String) throws -> JobDescription {
        guard let job = environment.jobs.first(where: { $0.id == id }) else {
            let known = environment.jobs.map(\.id).joined(separator: ", ")
            throw HTTPError(.notFound, message: "job: unknown job '\(id)'; known: \(known)")
        }
        return job
    }

    package func jobs(recent: Int = 20) async throws -> JobList {
        let states = try await environment.store.jobStates()
        var list: [JobDTO] = []
        for job in environment.jobs {
            list.append(try await dto(job, state: states.first { $0.jobID == job.id }, recent: recent))
        }
        return JobList(
            count: list.count, enabled: environment.jobsEnabled, intervalMs: environment.jobsIntervalMillis, jobs: list)
    }

    package func job(_ id: String, recent: Int = 20) async throws -> JobDTO {
        let job = try description(id)
        let state = try await environment.store.jobStates().first { $0.jobID == id }
        return try await dto(job, state: state, recent: recent)
    }

    package func runs(_ query: JobRunQuery) async throws -> JobRunList {
        let runs = try await environment.store.jobRuns(query).map(JobRunDTO.init)
        return JobRunList(count: runs.count, runs: runs)
    }

    package func run(jobID: String, runID: String) async throws -> RunDetail {
        _ = try description(jobID)
        guard let run = try await environment.store.jobRun(id: runID), run.jobID == jobID else {
            throw HTTPError(.notFound, message: "run: no run '\(runID)' of job '\(jobID)'")
        }
        return RunDetail(run: JobRunDTO(run))
    }

    private func dto(_ job: JobDescription, state: JobState?, recent: Int) async throws -> JobDTO {
        let runs = try await environment.store.jobRuns(JobRunQuery(jobID: job.id, limit: recent))
        let lastSuccess = try await environment.store.jobRuns(
            JobRunQuery(jobID: job.id, status: .succeeded, limit: 1)
        ).first
        let now = environment.clock.nowMillis
        let interval = environment.jobsIntervalMillis
        return JobDTO(
            id: job.id, title: job.title, summary: job.summary, dependsOn: job.dependsOn,
            timeoutMs: job.timeoutMillis, maxAttempts: job.maxAttempts, retryDelayMs: job.retryDelayMillis,
            paused: state?.paused ?? false, requestedAt: state?.requestedAt.map(Timestamp.iso8601),
            requestedBy: state?.requestedBy, watermark: state?.watermark.map(Timestamp.iso8601),
            nextRunAt: environment.jobsEnabled ? Timestamp.iso8601(now - now % interval + interval) : nil,
            lastRun: runs.first.map(JobRunDTO.init), lastSuccessAt: lastSuccess?.finishedAt.map(Timestamp.iso8601),
            recentRuns: runs.map(JobRunDTO.init))
    }

    /// Asks the runner for a run now (it starts within a few seconds, in the scheduler's leader).
    package func requestRun(_ id: String, by: String?) async throws -> JobAction {
        _ = try description(id)
        guard environment.jobsEnabled else {
            throw HTTPError(.conflict, message: "jobs are off in this deployment (jobs.enabled: false)")
        }
        try await environment.store.requestJobRun(id, at: environment.clock.nowMillis, by: by)
        return JobAction(action: "run requested", job: try await job(id))
    }

    package func setPaused(_ id: String, paused: Bool) async throws -> JobAction {
        _ = try description(id)
        try await environment.store.setJobPaused(id, paused: paused)
        return JobAction(action: paused ? "paused" : "resumed", job: try await job(id))
    }
}
