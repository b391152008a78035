/// A slot the scheduler enqueued, for the source's state: its start and when the next one starts.
public struct ScheduledSlot: Sendable, Hashable {
    public var sourceID: String
    public var slotAt: Int64
    public var nextRunAt: Int64

    public init(sourceID: String, slotAt: Int64, nextRunAt: Int64) {
        self.sourceID = sourceID
        self.slotAt = slotAt
        self.nextRunAt = nextRunAt
    }
}
