import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdCore
public import Logging
import MetropulseAPI
import MetropulseConnectors
public import MetropulseCore
public import MetropulseDemo
import MetropulseWeb
import NIOCore
public import ServiceLifecycle
public import UnixSignals

/// Builds and runs the services of one Metropulse process from its configuration and roles.
public struct MetropulseRuntime: Sendable {
    public let configuration: MetropulseConfiguration
    public let configurationPath: String?
    public let roles: Roles
    public let backend: StorageBackend
    public let catalog: SourceCatalog
    public let bus: any ControlBus
    public let clock: WallClock
    public let logger: Logger
    public let demoEndpoint: DemoEndpoint
    public let scheduler: Scheduler?
    public let workerPool: WorkerPool?
    /// The job runner, in the scheduler role (`jobs.enabled`), led by the scheduler's leader.
    public let jobRunner: JobRunner?
    /// Webhook events and deliveries, in the scheduler role, led by the scheduler's leader.
    public let webhooks: WebhookService?
    /// Woken after each commit of this process's workers: its live feed reads the change at once.
    public let commits = AsyncSignal()
    /// The backend's committer, waking `commits` after each commit.
    public let committer: any RunCommitter
    private let webhookClient: HTTPClient?
    /// Stop and line names from the sources' static GTFS (loaded where this process serves the API).
    public let transitNames = TransitNameBook()
    private let httpClient: HTTPClient
    /// Every feed request of this process (workers and the static GTFS loader): one per-host
    /// limit and one set of `Retry-After` pauses.
    private let feedHTTP: FeedHTTPClient
    /// Called with the API's bound port once it listens.
    private let onAPIBound: @Sendable (Int) -> Void

    public init(
        configuration: MetropulseConfiguration, configurationPath: String?, roles: Roles = .all,
        clock: WallClock = .system, logger: Logger, onAPIBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws {
        self.configuration = configuration
        self.configurationPath = configurationPath
        self.roles = roles
        self.clock = clock
        self.logger = logger
        self.onAPIBound = onAPIBound
        // One name for this process's worker and its Kafka clients.
        let processID = WorkerPool.defaultWorkerID()
        backend = try StorageBackend.make(configuration, clientID: processID, logger: logger)
        bus = backend.bus ?? InProcessControlBus()
        committer = SignallingRunCommitter(backend.committer, signal: commits)
        catalog = SourceCatalog(configuration.sources, cities: configuration.cities)
        demoEndpoint = DemoEndpoint()
        httpClient = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: FeedHTTPClient.clientConfiguration())

        let endpoint = demoEndpoint
        feedHTTP = FeedHTTPClient(
            client: httpClient, gate: HostGate(limit: configuration.workers.maxRequestsPerHost), clock: clock
        ) { await endpoint.resolve($0) }
        if roles.contains(.worker) {
            let http = feedHTTP
            workerPool = WorkerPool(
                configuration: .init(
                    workerID: processID, concurrency: configuration.workers.concurrency,
                    prefetch: configuration.workers.prefetch, leaseMillis: configuration.workers.leaseMillis,
                    heartbeatIntervalMillis: configuration.workers.heartbeatMillis,
                    retryPolicy: .exponentialJitter(
                        baseDelayMillis: configuration.workers.retryBaseDelayMillis,
                        maxDelayMillis: configuration.workers.maxRetryDelayMillis)),
                queue: backend.queue, committer: committer, store: backend.store, catalog: catalog,
                connectors: StandardConnectors.registry(http: http), bus: bus, clock: clock,
                logger: logger)
        } else {
            workerPool = nil
        }
        scheduler =
            roles.contains(.scheduler)
            ? Scheduler(
                catalog: catalog, queue: backend.queue, store: backend.store, clock: clock,
                configuration: .init(
                    taskRetentionMillis: configuration.retention.tasksMillis,
                    runRetentionMillis: configuration.retention.taskRunsMillis,
                    heartbeatRetentionMillis: configuration.retention.heartbeatsMillis,
                    logRetentionMillis: configuration.retention.logsMillis),
                leadership: backend.leadership, logger: logger) : nil
        if let scheduler, configuration.jobs.enabled {
            jobRunner = try JobRunner(
                jobs: BuiltinJobs.all(catalog: catalog), store: backend.store, queue: backend.queue, clock: clock,
                configuration: .init(
                    intervalMillis: configuration.jobs.intervalMillis,
                    runRetentionMillis: configuration.retention.jobRunsMillis),
                isLeader: { scheduler.isLeader }, logger: logger)
        } else {
            jobRunner = nil
        }
        if let scheduler {
            let settings = configuration.webhooks
            let sender = WebhookHTTPSender(
                allowPrivateAddresses: settings.allowPrivateAddresses, allowedHosts: settings.allowedHosts,
                timeoutMillis: settings.timeoutMillis)
            webhookClient = sender.client
            webhooks = WebhookService(
                store: backend.store, catalog: catalog, sender: sender,
                connectors: StandardConnectors.descriptions, clock: clock,
                configuration: .init(
                    retryBaseMillis: settings.retryBaseMillis, leaseMillis: settings.leaseMillis,
                    concurrency: settings.concurrency,
                    disableAfterMillis: settings.disableAfterMillis),
                isLeader: { scheduler.isLeader }, logger: logger)
        } else {
            webhooks = nil
            webhookClient = nil
        }
    }

