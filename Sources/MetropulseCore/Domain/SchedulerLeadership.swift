/// Which scheduler schedules: the leader renews this record while it leads, so every process (an
/// API server on another machine included) can show who leads and since when.
public struct SchedulerLeadership: Sendable, Hashable, Codable {
    public var schedulerID: String
    public var host: String
    public var pid: Int
    /// When this scheduler became the leader.
    public var since: Int64
    public var renewedAt: Int64

    public init(schedulerID: String, host: String, pid: Int, since: Int64, renewedAt: Int64) {
        self.schedulerID = schedulerID
        self.host = host
        self.pid = pid
        self.since = since
        self.renewedAt = renewedAt
    }
}
