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
    /// Entities refused whole (fields dropped from kept entities are not counted).
    public var rejectedCount: Int
    /// What was refused or dropped and why: the first `Rejection.sampleLimit` (`Rejection.sample`).
    public var rejections: [Rejection]
    public var contentHash: String?
    public var feedTimestamp: Int64?
    public var errorKind: FetchErrorKind?
    public var errorMessage: String?

    public init(
        id: String, jobID: String, taskID: Int64?, sourceID: String, attempt: Int, workerID: String,
        status: TaskRunStatus, startedAt: Int64, finishedAt: Int64, url: String? = nil,
        httpStatus: Int? = nil, bytes: Int? = nil, entityCount: Int = 0, rejectedCount: Int = 0,
        rejections: [Rejection] = [], contentHash: String? = nil, feedTimestamp: Int64? = nil,
        errorKind: FetchErrorKind? = nil, errorMessage: String? = nil
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
        self.rejections = rejections
        self.contentHash = contentHash
        self.feedTimestamp = feedTimestamp
        self.errorKind = errorKind
        self.errorMessage = errorMessage
    }

    public var durationMillis: Int64 { finishedAt - startedAt }
}

extension TaskRun {
    private enum CodingKeys: String, CodingKey {
        case id, jobID, taskID, sourceID, attempt, workerID, status, startedAt, finishedAt, url, httpStatus, bytes
        case entityCount, rejectedCount, rejections, contentHash, feedTimestamp, errorKind, errorMessage
    }

    /// A record written before runs kept their rejections (a Kafka records topic) has none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try c.decode(String.self, forKey: .id), jobID: try c.decode(String.self, forKey: .jobID),
            taskID: try c.decodeIfPresent(Int64.self, forKey: .taskID),
            sourceID: try c.decode(String.self, forKey: .sourceID), attempt: try c.decode(Int.self, forKey: .attempt),
            workerID: try c.decode(String.self, forKey: .workerID),
            status: try c.decode(TaskRunStatus.self, forKey: .status),
            startedAt: try c.decode(Int64.self, forKey: .startedAt),
            finishedAt: try c.decode(Int64.self, forKey: .finishedAt),
            url: try c.decodeIfPresent(String.self, forKey: .url),
            httpStatus: try c.decodeIfPresent(Int.self, forKey: .httpStatus),
            bytes: try c.decodeIfPresent(Int.self, forKey: .bytes),
            entityCount: try c.decode(Int.self, forKey: .entityCount),
            rejectedCount: try c.decode(Int.self, forKey: .rejectedCount),
            rejections: try c.decodeIfPresent([Rejection].self, forKey: .rejections) ?? [],
            contentHash: try c.decodeIfPresent(String.self, forKey: .contentHash),
            feedTimestamp: try c.decodeIfPresent(Int64.self, forKey: .feedTimestamp),
            errorKind: try c.decodeIfPresent(FetchErrorKind.self, forKey: .errorKind),
            errorMessage: try c.decodeIfPresent(String.self, forKey: .errorMessage))
    }
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