    /// The services in start order; they stop in reverse (API first, HTTP client last).
    public func services() -> [any Service] {
        var services: [any Service] = backend.services
        // Stops after every part that logs, so their last lines reach the central log too.
        if configuration.logging.centralized { services.append(LogShipper(store: backend.store)) }
        services.append(HTTPClientService(client: httpClient))
        if let webhookClient { services.append(HTTPClientService(client: webhookClient)) }
        if configuration.demoEnabled && roles.contains(.worker) {
            let incidents = DemoIncidents()
            services.append(
                DemoFeedServer.application(
                    city: DemoCity(), endpoint: demoEndpoint, port: configuration.demo.port, clock: clock,
                    incidents: incidents, logger: logger))
            services.append(
                DemoIncidentListener(
                    bus: bus, incidents: incidents, workerID: workerPool?.configuration.workerID,
                    commandLog: backend.store, clock: clock, logger: logger))
        }
        services.append(
            ConfigReloader(
                path: configurationPath, catalog: catalog, bus: bus, workerID: workerPool?.configuration.workerID,
                commandLog: backend.store, clock: clock, logger: logger))
        if roles.contains(.sink), let sink = backend.sink { services.append(sink) }
        if let workerPool { services.append(workerPool) }
        if let scheduler { services.append(scheduler) }
        if let jobRunner { services.append(jobRunner) }
        if let webhooks { services.append(webhooks) }
        if roles.contains(.api) {
            // Without a scheduler here (an `api` process), "run now" puts the task on the shared queue itself.
            let (catalog, queue, clock) = (self.catalog, backend.queue, self.clock)
            var runNow: @Sendable (String) async throws -> String? = { sourceID in
                try await Scheduler.runNow(sourceID: sourceID, catalog: catalog, queue: queue, now: clock.nowMillis)
            }
            if let scheduler = self.scheduler {
                runNow = { sourceID in try await scheduler.runNow(sourceID: sourceID) }
            }
            services.append(
                StaticGTFSLoader(catalog: catalog, book: transitNames, http: feedHTTP, clock: clock, logger: logger))
            var environment = APIEnvironment(
                store: backend.store, queue: backend.queue, bus: bus, catalog: catalog,
                runNow: runNow, clock: clock,
                adminKey: configuration.api.adminKey, keys: configuration.api.keys,
                metricsRequireKey: configuration.metrics.requireKey,
                heartbeatIntervalMillis: configuration.workers.heartbeatMillis,
                transitNames: transitNames, connectors: StandardConnectors.descriptions, logger: logger,
                maxStreams: configuration.api.maxStreams, metrics: ProcessMetrics.registry)
            environment.demoEnabled = configuration.demoEnabled
            let (allowPrivate, allowedHosts) = (
                configuration.webhooks.allowPrivateAddresses, configuration.webhooks.allowedHosts
            )
            environment.webhookURLRefusal = {
                await WebhookHTTPSender.refusal($0, allowPrivate: allowPrivate, allowedHosts: allowedHosts)
            }
            environment.jobsIntervalMillis = configuration.jobs.intervalMillis
            environment.jobsEnabled = configuration.jobs.enabled
            environment.rateLimiter = RateLimiter(
                anonymous: configuration.api.rateLimit, keyed: configuration.api.rateLimitKeyed,
                admin: configuration.api.rateLimitAdmin)
            if let url = ProcessInfo.processInfo.environment["METROPULSE_SUPERVISOR_URL"],
                let token = ProcessInfo.processInfo.environment["METROPULSE_SUPERVISOR_TOKEN"]
            {
                // The API child of `metropulse supervise`: scaling starts or stops worker processes.
                let supervisor = SupervisorClient(endpoint: SupervisorEndpoint(pid: 0, url: url, token: token))
                environment.scaleProcesses = { count, delta in
                    do {
                        return try await supervisor.scale(count: count, delta: delta)
                    } catch let error as SupervisorError where error.refused {
                        throw SupervisorRefusal(message: error.description)
                    } catch {
                        throw HTTPError(.serviceUnavailable, message: "the supervisor does not answer: \(error)")
                    }
                }
            }
            let api = configuration.api
            var site: (@Sendable (Router<APIRequestContext>) -> Void)?
            if configuration.web.enabled {
                let web = configuration.web
                do {
                    let loaded = try WebSite.load(
                        WebSettings(
                            tileURL: web.tileURL, tileAttribution: web.tileAttribution,
                            vendorDirectory: web.vendorDirectory, siteDirectory: web.siteDirectory,
                            mapCenter: web.mapCenter, secureCookies: web.secureCookies),
                        logger: logger)
                    let pages = WebPages(site: loaded, environment: environment)
                    site = { router in pages.addRoutes(to: router) }
                } catch {
                    logger.error("the web pages are not served", metadata: ["error": "\(error)"])
                }
            }
            services.append(FleetSampler(environment: environment))
            services.append(
                LiveFeedRefresher(
                    environment: environment, intervalMillis: configuration.api.liveIntervalMillis,
                    commits: roles.contains(.worker) ? commits : nil))
            // Streams whose clients stopped reading must not hold the process at shutdown.
            services.append(
                BoundedShutdown(
                    buildApplication(
                        environment,
                        server: APIServerSettings(
                            host: api.host, port: api.port, idleTimeoutMillis: api.idleTimeoutMillis,
                            maxConnections: api.maxConnections),
                        site: site, onServerRunning: onAPIBound),
                    grace: .seconds(10), logger: logger))
        }
        if !roles.contains(.api), configuration.metrics.port > 0 {
            // A role without the API serves its own /metrics (and /healthz, /readyz) on a port of its own.
            let environment = APIEnvironment(
                store: backend.store, queue: backend.queue, bus: bus, catalog: catalog, runNow: nil, clock: clock,
                adminKey: configuration.api.adminKey, keys: configuration.api.keys,
                metricsRequireKey: configuration.metrics.requireKey, connectors: StandardConnectors.descriptions,
                logger: logger,
                metrics: ProcessMetrics.registry)
            services.append(
                buildMetricsApplication(
                    environment,
                    server: APIServerSettings(
                        host: configuration.metrics.host, port: configuration.metrics.port, idleTimeoutMillis: 60_000,
                        maxConnections: 64)))
        }
        return services
    }

    /// Runs until SIGTERM/SIGINT (graceful: in-flight tasks finish) or cancellation.
    public func run() async throws {
        try await backend.prepare()
        try await serviceGroup(signals: [.sigterm, .sigint]).run()
    }

    /// The process's service group; `triggerGracefulShutdown()` stops it as SIGTERM would.
    public func serviceGroup(signals: [UnixSignal]) -> ServiceGroup {
        logger.info(
            "starting",
            metadata: [
                "database": "\(backend.description)", "sources": "\(catalog.all.count)",
                "workers": "\(roles.contains(.worker) ? configuration.workers.concurrency : 0)",
            ])
        return ServiceGroup(
            configuration: .init(
                services: services().map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: signals, logger: logger))
    }
}
