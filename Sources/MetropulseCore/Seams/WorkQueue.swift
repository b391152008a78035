/// The durable work queue between the scheduler and the worker pool.
///
/// Semantics every backend keeps (the queue conformance suite checks them):
/// - a job id is accepted at most once (dedupe);
/// - `claim` hands out ready tasks by priority (high first) then `runAt` (old first), each to
///   one claimer only, under a lease; a task whose lease expired is claimable again;
/// - `finish` applies an outcome only when the caller still owns the lease;
/// - a task out of attempts is `dead` until `requeueDead`, also when its last attempt never
///   finished (its lease expired: the worker crashed, hung or was killed), so a feed that takes
///   workers down cannot go round the fleet for ever.
public protocol WorkQueue: Sendable {
    /// Returns how many tasks were new (the rest were duplicates of known job ids).
    @discardableResult
    func enqueue(_ tasks: [NewTask], now: Int64) async throws -> Int

    func claim(owner: String, limit: Int, leaseMillis: Int64, now: Int64) async throws -> [ClaimedTask]

    /// Extends the lease of tasks the owner still holds.
    func renewLeases(owner: String, taskIDs: [Int64], until: Int64) async throws

    /// Applies outcomes; an outcome whose lease was lost is ignored.
    func finish(_ outcomes: [TaskOutcome]) async throws

    /// Moves dead tasks back to the queue (all of them when `taskIDs` is nil), attempts reset.
    @discardableResult
    func requeueDead(taskIDs: [Int64]?, now: Int64) async throws -> Int

    func stats(now: Int64) async throws -> QueueStats

    func tasks(state: TaskState?, limit: Int) async throws -> [QueuedTask]

    /// Deletes succeeded tasks that finished before `before` (dead tasks stay until requeued).
    /// Their job ids become free again, which is harmless: the scheduler never goes back in time.
    @discardableResult
    func pruneSucceeded(finishedBefore before: Int64) async throws -> Int

    /// Returns when new work may be ready, or after `timeoutMillis`.
    func waitForWork(timeoutMillis: Int64) async

}

/// What a partitioned queue (Kafka) can do beyond `WorkQueue`: the worker pool asks for it
/// (`queue as? PartitionedWorkQueue`) and does without on the SQL queues, where any worker may
/// take any task and each job is kept once.
public protocol PartitionedWorkQueue: WorkQueue {
    /// The partitions this process reads (`topic/partition`), for the worker's heartbeat.
    func assignedPartitions() -> [String]

    /// True when this process has work assigned (partitions with tasks waiting) and has made no
    /// progress on it for longer than the queue's stall time: the worker reports itself behind.
    func isStalled(now: Int64) -> Bool

    /// Applies an operator command to this process's consumer: PAUSE/RESUME stop and restart
    /// reading, REBALANCE leaves and rejoins the consumer group.
    func control(_ command: ControlCommand.Kind)

    /// True when a job already done may be delivered again (after a rebalance or a crash before
    /// the offset commit): the worker then looks the job up in the store's run records and skips
    /// it if a run succeeded.
    var mayRedeliverFinishedJobs: Bool { get }
}

/// The error a task gets when its last attempt's lease expired without an outcome.
public let spentLeaseError =
    "lease expired on the last attempt: the worker crashed, hung or was stopped while running it"

/// A task as listed by the operator API.
public struct QueuedTask: Sendable, Hashable, Codable {
    public var id: Int64
    public var jobID: String
    public var sourceID: String
    public var state: TaskState
    public var priority: Int
    public var attempts: Int
    public var maxAttempts: Int
    public var runAt: Int64
    public var enqueuedAt: Int64
    public var leaseOwner: String?
    public var leaseExpiresAt: Int64?
    public var lastError: String?
    public var finishedAt: Int64?

    public init(
        id: Int64, jobID: String, sourceID: String, state: TaskState, priority: Int, attempts: Int,
        maxAttempts: Int, runAt: Int64, enqueuedAt: Int64, leaseOwner: String?, leaseExpiresAt: Int64?,
        lastError: String?, finishedAt: Int64?
    ) {
        self.id = id
        self.jobID = jobID
        self.sourceID = sourceID
        self.state = state
        self.priority = priority
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.enqueuedAt = enqueuedAt
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.lastError = lastError
        self.finishedAt = finishedAt
    }
}
