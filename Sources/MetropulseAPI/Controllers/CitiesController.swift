import Foundation
import Hummingbird
import MetropulseCore
import NIOCore
import ServiceLifecycle

/// The city endpoints: `/api/cities`, `/api/cities/{city}/zones`,
/// `/api/cities/{city}/zones/{zone}/history`. What they answer is `CityBoard`'s.
struct CitiesController {
    let environment: APIEnvironment

    private var board: CityBoard { CityBoard(environment) }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("cities", use: cities)
        group.get("cities/:city/zones", use: zones)
        group.get("cities/:city/zones/:zone/history", use: history)
        group.get("cities/:city/zones/:zone/stats", use: stats)
        group.get("cities/:city/zones/:zone/features", use: features)
        group.get("cities/:city/risk", use: risk)
        group.get("cities/:city/forecast", use: forecast)
        group.get("cities/:city/alerts", use: alerts)
        group.get("cities/:city/stream", use: stream)
        let admin = group.requiring(.admin, environment)
        admin.post("cities/:city/alerts/:id/ack", use: acknowledge)
        admin.post("cities/:city/process", use: process)
    }

    @Sendable func cities(_ request: Request, context: APIRequestContext) async throws -> CityBoard.CityList {
        try await board.cities()
    }

    @Sendable func zones(_ request: Request, context: APIRequestContext) async throws -> CityBoard.ZoneList {
        try await board.zones(city: try context.parameters.require("city"), now: environment.clock.nowMillis)
    }

    @Sendable func features(_ request: Request, context: APIRequestContext) async throws -> CityLiveBoard.Features {
        try await CityLiveBoard(environment).features(
            city: try context.parameters.require("city"), zone: try context.parameters.require("zone"),
            now: environment.clock.nowMillis)
    }

    @Sendable func risk(_ request: Request, context: APIRequestContext) async throws -> CityLiveBoard.RiskList {
        try await CityLiveBoard(environment).risk(
            city: try context.parameters.require("city"), now: environment.clock.nowMillis)
    }

    @Sendable func forecast(_ request: Request, context: APIRequestContext) async throws
        -> CityLiveBoard.ForecastList
    {
        try await CityLiveBoard(environment).forecast(
            city: try context.parameters.require("city"), now: environment.clock.nowMillis)
    }

    @Sendable func alerts(_ request: Request, context: APIRequestContext) async throws -> CityLiveBoard.AlertList {
        try await CityLiveBoard(environment).alerts(
            city: try context.parameters.require("city"), state: request.query("state"),
            limit: try request.intQuery("limit", default: 100, range: 1...10_000))
    }

    /// Server-sent events of a city's readings as they are stored: `event: snapshot` with the
    /// latest reading of every zone and metric, then `event: readings` with each batch fetched
    /// since. Every event's `id` is the newest fetch time it holds; a client reconnecting with
    /// `Last-Event-ID` gets only what was fetched after it. A comment every 15 s keeps it open.
    @Sendable func stream(_ request: Request, context: APIRequestContext) async throws -> Response {
        let city = try context.parameters.require("city")
        try CityLiveBoard(environment).requireCity(city)
        let sources = ProcessCityJob.cities(environment.catalog)[city] ?? []
        let resume = try request.lastEventID(Int64.self)
        let streams = environment.streams
        try streams.admit()
        let (store, clock, from) = (environment.store, environment.clock, resume)
        return Response(
            status: .ok, headers: StreamLimiter.eventStreamHeaders,
            body: ResponseBody { writer in
                defer { streams.leave() }
                let encoder = APIRequestContext.jsonEncoder()
                var seen = from
                var quietSince = clock.nowMillis
                try await writer.write(ServerSentEvent.retry(3000))
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let now = clock.nowMillis
                    let latest = try await store.latestMeasurements(sourceIDs: sources, zone: nil)
                    let fresh = latest.filter { seen == nil || $0.fetchedAt > seen! }
                        .sorted {
                            ($0.fetchedAt, $0.value.zone, $0.value.metric) < (
                                $1.fetchedAt, $1.value.zone, $1.value.metric
                            )
                        }
                    if let newest = fresh.map(\.fetchedAt).max() {
                        let readings = CityBoard.LiveReadings(
                            city: city, count: fresh.count,
                            readings: fresh.map(CityBoard.LiveReading.init))
                        let event = try ServerSentEvent(
                            id: String(newest), event: seen == nil ? "snapshot" : "readings", json: readings,
                            encoder: encoder)
                        try await writer.write(event.buffer)
                        seen = newest
                        quietSince = now
                    } else {
                        if seen == nil { seen = 0 }
                        if now - quietSince >= 15_000 {
                            try await writer.write(ServerSentEvent.comment("keep-alive"))
                            quietSince = now
                        }
                    }
                    try? await Task.sleep(for: .seconds(1))
                }
                try await writer.finish(nil)
            })
    }

    @Sendable func acknowledge(_ request: Request, context: APIRequestContext) async throws
        -> CityLiveBoard.AlertDTO
    {
        let raw = try context.parameters.require("id")
        return try await CityLiveBoard(environment).acknowledge(
            city: try context.parameters.require("city"), id: raw.removingPercentEncoding ?? raw,
            by: context.apiKeyName)
    }

    @Sendable func process(_ request: Request, context: APIRequestContext) async throws -> Response {
        try CityLiveBoard(environment).requireCity(try context.parameters.require("city"))
        let action = try await JobBoard(environment).requestRun("process_city", by: context.apiKeyName)
        var response = try action.response(from: request, context: context)
        response.status = .accepted
        return response
    }

    @Sendable func stats(_ request: Request, context: APIRequestContext) async throws -> TrendBoard.ZoneStats {
        try await TrendBoard(environment).zoneStats(
            city: try context.parameters.require("city"), zone: try context.parameters.require("zone"),
            metric: request.query("metric"), since: try request.timeQuery("since"),
            until: try request.timeQuery("until"), now: environment.clock.nowMillis)
    }

    @Sendable func history(_ request: Request, context: APIRequestContext) async throws -> CityBoard.History {
        let city = try context.parameters.require("city")
        let zone = try context.parameters.require("zone")
        let since = try request.timeQuery("since")
        let limit = try request.intQuery("limit", default: 1_000, range: 1...100_000)
        return try await board.history(
            city: city, zone: zone, metric: request.query("metric"), since: since, limit: limit,
            now: environment.clock.nowMillis)
    }
}
