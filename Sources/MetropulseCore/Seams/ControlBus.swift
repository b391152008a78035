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
        /// Make the demo city's feeds report `incident` (a spike in one zone) for a while. Sent by
        /// `POST /api/demo/incidents`, answered by each process serving the demo city.
        case demoIncident = "DEMO_INCIDENT"

        /// The kinds an operator sends as they are (SCALE goes through the scale endpoint, which
        /// works out each pool's slots; DEMO_INCIDENT through the demo's).
        public static let plain: [Kind] = allCases.filter { $0 != .scale && $0 != .demoIncident }
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
    /// DEMO_INCIDENT: what the demo city's feeds report, where and until when.
    public var incident: DemoIncident?

    public init(
        id: String, kind: Kind, target: String?, issuedAt: Int64, issuedBy: String? = nil, workers: [String]? = nil,
        slots: [String: Int]? = nil, incident: DemoIncident? = nil
    ) {
        self.incident = incident
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

/// A spike the demo city's feeds report on request (`POST /api/demo/incidents`): from `from` to
/// `until` (epoch ms), the demo's sensors in `zone` read `value` for `metric` (an Open-Meteo
/// variable: `pm2_5`, `temperature_2m`, ...), so an operator can watch City Live flag it.
public struct DemoIncident: Sendable, Hashable, Codable {
    public var zone: String
    public var metric: String
    public var value: Double
    public var from: Int64
    public var until: Int64

    /// The demo's sensor variables an incident may set (`DemoWeather`'s).
    public static let metrics = [
        "nitrogen_dioxide", "pm10", "pm2_5", "precipitation", "relative_humidity_2m", "temperature_2m",
        "wind_speed_10m",
    ]

    public init(zone: String, metric: String, value: Double, from: Int64, until: Int64) {
        self.zone = zone
        self.metric = metric
        self.value = value
        self.from = from
        self.until = until
    }
}
