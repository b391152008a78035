/// Queue depth and flow at one instant.
public struct QueueStats: Sendable, Hashable, Codable {
    public var queued: Int
    public var running: Int
    public var retrying: Int
    public var dead: Int
    public var succeeded: Int
    /// Since when the oldest ready, unstarted task has been ready (its run time), epoch ms.
    public var oldestReadySince: Int64?
    /// Tasks finished (succeeded or dead) in the last 60 s.
    public var finishedLastMinute: Int
    /// Per partition on Kafka: committed offset, high watermark and lag. Nil on the SQL queues.
    public var partitions: [PartitionLag]?

    public init(
        queued: Int = 0, running: Int = 0, retrying: Int = 0, dead: Int = 0, succeeded: Int = 0,
        oldestReadySince: Int64? = nil, finishedLastMinute: Int = 0
    ) {
        self.queued = queued
        self.running = running
        self.retrying = retrying
        self.dead = dead
        self.succeeded = succeeded
        self.oldestReadySince = oldestReadySince
        self.finishedLastMinute = finishedLastMinute
    }
}

/// Where a consumer group stands on one partition.
public struct PartitionLag: Sendable, Hashable, Codable {
    public var topic: String
    public var partition: Int
    /// The next offset the group will read (nil when it committed none).
    public var committed: Int64?
    /// The offset the next message written will get.
    public var highWatermark: Int64
    /// Messages written and not committed.
    public var lag: Int64
    /// The client reading the partition, when it is this process.
    public var readBy: String?
    /// When the oldest message not consumed yet (the first after the committed offset) was
    /// written, epoch ms; nil without lag. The partition's lag in time.
    public var oldestAt: Int64?

    public init(
        topic: String, partition: Int, committed: Int64?, highWatermark: Int64, lag: Int64, readBy: String?,
        oldestAt: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.committed = committed
        self.highWatermark = highWatermark
        self.lag = lag
        self.readBy = readBy
        self.oldestAt = oldestAt
    }
}
