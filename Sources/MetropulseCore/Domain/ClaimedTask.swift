/// A task leased to one worker. The lease token proves ownership when the task is finished.
public struct ClaimedTask: Sendable, Hashable, Codable {
    public var id: Int64
    public var jobID: String
    public var sourceID: String
    public var priority: Int
    /// 1 for the first attempt.
    public var attempt: Int
    public var maxAttempts: Int
    public var enqueuedAt: Int64
    public var runAt: Int64
    public var leaseOwner: String
    public var leaseExpiresAt: Int64

    public init(
        id: Int64, jobID: String, sourceID: String, priority: Int, attempt: Int, maxAttempts: Int,
        enqueuedAt: Int64, runAt: Int64, leaseOwner: String, leaseExpiresAt: Int64
    ) {
        self.id = id
        self.jobID = jobID
        self.sourceID = sourceID
        self.priority = priority
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.enqueuedAt = enqueuedAt
        self.runAt = runAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
    }
}

extension ClaimedTask {
    /// Claim order: highest priority first, then earliest run time, then oldest.
    public func claimedBefore(_ other: ClaimedTask) -> Bool {
        (priority, -runAt, -id) > (other.priority, -other.runAt, -other.id)
    }
}
