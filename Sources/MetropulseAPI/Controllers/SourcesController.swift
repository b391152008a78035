import Hummingbird
import MetropulseCore

/// The source catalogue with each source's schedule and freshness; "run now" for operators.
struct SourcesController {
    let environment: APIEnvironment
    /// A source's health reads a day of its runs: computed at most once per source every 5 s.
    let recentHealth = RecentResults<HealthDTO>(ttlMillis: 5_000)

    struct SourceDTO: ResponseCodable {
        var id: String
        var kind: String
        var urls: [String]
        var enabled: Bool
        var intervalSeconds: Double
        var timeoutSeconds: Double
        var priority: Int
        var tags: [String: String]
        var lastRunAt: String?
        var lastRunStatus: String?
        var lastSuccessAt: String?
        var lastError: String?
        var nextRunAt: String?
        var feedTimestamp: String?
        /// Seconds since the last successful fetch.
        var dataAgeSeconds: Double?
        /// `fresh` (a success within two intervals), `late`, or `never` (no success yet).
        var freshness: String
        /// Where the source's static GTFS comes from and how loading it went; nil without one.
        var staticGtfs: StaticGTFSDTO?
    }

    struct StaticGTFSDTO: ResponseCodable {
        var location: String
        /// `loaded`, `failed` (the last attempt; names from an earlier load may still be served) or
        /// `pending` (not tried yet, or not in this process: names are loaded where the API runs).
        var status: String
        var stops: Int?
        var routes: Int?
        var loadedAt: String?
        var lastError: String?
    }

    struct SourceList: ResponseCodable {
        var count: Int
        var sources: [SourceDTO]
    }

    struct RunNowResponse: ResponseCodable {
        var source: String
        var jobId: String
    }

    struct WindowDTO: ResponseCodable {
        var runs: Int
        var successes: Int
        var uptime: Double?
    }

    struct HealthDTO: ResponseCodable {
        var source: String
        var state: String
        var reason: String
        var lastHour: WindowDTO
        var lastDay: WindowDTO
        var latencyMs: FeedHealth.Latency?
        var lastRunAt: String?
        var lastRunStatus: String?
        var lastSuccessAt: String?
        var consecutiveFailures: Int
        var lastError: ErrorDTO?
        var contentHash: String?
        var contentSince: String?
        var feedTimestamp: String?
        var feedAgeSeconds: Double?
        var staleAfterSeconds: Double
    }

    struct ErrorDTO: ResponseCodable {
        var at: String
        var kind: String?
        var message: String?
        var httpStatus: Int?
    }

    /// The source kinds, as their connectors describe themselves.
    struct ConnectorList: ResponseCodable {
        var count: Int
        var connectors: [ConnectorDescription]
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("connectors", use: connectors)
        group.get("sources", use: list)
        group.get("sources/:id", use: detail)
        group.get("sources/:id/health", use: health)
        group.requiring(.admin, environment).post("sources/:id/run", use: runNow)
    }

