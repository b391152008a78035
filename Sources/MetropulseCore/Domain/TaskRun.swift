/// One attempt of one task: the `task_runs` row.
public struct TaskRun: Sendable, Hashable, Codable {
    public var id: String
    public var jobID: String
    public var taskID: Int64?
    public var sourceID: String
    public var attempt: Int
    public var workerID: String
    public var status: TaskRunStatus
    public var startedAt: Int64
    public var finishedAt: Int64
    public var url: String?
    public var httpStatus: Int?
    public var bytes: Int?
    public var entityCount: Int
    public var rejectedCount: Int
    public var contentHash: String?
    public var feedTimestamp: Int64?
    public var errorKind: FetchErrorKind?
    public var errorMessage: String?

    public init(
        id: String, jobID: String, taskID: Int64?, sourceID: String, attempt: Int, workerID: String,
        status: TaskRunStatus, startedAt: Int64, finishedAt: Int64, url: String? = nil,
        httpStatus: Int? = nil, bytes: Int? = nil, entityCount: Int = 0, rejectedCount: Int = 0,
        contentHash: String? = nil, feedTimestamp: Int64? = nil, errorKind: FetchErrorKind? = nil,
        errorMessage: String? = nil
    ) {
        self.id = id
        self.jobID = jobID
        self.taskID = taskID
        self.sourceID = sourceID
        self.attempt = attempt
        self.workerID = workerID
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.url = url
        self.httpStatus = httpStatus
        self.bytes = bytes
        self.entityCount = entityCount
        self.rejectedCount = rejectedCount
        self.contentHash = contentHash
        self.feedTimestamp = feedTimestamp
        self.errorKind = errorKind
        self.errorMessage = errorMessage
    }

    public var durationMillis: Int64 { finishedAt - startedAt }
}

public enum TaskRunStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// New content fetched and written.
    case succeeded
    /// The feed answered but had nothing new: `304 Not Modified`, or (no HTTP status) the last
    /// copy was still within the feed's own `ttl`, so no request was made. A success for health.
    case unchanged
    case failed

    /// The attempt did its job (new content or a confirmed unchanged one).
    public var isSuccess: Bool { self != .failed }
}
