package import MetropulseAPI
public import MetropulseCore
public import MetropulseKafka
import MetropulseWeb

/// Everything a Metropulse process is configured with. Defaults need no file: SQLite in the
/// working directory, 16 workers, the API on 127.0.0.1:8080, and the demo city.
public struct MetropulseConfiguration: Sendable {
    public struct Database: Sendable {
        /// `postgres://user:password@host:port/database`: use PostgreSQL instead of the SQLite file.
        public var url: String?
        public var path = "metropulse.sqlite"
        /// `full` or `normal`; see `SQLiteBackend.Configuration.Synchronous`.
        public var synchronous = "full"

        public init() {}
    }

    /// Kafka as the work queue and the control bus (needs a binary built with `--traits Kafka`).
    public struct Kafka: Sendable {
        /// `host:port[,host:port...]`; nil keeps the queue and bus in the database.
        public var brokers: String?
        public var topics = KafkaTopics()
        /// Prepended to every topic and group name.
        public var topicPrefix = ""
        /// librdkafka settings passed through (SASL, TLS, timeouts).
        public var properties: [String: String] = [:]
        /// A worker with partitions and tasks waiting that reads or finishes none for this long
        /// reports itself behind.
        public var stallAfterMillis: Int64 = 60_000
        /// How long the broker keeps the record topics (the window `replay` reaches).
        public var recordRetentionMillis: Int64 = 86_400_000
        /// The consumer group of the `sink` role.
        public var sinkGroup = "metropulse-sink"

        /// The record topics' names and settings, prefix applied.
        public var recordTopics: RecordTopics {
            RecordTopics(prefix: topicPrefix, retentionMillis: recordRetentionMillis, sinkGroup: sinkGroup)
        }
    }

    /// Where workers send what they fetch.
    public enum DataPath: String, Sendable, CaseIterable {
        /// Straight into the store, in the same commit as the task's outcome.
        case store
        /// To the Kafka record topics; the `sink` role loads them into the store.
        case kafka
    }

    public struct Workers: Sendable {
        public var concurrency = 16
        /// Tasks claimed ahead of free slots; nil: as many as `concurrency`.
        public var prefetch: Int?
        public var leaseMillis: Int64 = 60_000
        public var heartbeatMillis: Int64 = 10_000
        public var retryBaseDelayMillis: Int64 = 2_000
        public var maxRetryDelayMillis: Int64 = 300_000
        /// Requests in flight to one host, across all of this process's workers.
        public var maxRequestsPerHost = 4
    }

    public struct Retention: Sendable {
        public var tasksMillis: Int64 = 7 * 86_400_000
        public var taskRunsMillis: Int64 = 30 * 86_400_000
        public var heartbeatsMillis: Int64 = 86_400_000
        /// Central log lines (`system_logs`).
        public var logsMillis: Int64 = 7 * 86_400_000
        /// Job runs (`job_runs`).
        public var jobRunsMillis: Int64 = 7 * 86_400_000
    }

    /// The job runner (`jobs.*`): aggregates and checks on a schedule, led by the scheduler's leader.
    public struct Jobs: Sendable {
        /// Run the built-in jobs in the scheduler role.
        public var enabled = true
        /// One cycle of every job this often, aligned to the clock.
        public var intervalMillis: Int64 = 300_000
    }

    /// Webhook deliveries (`webhooks.*`), sent by the scheduler's leader.
    public struct Webhooks: Sendable {
        /// Let endpoints reach loopback, private and link-local addresses (off: refused).
        public var allowPrivateAddresses = false
        /// Hosts (names or addresses, as the URL writes them) endpoints may reach even when private.
        public var allowedHosts: [String] = []
        /// How long a delivery being sent is held by its process: one that dies lets it go then.
        public var leaseMillis: Int64 = 60_000
        /// The first retry's delay; each next one is 4 times longer, at most 10 hours.
        public var retryBaseMillis: Int64 = 5_000
        /// Deliveries sent at once.
        public var concurrency = 32
        /// A delivery attempt's timeout.
        public var timeoutMillis: Int64 = 10_000
        /// An endpoint whose every attempt failed for this long is disabled.
        public var disableAfterMillis: Int64 = 86_400_000
    }

    /// The console log and the central log (`logging.*`).
    public struct LogSettings: Sendable {
        public enum Format: String, Sendable, CaseIterable {
            /// `time level label: message metadata`, as swift-log's stream handler writes it.
            case text
            /// One JSON object a line: time, level, service, logger, message and metadata keys.
            case json
        }

        /// Also write every role's log lines to the store's `system_logs` table
        /// (`/api/system/logs`, the console's logs page).
        public var centralized = true
        /// The lowest level the central log keeps.
        public var centralizedLevel = "info"
        /// Lines held in memory for the central log; more are dropped and counted.
        public var queueSize = 10_000
        /// Standard output's format.
        public var format = Format.text
    }