    @Sendable func connectors(_ request: Request, context: APIRequestContext) async throws -> ConnectorList {
        ConnectorList(count: environment.connectors.all.count, connectors: environment.connectors.all)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> SourceList {
        let states = try await statesByID()
        let now = environment.clock.nowMillis
        let sources = environment.catalog.all.map { dto($0, state: states[$0.id], now: now) }
        return SourceList(count: sources.count, sources: sources)
    }

    @Sendable func detail(_ request: Request, context: APIRequestContext) async throws -> SourceDTO {
        let id = try context.parameters.require("id")
        guard let source = environment.catalog.source(id: id) else {
            throw HTTPError(.notFound, message: "unknown source '\(id)'")
        }
        return dto(source, state: try await statesByID()[id], now: environment.clock.nowMillis)
    }

    @Sendable func health(_ request: Request, context: APIRequestContext) async throws -> HealthDTO {
        let id = try context.parameters.require("id")
        guard let source = environment.catalog.source(id: id) else {
            throw HTTPError(.notFound, message: "unknown source '\(id)'")
        }
        let now = environment.clock.nowMillis
        let environment = self.environment
        return try await recentHealth.value(for: id, now: now) {
            let (health, _) = try await FeedHealth.assess(
                source, store: environment.store, activity: environment.activity, now: now)
            return Self.healthDTO(source, assessment: health, now: now)
        }
    }

    static func healthDTO(_ source: SourceDefinition, assessment h: FeedHealth, now: Int64) -> HealthDTO {
        let id = source.id
        func window(_ w: FeedHealth.Window) -> WindowDTO {
            WindowDTO(runs: w.runs, successes: w.successes, uptime: w.uptime)
        }
        return HealthDTO(
            source: id, state: h.state.rawValue, reason: h.reason, lastHour: window(h.lastHour),
            lastDay: window(h.lastDay), latencyMs: h.latency, lastRunAt: h.lastRunAt.map(Timestamp.iso8601),
            lastRunStatus: h.lastRunStatus?.rawValue, lastSuccessAt: h.lastSuccessAt.map(Timestamp.iso8601),
            consecutiveFailures: h.consecutiveFailures,
            lastError: h.lastError.map {
                ErrorDTO(
                    at: Timestamp.iso8601($0.at), kind: $0.kind?.rawValue, message: $0.message,
                    httpStatus: $0.httpStatus
                )
            },
            contentHash: h.contentHash, contentSince: h.contentSince.map(Timestamp.iso8601),
            feedTimestamp: h.feedTimestamp.map(Timestamp.iso8601),
            feedAgeSeconds: h.feedTimestamp.map { Double(now - $0) / 1000 },
            staleAfterSeconds: Double(h.staleAfterMillis) / 1000)
    }

    @Sendable func runNow(_ request: Request, context: APIRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard environment.catalog.source(id: id) != nil else {
            throw HTTPError(.notFound, message: "unknown source '\(id)'")
        }
        guard let runNow = environment.runNow, let jobID = try await runNow(id) else {
            throw HTTPError(.conflict, message: "run now is not available in this process")
        }
        var response = try RunNowResponse(source: id, jobId: jobID).response(from: request, context: context)
        response.status = .accepted
        return response
    }

    private func statesByID() async throws -> [String: SourceState] {
        Dictionary(try await environment.store.sourceStates().map { ($0.sourceID, $0) }) { a, _ in a }
    }

    private func dto(_ source: SourceDefinition, state: SourceState?, now: Int64) -> SourceDTO {
        let age = state?.lastSuccessAt.map { Double(now - $0) / 1000 }
        let freshness: String
        if let lastSuccess = state?.lastSuccessAt {
            freshness = now - lastSuccess <= 2 * source.intervalMillis + source.timeoutMillis ? "fresh" : "late"
        } else {
            freshness = "never"
        }
        return SourceDTO(
            id: source.id, kind: source.kind.rawValue, urls: source.urls.map(Redaction.text), enabled: source.enabled,
            intervalSeconds: Double(source.intervalMillis) / 1000, timeoutSeconds: Double(source.timeoutMillis) / 1000,
            priority: source.priority, tags: source.tags, lastRunAt: state?.lastRunAt.map(Timestamp.iso8601),
            lastRunStatus: state?.lastRunStatus?.rawValue, lastSuccessAt: state?.lastSuccessAt.map(Timestamp.iso8601),
            lastError: state?.lastRunStatus == .failed ? state?.lastError.map(Redaction.text) : nil,
            nextRunAt: state?.nextRunAt.map(Timestamp.iso8601),
            feedTimestamp: state?.lastFeedTimestamp.map(Timestamp.iso8601), dataAgeSeconds: age, freshness: freshness,
            staticGtfs: source.staticGTFS.map { location in
                let entry = environment.transitNames.entry(source.id).flatMap { $0.location == location ? $0 : nil }
                return StaticGTFSDTO(
                    location: location,
                    status: entry?.lastError != nil ? "failed" : entry?.names != nil ? "loaded" : "pending",
                    stops: entry?.names?.stops.count, routes: entry?.names?.routes.count,
                    loadedAt: entry?.loadedAt.map(Timestamp.iso8601), lastError: entry?.lastError)
            })
    }
}
