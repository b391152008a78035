/// A task to enqueue. `jobID` is the dedupe key: a job id is accepted at most once.
public struct NewTask: Sendable, Hashable, Codable {
    public var jobID: String
    public var sourceID: String
    public var priority: Int
    /// Not before this instant (epoch ms).
    public var runAt: Int64
    public var maxAttempts: Int

    public init(jobID: String, sourceID: String, priority: Int = 0, runAt: Int64, maxAttempts: Int = 5) {
        self.jobID = jobID
        self.sourceID = sourceID
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
    }
}
