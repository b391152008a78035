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
    /// With `attempt`, the lease token: an outcome applies only while the task is still running
    /// under this owner and this attempt. The attempt matters when the same worker takes the task
    /// again after its lease expired (a stalled commit, a database restart).
    public var leaseOwner: String
    public var attempt: Int
    public var disposition: Disposition
    public var finishedAt: Int64

    public init(taskID: Int64, leaseOwner: String, attempt: Int, disposition: Disposition, finishedAt: Int64) {
        self.taskID = taskID
        self.leaseOwner = leaseOwner
        self.attempt = attempt
        self.disposition = disposition
        self.finishedAt = finishedAt
    }

    /// Names one attempt of one task: what a backend reports back for each outcome it applied.
    public struct Attempt: Sendable, Hashable {
        public var taskID: Int64
        public var attempt: Int

        public init(taskID: Int64, attempt: Int) {
            self.taskID = taskID
            self.attempt = attempt
        }
    }

    public var attemptKey: Attempt { Attempt(taskID: taskID, attempt: attempt) }

    /// The outcome of the attempt `task` was claimed for.
    public init(_ task: ClaimedTask, disposition: Disposition, finishedAt: Int64) {
        self.init(
            taskID: task.id, leaseOwner: task.leaseOwner, attempt: task.attempt, disposition: disposition,
            finishedAt: finishedAt)
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
