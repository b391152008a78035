/// How one run of a job ended (or that it is still going).
public enum JobRunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case running
    case succeeded
    /// It threw, or passed its timeout; `error` says which. A later attempt may follow.
    case failed
    /// Not run: an upstream job did not succeed in this cycle, or the job is paused; `error` says why.
    case skipped
}

/// What started a run.
public enum JobTrigger: String, Sendable, Hashable, Codable, CaseIterable {
    /// The runner's cycle (every `jobs.interval`).
    case schedule
    /// `POST /api/jobs/{id}/run`, the console or `metropulse jobs run`.
    case manual
}

/// One attempt of one job, as the run history keeps it.
public struct JobRun: Sendable, Hashable, Codable {
    /// `<job>-<cycle>-<attempt>` (safe in a URL).
    public var id: String
    public var jobID: String
    /// The cycle this run belongs to: its slot (epoch ms) for a scheduled run, the request time
    /// for a manual one. The jobs of one cycle share it.
    public var cycle: Int64
    public var trigger: JobTrigger
    /// 1 for the first attempt.
    public var attempt: Int
    public var status: JobRunStatus
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var rowsRead: Int
    public var rowsWritten: Int
    /// What the run did, in a line ("rewrote 14 station-hours of 2 sources").
    public var detail: String?
    /// Why it failed or was skipped.
    public var error: String?
    /// Who asked for a manual run (the API key's name), when known.
    public var requestedBy: String?

    public init(
        jobID: String, cycle: Int64, trigger: JobTrigger, attempt: Int, status: JobRunStatus, startedAt: Int64,
        finishedAt: Int64? = nil, rowsRead: Int = 0, rowsWritten: Int = 0, detail: String? = nil,
        error: String? = nil, requestedBy: String? = nil
    ) {
        self.id = "\(jobID)-\(cycle)-\(attempt)"
        self.jobID = jobID
        self.cycle = cycle
        self.trigger = trigger
        self.attempt = attempt
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.rowsRead = rowsRead
        self.rowsWritten = rowsWritten
        self.detail = detail
        self.error = error
        self.requestedBy = requestedBy
    }

    /// Milliseconds from start to end, once it ended.
    public var durationMillis: Int64? { finishedAt.map { $0 - startedAt } }
}

/// What the store keeps per job besides its runs: whether an operator paused it, a pending
/// request to run it now, and how far its input has been read.
public struct JobState: Sendable, Hashable, Codable {
    public var jobID: String
    public var paused: Bool
    /// A manual run asked for and not started yet (epoch ms).
    public var requestedAt: Int64?
    public var requestedBy: String?
    /// The job's own position in its input (for the aggregates: the fetch time of the newest raw
    /// block read, epoch ms). Nil before its first run.
    public var watermark: Int64?

    public init(
        jobID: String, paused: Bool = false, requestedAt: Int64? = nil, requestedBy: String? = nil,
        watermark: Int64? = nil
    ) {
        self.jobID = jobID
        self.paused = paused
        self.requestedAt = requestedAt
        self.requestedBy = requestedBy
        self.watermark = watermark
    }
}

public struct JobRunQuery: Sendable, Hashable {
    public var jobID: String?
    public var status: JobRunStatus?
    /// Only runs started at or after this time, epoch ms.
    public var since: Int64?
    public var limit: Int

    public init(jobID: String? = nil, status: JobRunStatus? = nil, since: Int64? = nil, limit: Int = 100) {
        self.jobID = jobID
        self.status = status
        self.since = since
        self.limit = limit
    }
}
