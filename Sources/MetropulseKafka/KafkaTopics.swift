/// Topic names, partitions and consumer group of a Kafka deployment (defaults are the seeds').
public struct KafkaTopics: Sendable, Hashable, Codable {
    /// Fetch tasks, keyed by source id.
    public var tasks: String
    /// Fetch tasks with a priority above 0: consumed before `tasks`.
    public var tasksHigh: String
    /// Failed attempts waiting for their retry time (a `not-before` header).
    public var retry: String
    /// Tasks out of attempts, until requeued.
    public var deadLetter: String
    public var control: String
    public var metrics: String
    /// Partitions of the topics Metropulse creates when missing.
    public var partitions: Int
    public var replication: Int
    /// The consumer group of the worker pools.
    public var group: String

    public init(
        tasks: String = "fetch.tasks", tasksHigh: String = "fetch.tasks.high", retry: String = "fetch.tasks.retry",
        deadLetter: String = "fetch.tasks.dlq", control: String = "control.commands",
        metrics: String = "worker.metrics",
        partitions: Int = 3, replication: Int = 1, group: String = "metropulse-workers"
    ) {
        self.tasks = tasks
        self.tasksHigh = tasksHigh
        self.retry = retry
        self.deadLetter = deadLetter
        self.control = control
        self.metrics = metrics
        self.partitions = partitions
        self.replication = replication
        self.group = group
    }

    /// The same names with a prefix (one Kafka cluster shared by several deployments, or tests).
    public func prefixed(_ prefix: String) -> KafkaTopics {
        KafkaTopics(
            tasks: prefix + tasks, tasksHigh: prefix + tasksHigh, retry: prefix + retry,
            deadLetter: prefix + deadLetter, control: prefix + control, metrics: prefix + metrics,
            partitions: partitions, replication: replication, group: prefix + group)
    }

    /// The task topics in consumption order, high priority first; a task id carries the index.
    var taskTopics: [String] { [tasksHigh, tasks, retry, deadLetter] }

    var all: [String] { [tasks, tasksHigh, retry, deadLetter, control, metrics] }
}
