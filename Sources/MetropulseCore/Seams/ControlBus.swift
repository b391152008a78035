/// Carries operator commands to every worker pool and scheduler, and worker metrics (each
/// heartbeat as it is taken) to every process that watches them.
public protocol ControlBus: Sendable {
    func publish(_ command: ControlCommand) async throws
    /// Commands published from now on.
    func commands() async throws -> AsyncStream<ControlCommand>

    func publishMetrics(_ heartbeat: WorkerHeartbeat) async throws
    /// Worker metrics published from now on, by workers in any process the bus reaches.
    func metrics() async throws -> AsyncStream<WorkerHeartbeat>
}

public struct ControlCommand: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case pauseFetch = "PAUSE_FETCH"
        case resumeFetch = "RESUME_FETCH"
        /// Finish in-flight tasks and take no more until resumed.
        case drain = "DRAIN"
        case reloadConfig = "RELOAD_CONFIG"
        case rebalance = "REBALANCE"
    }

    public var id: String
    public var kind: Kind
    /// A worker id, or nil for every worker.
    public var target: String?
    public var issuedAt: Int64

    public init(id: String, kind: Kind, target: String?, issuedAt: Int64) {
        self.id = id
        self.kind = kind
        self.target = target
        self.issuedAt = issuedAt
    }

    public func applies(to workerID: String) -> Bool {
        target == nil || target == workerID
    }
}
