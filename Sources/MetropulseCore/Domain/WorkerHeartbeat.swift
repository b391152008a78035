/// The `worker_heartbeats` row a worker pool refreshes every few seconds.
public struct WorkerHeartbeat: Sendable, Hashable, Codable {
    public var workerID: String
    public var host: String
    public var pid: Int
    public var status: WorkerStatus
    public var concurrency: Int
    public var inFlight: Int
    public var processed: Int
    public var failed: Int
    /// Fetches completed in the last minute, per second.
    public var fetchRate: Double
    public var errorsLastMinute: Int
    /// CPU time used by the process, in seconds.
    public var cpuSeconds: Double
    /// Resident memory of the process, in bytes.
    public var memoryBytes: Int64
    public var startedAt: Int64
    public var lastSeenAt: Int64
    /// The partitions the worker reads on Kafka (`topic/partition`); empty on the SQL queues.
    public var partitions: [String]

    public init(
        workerID: String, host: String, pid: Int, status: WorkerStatus, concurrency: Int, inFlight: Int,
        processed: Int, failed: Int, fetchRate: Double, errorsLastMinute: Int, cpuSeconds: Double,
        memoryBytes: Int64, startedAt: Int64, lastSeenAt: Int64, partitions: [String] = []
    ) {
        self.workerID = workerID
        self.host = host
        self.pid = pid
        self.status = status
        self.concurrency = concurrency
        self.inFlight = inFlight
        self.processed = processed
        self.failed = failed
        self.fetchRate = fetchRate
        self.errorsLastMinute = errorsLastMinute
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.startedAt = startedAt
        self.lastSeenAt = lastSeenAt
        self.partitions = partitions
    }
}

/// What a worker says of itself; the API derives Healthy / Behind / Down from heartbeat age.
public enum WorkerStatus: String, Sendable, Hashable, Codable {
    case running
    case paused
    case draining
    case stopped
    /// Work is assigned and waiting, and none has been read or finished for the stall time.
    case stalled
}