    public struct API: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var adminKey: String?
        /// Named keys (`api.keys`: `name:scope:secret,...`), besides `admin_key` (named `admin`).
        public var keys: [APIKey] = []
        /// Connections served at once; more wait in the listen backlog.
        public var maxConnections = 1_024
        /// A connection with no request for this long is closed.
        public var idleTimeoutMillis: Int64 = 60_000
        /// Live streams open at once; more are answered 503.
        public var maxStreams = 256
        /// How often the live streams' feed reads what changed in the store.
        public var liveIntervalMillis: Int64 = 100
        /// Per-client token buckets on `/api`: clients without a key (by address), read keys, admin
        /// keys; nil: no limit.
        package var rateLimit: RateLimiter.Policy?
        package var rateLimitKeyed: RateLimiter.Policy?
        package var rateLimitAdmin: RateLimiter.Policy?
    }

    /// `/metrics` of the roles without the API (`metrics.*`); `serve` and `api` serve it on the API port.
    public struct Metrics: Sendable {
        public var host = "127.0.0.1"
        /// 0: a worker or scheduler process serves no metrics.
        public var port = 0
        /// `/metrics` needs a read key; false: anyone who reaches the port may scrape it.
        public var requireKey = true
    }

    /// The web pages and the console (`web.*`).
    public struct Web: Sendable {
        /// Serve the pages beside the API.
        public var enabled = true
        /// `{z}/{x}/{y}` map tile URL; empty: no tiles (markers on a plain background).
        public var tileURL = WebSettings.defaultTileURL
        public var tileAttribution = WebSettings.defaultTileAttribution
        /// Where Debian's libjs-leaflet and libjs-chart.js are installed.
        public var vendorDirectory = "/usr/share/javascript"
        /// The templates and assets folder; nil: the one built beside the binary.
        public var siteDirectory: String?
        /// `lat,lon[,zoom]` the map opens on; empty: fitted to the data.
        public var mapCenter = ""
        /// Mark the console's session cookie `Secure` (behind an HTTPS proxy).
        public var secureCookies = false
    }

    public struct Demo: Sendable {
        /// nil: on when a source uses a `demo:` URL.
        public var enabled: Bool?
        public var port = 0
    }

    public var database = Database()
    public var kafka = Kafka()
    public var workers = Workers()
    public var retention = Retention()
    public var api = API()
    public var demo = Demo()
    public var web = Web()
    public var metrics = Metrics()
    public var logging = LogSettings()
    public var jobs = Jobs()
    public var webhooks = Webhooks()
    public var dataPath = DataPath.store
    public var logLevel = "info"
    public var sources: [SourceDefinition] = MetropulseConfiguration.demoSources
    /// The fetch limits of every source that does not set its own (the `fetch` section).
    public var fetch = FetchLimits() {
        didSet { resolveFetchLimits() }
    }
    /// What each source's own `fetch:` block sets, by source id, over `fetch`.
    var fetchOverrides: [String: FetchLimitOverrides] = [:]

    /// Gives every source the `fetch` defaults with its own settings over them. A source read
    /// only from the demo city (`demo:` URLs) may reach it on loopback.
    mutating func resolveFetchLimits() {
        for index in sources.indices {
            sources[index].limits = fetchOverrides[sources[index].id]?.applied(to: fetch) ?? fetch
            if Self.isDemoSource(sources[index]) { sources[index].limits.allowPrivateAddresses = true }
        }
    }

    static func isDemoSource(_ source: SourceDefinition) -> Bool {
        !source.urls.isEmpty && source.urls.allSatisfy { $0.hasPrefix("demo:") }
    }
    /// Cities and their zones; readings with a position are attached to the zone for it.
    public var cities: [City] = MetropulseConfiguration.demoCities

    public init() {}

    public var demoEnabled: Bool {
        demo.enabled ?? sources.contains { source in source.urls.contains { $0.hasPrefix("demo:") } }
    }

    /// The demo network's static GTFS, served by the demo feed server.
    static let demoStaticGTFS = "demo:gtfs/static.zip"

    /// The demo city's sources, used when no file declares sources.
    public static let demoSources =
        ([
            SourceDefinition(
                id: "demo-bikes", kind: .gbfs, urls: ["demo:gbfs/gbfs.json"], intervalMillis: 10_000,
                timeoutMillis: 5_000, priority: 0, maxAttempts: 5, tags: ["city": "demo", "network": "demo-bikes"]),
            SourceDefinition(
                id: "demo-metro-trips", kind: .gtfsRT, urls: ["demo:gtfs-rt/trip-updates.pb"], intervalMillis: 15_000,
                timeoutMillis: 5_000, priority: 1, maxAttempts: 3, tags: ["city": "demo", "network": "demo"],
                staticGTFS: demoStaticGTFS),
            SourceDefinition(
                id: "demo-metro-vehicles", kind: .gtfsRT, urls: ["demo:gtfs-rt/vehicle-positions.pb"],
                intervalMillis: 10_000, timeoutMillis: 5_000, priority: 1, maxAttempts: 3,
                tags: ["city": "demo", "network": "demo"], staticGTFS: demoStaticGTFS),
            SourceDefinition(
                id: "demo-metro-alerts", kind: .gtfsRT, urls: ["demo:gtfs-rt/alerts.pb"], intervalMillis: 30_000,
                timeoutMillis: 5_000, priority: 1, maxAttempts: 3, tags: ["city": "demo", "network": "demo"],
                staticGTFS: demoStaticGTFS),
            SourceDefinition(
                id: "demo-siri-stop", kind: .siriLite, urls: ["demo:siri/stop-monitoring.json?MonitoringRef=S05"],
                intervalMillis: 20_000, timeoutMillis: 5_000, priority: 1, maxAttempts: 3,
                tags: ["city": "demo", "network": "demo-siri"], staticGTFS: demoStaticGTFS),
            SourceDefinition(
                id: "demo-siri-messages", kind: .siriLite, urls: ["demo:siri/general-message.json"],
                intervalMillis: 60_000, timeoutMillis: 5_000, priority: 1, maxAttempts: 3,
                tags: ["city": "demo", "network": "demo-siri"]),
        ] + demoSensors).map(allowingLoopback)

    /// The demo city's feed server listens on loopback.
    private static func allowingLoopback(_ source: SourceDefinition) -> SourceDefinition {
        var source = source
        source.limits.allowPrivateAddresses = true
        return source
    }

    /// The demo city's zones: three areas along the north-south axis, the centre a polygon.
    public static let demoCities = [
        City(
            id: "demo",
            zones: [
                City.Zone(
                    id: "centre",
                    polygon: [
                        GeoPoint(latitude: 48.8366, longitude: 2.3222), GeoPoint(latitude: 48.8366, longitude: 2.3822),
                        GeoPoint(latitude: 48.8766, longitude: 2.3822), GeoPoint(latitude: 48.8766, longitude: 2.3222),
                    ]),
                City.Zone(id: "nord", point: GeoPoint(latitude: 48.8966, longitude: 2.3522)),
                City.Zone(id: "sud", point: GeoPoint(latitude: 48.8166, longitude: 2.3522)),
            ])
    ]

    /// The demo city's sensors and city APIs: weather and air quality at three points (each reading
    /// attached to the zone of its position), power demand per zone from an EIA-shaped API, 311
    /// requests from a Socrata dataset and road speeds from a HERE-shaped flow feed.
    static let demoSensors: [SourceDefinition] = {
        let weather = "current=temperature_2m,relative_humidity_2m,wind_speed_10m,precipitation"
        let zones = [("centre", 48.8566, 2.3522), ("nord", 48.8966, 2.3522), ("sud", 48.8166, 2.3522)]
        var sources = zones.map { zone, latitude, longitude in
            SourceDefinition(
                id: "demo-weather-\(zone)", kind: .city,
                urls: ["demo:open-meteo/v1/forecast?latitude=\(latitude)&longitude=\(longitude)&\(weather)"],
                intervalMillis: 60_000, timeoutMillis: 5_000, maxAttempts: 3, tags: ["city": "demo"],
                format: "open-meteo")
        }
        sources += zones.map { zone, latitude, longitude in
            SourceDefinition(
                id: "demo-air-\(zone)", kind: .city,
                urls: [
                    "demo:open-meteo/v1/air-quality?latitude=\(latitude)&longitude=\(longitude)&current=pm2_5,pm10,nitrogen_dioxide"
                ], intervalMillis: 60_000, timeoutMillis: 5_000, maxAttempts: 3, tags: ["city": "demo"],
                format: "open-meteo")
        }
        sources += [
            SourceDefinition(
                id: "demo-power", kind: .city,
                urls: [
                    "demo:eia/v2/electricity/rto/region-data/data/?frequency=hourly&data%5B0%5D=value&facets%5Btype%5D%5B%5D=D&length=144"
                ], intervalMillis: 300_000, timeoutMillis: 5_000, maxAttempts: 3,
                tags: ["city": "demo", "respondent_zones": "DEMO-C=centre,DEMO-N=nord,DEMO-S=sud"], format: "eia"),
            SourceDefinition(
                id: "demo-311", kind: .city,
                urls: ["demo:311/resource/demo-311.json?$order=created_date%20DESC&$limit=500"],
                intervalMillis: 120_000, timeoutMillis: 5_000, maxAttempts: 3,
                tags: ["city": "demo", "timezone": "+01:00"], format: "socrata-311"),
            SourceDefinition(
                id: "demo-traffic", kind: .city, urls: ["demo:here/traffic/6.2/flow.json"], intervalMillis: 60_000,
                timeoutMillis: 5_000, maxAttempts: 3, tags: ["city": "demo"], format: "here-flow"),
        ]
        return sources
    }()
}
