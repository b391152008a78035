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
