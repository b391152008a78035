/// The scheduler's and the workers' bookkeeping for one source.
public struct SourceState: Sendable, Hashable, Codable {
    public var sourceID: String
    /// Start of the last slot enqueued, epoch ms.
    public var lastSlotAt: Int64?
    public var nextRunAt: Int64?
    public var lastRunAt: Int64?
    public var lastRunStatus: TaskRunStatus?
    public var lastSuccessAt: Int64?
    public var lastError: String?
    /// Feed timestamp of the last successful run.
    public var lastFeedTimestamp: Int64?

    public init(
        sourceID: String, lastSlotAt: Int64? = nil, nextRunAt: Int64? = nil, lastRunAt: Int64? = nil,
        lastRunStatus: TaskRunStatus? = nil, lastSuccessAt: Int64? = nil, lastError: String? = nil,
        lastFeedTimestamp: Int64? = nil
    ) {
        self.sourceID = sourceID
        self.lastSlotAt = lastSlotAt
        self.nextRunAt = nextRunAt
        self.lastRunAt = lastRunAt
        self.lastRunStatus = lastRunStatus
        self.lastSuccessAt = lastSuccessAt
        self.lastError = lastError
        self.lastFeedTimestamp = lastFeedTimestamp
    }
}
