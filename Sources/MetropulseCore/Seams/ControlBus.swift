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
        /// Change the number of slots (concurrent tasks) of worker pools: `slots` says how many
        /// each gets. Sent by `POST /api/system/workers/scale`, not `POST /api/system/commands`.
        case scale = "SCALE"

        /// The kinds an operator sends as they are (SCALE goes through the scale endpoint, which
        /// works out each pool's slots).
        public static let plain: [Kind] = allCases.filter { $0 != .scale }
    }

    public var id: String
    public var kind: Kind
    /// A worker id, or nil for every worker.
    public var target: String?
    public var issuedAt: Int64
    /// Who sent it: the name of the API key (or console session) it came with.
    public var issuedBy: String?
    /// The workers that were running when it was sent, each expected to acknowledge it.
    public var workers: [String]?
    /// SCALE: the new number of slots of each worker pool, by worker id.
    public var slots: [String: Int]?

    public init(
        id: String, kind: Kind, target: String?, issuedAt: Int64, issuedBy: String? = nil, workers: [String]? = nil,
        slots: [String: Int]? = nil
    ) {
        self.id = id
        self.kind = kind
        self.target = target
        self.issuedAt = issuedAt
        self.issuedBy = issuedBy
        self.workers = workers
        self.slots = slots
    }

    public func applies(to workerID: String) -> Bool {
        (target == nil || target == workerID) && (kind != .scale || slots?[workerID] != nil)
    }
}
