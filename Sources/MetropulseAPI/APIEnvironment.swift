public import Logging
public import MetropulseCore

/// What the API reads and acts on; filled from configuration by the app.
public struct APIEnvironment: Sendable {
    public var store: any Store
    public var queue: any WorkQueue
    public var bus: any ControlBus
    public var catalog: SourceCatalog
    /// Enqueues an immediate run of a source (the scheduler's, or straight on the queue in an `api`
    /// process); nil disables "run now".
    public var runNow: (@Sendable (String) async throws -> String?)?
    public var clock: WallClock
    /// Admin endpoints accept this key in `X-API-Key`; nil disables them.
    public var adminKey: String?
    /// A worker whose last heartbeat is older than this is Behind; 3× older is Down.
    public var heartbeatIntervalMillis: Int64
    /// Stop and line names from the sources' static GTFS, as loaded.
    public var transitNames: TransitNameBook
    /// What each kind's connector reads and produces: which sources are transit, stations or
    /// city readings.
    public var connectors: ConnectorDescriptions
    public var logger: Logger
    /// Live streams open at once (`/api/system/workers/stream`); more are refused with a 503.
    public var streams: StreamLimiter
    /// The live map's state, shared by every subscriber of `/api/stream` in this process.
    package var live: LiveFeed

    public init(
        store: any Store, queue: any WorkQueue, bus: any ControlBus, catalog: SourceCatalog,
        runNow: (@Sendable (String) async throws -> String?)?, clock: WallClock = .system, adminKey: String?,
        heartbeatIntervalMillis: Int64 = 10_000, transitNames: TransitNameBook = TransitNameBook(),
        connectors: ConnectorDescriptions, logger: Logger = Logger(label: "metropulse.api"), maxStreams: Int = 256
    ) {
        self.logger = logger
        self.streams = StreamLimiter(limit: maxStreams)
        self.store = store
        self.queue = queue
        self.bus = bus
        self.catalog = catalog
        self.runNow = runNow
        self.clock = clock
        self.adminKey = adminKey
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.transitNames = transitNames
        self.connectors = connectors
        self.live = LiveFeed(
            store: store, catalog: catalog, names: transitNames, connectors: connectors, logger: logger)
    }
}
