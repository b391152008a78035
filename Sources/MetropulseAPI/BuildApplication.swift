public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import MetropulseCore
import NIOCore

/// Where and how the API's HTTP server listens.
public struct APIServerSettings: Sendable {
    public var host: String
    /// 0: any free port (`onServerRunning` says which).
    public var port: Int
    /// A connection idle this long is closed.
    public var idleTimeoutMillis: Int64
    /// Connections served at once; more wait to be accepted.
    public var maxConnections: Int

    public init(host: String, port: Int, idleTimeoutMillis: Int64, maxConnections: Int) {
        self.host = host
        self.port = port
        self.idleTimeoutMillis = idleTimeoutMillis
        self.maxConnections = maxConnections
    }
}

/// The API's routes: health probes at the root, everything else under `/api`; `site` adds the
/// routes of the pages (the web module's), on the same router.
public func buildRouter(
    _ environment: APIEnvironment, site: (@Sendable (Router<APIRequestContext>) -> Void)? = nil
) -> Router<APIRequestContext> {
    let router = Router(context: APIRequestContext.self)
    let rateLimit = rateLimitMiddleware(environment)
    // First: a live stream is answered before the rest of the chain (it does their part itself).
    router.add(middleware: streamEntry(environment))
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: HTTPMetricsMiddleware())
    router.add(middleware: MethodNotAllowedMiddleware())
    HealthController(environment: environment).addRoutes(to: router)
    MetricsController(environment: environment).addRoutes(to: router)
    ContractController().addRoutes(to: router)
    let api = router.group("api")
    api.add(middleware: ETagMiddleware())
    if let rateLimit { api.add(middleware: rateLimit) }
    SourcesController(environment: environment).addRoutes(to: api)
    StationsController(environment: environment).addRoutes(to: api)
    TransitController(environment: environment).addRoutes(to: api)
    CitiesController(environment: environment).addRoutes(to: api)
    SystemController(environment: environment).addRoutes(to: api)
    JobsController(environment: environment).addRoutes(to: api)
    WebhooksController(environment: environment).addRoutes(to: api)
    QualityController(environment: environment).addRoutes(to: api)
    ExportController(environment: environment).addRoutes(to: api)
    StreamController(environment: environment).addRoutes(to: api)
    site?(router)
    return router
}

/// The `/api` rate limit, when one is set.
private func rateLimitMiddleware(_ environment: APIEnvironment) -> RateLimitMiddleware? {
    environment.rateLimiter.isEnabled
        ? RateLimitMiddleware(limiter: environment.rateLimiter, keys: environment.keys, clock: environment.clock)
        : nil
}

/// What a live stream goes through before it is served.
private func streamEntry(_ environment: APIEnvironment) -> StreamEntryMiddleware {
    StreamEntryMiddleware(
        controller: StreamController(environment: environment), rateLimit: rateLimitMiddleware(environment))
}

/// The API as a service: the router of `buildRouter` behind an HTTP/1 server with the settings'
/// idle timeout and connection cap. `onServerRunning` gets the port it listens on.
public func buildApplication(
    _ environment: APIEnvironment, server: APIServerSettings,
    site: (@Sendable (Router<APIRequestContext>) -> Void)? = nil,
    onServerRunning: @escaping @Sendable (Int) -> Void = { _ in }
) -> Application<RouterResponder<APIRequestContext>> {
    serve(
        buildRouter(environment, site: site), server: server, name: "metropulse", logger: environment.logger,
        live: (
            WebSocketController(environment: environment).router(),
            StreamTakeover(entry: streamEntry(environment), hub: environment.streamHub, logger: environment.logger)
        )
    ) { port in
        environment.logger.notice("API listening on http://\(server.host):\(port)")
        onServerRunning(port)
    }
}

/// `router` behind an HTTP/1 server with the settings' idle timeout and connection cap; with
/// `live`, the WebSocket upgrade of its router and the live streams served from the event loops.
private func serve(
    _ router: Router<APIRequestContext>, server: APIServerSettings, name: String, logger: Logger,
    live: (webSockets: Router<BasicWebSocketRequestContext>, streams: StreamTakeover)? = nil,
    onServerRunning: @escaping @Sendable (Int) -> Void
) -> Application<RouterResponder<APIRequestContext>> {
    // A connection whose first request is the live stream is served from its event loop.
    let streams = live?.streams
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: streams.map { [StreamTakeoverHandler($0)] } ?? [],
        idleTimeout: .milliseconds(server.idleTimeoutMillis))
    return Application(
        router: router,
        server: live.map { streamFirst($0.webSockets.buildResponder(), http1: http1) } ?? .http1(configuration: http1),
        configuration: .init(
            address: .hostname(server.host, port: server.port), serverName: name,
            availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections)),
        onServerRunning: { (channel: any Channel) in onServerRunning(channel.localAddress?.port ?? 0) },
        logger: logger)
}

/// HTTP/1 with the WebSocket upgrade, a connection whose first request is the live stream left
/// to its event loop (`StreamFirstChannel`).
private func streamFirst(
    _ webSockets: RouterResponder<BasicWebSocketRequestContext>, http1: HTTP1Channel.Configuration
) -> HTTPServerBuilder {
    HTTPServerBuilder { responder in
        StreamFirstChannel(
            inner: HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: webSockets, configuration: .init(http1: http1)))
    }
}

/// A role without the API (a worker, a scheduler) serving only `/metrics`, `/healthz` and `/readyz`.
public func buildMetricsApplication(_ environment: APIEnvironment, server: APIServerSettings)
    -> Application<RouterResponder<APIRequestContext>>
{
    let router = Router(context: APIRequestContext.self)
    HealthController(environment: environment).addRoutes(to: router)
    MetricsController(environment: environment).addRoutes(to: router)
    return serve(router, server: server, name: "metropulse-metrics", logger: environment.logger) { port in
        environment.logger.notice("metrics on http://\(server.host):\(port)/metrics")
    }
}
