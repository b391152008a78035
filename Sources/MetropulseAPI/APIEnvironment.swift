public import Logging
public import MetropulseCore
public import Prometheus

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
    /// The named keys of the `read` and `admin` scopes; empty: the operator endpoints answer 403.
    public var keys: APIKeys
    /// `/metrics` needs a read key (`metrics.require_key`).
    public var metricsRequireKey: Bool
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
    /// Where this process's metrics are kept (the registry swift-metrics was bootstrapped with);
    /// `/metrics` adds the state of the queue, the sources and the fleet to it at each scrape.
    public var metrics: PrometheusCollectorRegistry
    /// The live map's state, shared by every subscriber of `/api/stream` in this process.
    package let live: LiveFeed
    /// The live streams served from the event loops (`StreamTakeoverHandler`), from `live`.
    let streamHub: StreamHub
    /// The transit networks' sources, per version of the catalog (line boards).
    let networkSources = TransitBoard.NetworkSources()
    /// The learned activity of the sources that learn theirs (`FeedActivity`), shared by every
    /// health answer.
    package let activity: FeedActivityCache
    /// In the API process of `metropulse supervise`: sets (count) or changes (delta) the number
    /// of worker processes, returning it before and after; nil elsewhere.
    public var scaleProcesses: (@Sendable (Int?, Int?) async throws -> (before: Int, after: Int))?
    /// Per-client rate limits on `/api` (`api.rate_limit*`); none by default.
    package var rateLimiter = RateLimiter()
    /// Database summaries of the last 10 s (`DatabaseBoard`).
    let databaseSummaries = RecentResults<DatabaseBoard.SummaryDTO>(ttlMillis: 10_000)
    /// `/api/stations` answers encoded once, with their ETag, while no run of their sources was
    /// stored; encoded again after ten seconds without one (for their ages) while the last one is
    /// served (`StationsController`).
    let stationAnswers = FreshAnswers<EncodedAnswer>(ttlMillis: APIEnvironment.keptAnswerMillis)
    /// `/api/snapshots/{network}/{line}` answers (the board of a line), kept the same way
    /// (`TransitController`).
    let lineAnswers = FreshAnswers<EncodedAnswer>(ttlMillis: APIEnvironment.keptAnswerMillis)
    /// How long a kept answer is served while none of its sources stored a run. Its times
    /// (`generated_at`, the ages and `in_minutes` as of then) are at most this old; a feed polled
    /// every 30 s makes a new answer at each run anyway. (At one second, re-encoding 1,500
    /// stations every second under load cost `bench serve` its p99.)
    static let keptAnswerMillis: Int64 = 10_000
    /// The sources' states those answers are kept by: this process's writes show at once, other
    /// processes' within 100 ms (the streams' default `api.live_interval`).
    let sourceMarks = SourceStateMarks(followMillis: 100)
    /// Recent samples of the fleet (backlog, each worker's progress), for the workers' health.
    package var fleet = FleetWindow()
    /// The jobs the scheduler's runner runs (`/api/jobs`), and its cycle (`jobs.interval`).
    public var jobs: [JobDescription] = BuiltinJobs.descriptions
    public var jobsIntervalMillis: Int64 = 300_000
    /// Whether the scheduler runs them (`jobs.enabled`).
    public var jobsEnabled = true
    /// Whether the deployment serves the demo city (`POST /api/demo/incidents` needs it).
    public var demoEnabled = false
    /// Why a webhook URL may not be reached (a private address the configuration does not allow),
    /// or nil; the sender checks again at every delivery and redirect.
    public var webhookURLRefusal: @Sendable (String) async -> String? = { _ in nil }

    public init(
        store: any Store, queue: any WorkQueue, bus: any ControlBus, catalog: SourceCatalog,
        runNow: (@Sendable (String) async throws -> String?)?, clock: WallClock = .system, adminKey: String? = nil,
        keys: [APIKey] = [], metricsRequireKey: Bool = true,
        heartbeatIntervalMillis: Int64 = 10_000, transitNames: TransitNameBook = TransitNameBook(),
        connectors: ConnectorDescriptions, logger: Logger = Logger(label: "metropulse.api"), maxStreams: Int = 256,
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.metrics = metrics
        self.logger = logger
        self.streams = StreamLimiter(limit: maxStreams)
        self.store = store
        self.queue = queue
        self.bus = bus
        self.catalog = catalog
        self.runNow = runNow
        self.clock = clock
        var all = keys
        if let adminKey, !all.contains(where: { $0.secret == adminKey }) {
            all.append(
                APIKey(
                    name: all.contains { $0.name == "admin" } ? "admin-key" : "admin", scope: .admin, secret: adminKey))
        }
        self.keys = APIKeys(all)
        self.metricsRequireKey = metricsRequireKey
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.transitNames = transitNames
        self.connectors = connectors
        let activity = FeedActivityCache()
        self.activity = activity
        let live = LiveFeed(
            store: store, catalog: catalog, names: transitNames, connectors: connectors, logger: logger,
            activity: activity)
        self.live = live
        self.streamHub = StreamHub(feed: live, clock: clock, logger: logger)
    }
}
