/// How a claimed task ends this attempt.
public struct TaskOutcome: Sendable, Hashable {
    public enum Disposition: Sendable, Hashable {
        case succeeded
        /// Run again, not before the instant given.
        case retry(at: Int64, error: String)
        /// Out of attempts (or not retryable): parked until requeued.
        case dead(error: String)
    }

    public var taskID: Int64
    public var leaseOwner: String
    public var disposition: Disposition
    public var finishedAt: Int64

    public init(taskID: Int64, leaseOwner: String, disposition: Disposition, finishedAt: Int64) {
        self.taskID = taskID
        self.leaseOwner = leaseOwner
        self.disposition = disposition
        self.finishedAt = finishedAt
    }
}

/// The state of a task in the queue.
public enum TaskState: String, Sendable, Hashable, Codable, CaseIterable {
    case queued
    case running
    case retrying
    case succeeded
    case dead
}
