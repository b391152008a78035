import Foundation
import Hummingbird
import MetropulseCore

/// The station endpoints: `/api/stations`, `/api/stations/{source}/{id}` and its `/history`.
/// What they answer is `StationBoard`'s.
struct StationsController {
    let environment: APIEnvironment

    private var board: StationBoard { StationBoard(environment) }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("stations", use: list)
        group.get("stations/:source/:id", use: detail)
        group.get("stations/:source/:id/history", use: history)
        group.get("stations/:source/:id/stats", use: stats)
        group.get("stations/:source/:id/forecast", use: forecast)
        group.get("rankings/stations", use: ranking)
    }

    @Sendable func list(_ request: Request, context: APIRequestContext) async throws -> Response {
        // Parsed once: this answer is asked thousands of times a second.
        let query = QueryValues(request)
        var near: GeoPoint?
        if let text = query.string("near") {
            let parts = text.split(separator: ",").map { Double($0.trimmingSpaces) }
            guard parts.count == 2, let lat = parts[0], let lon = parts[1], (-90...90).contains(lat),
                (-180...180).contains(lon)
            else {
                throw HTTPError(.badRequest, message: "near must be 'lat,lon' in degrees, e.g. near=48.8566,2.3522")
            }
            near = GeoPoint(latitude: lat, longitude: lon)
        }
        let radius = try query.double("radius_m")
        if let radius {
            guard near != nil else { throw HTTPError(.badRequest, message: "radius_m needs near=lat,lon") }
            guard radius > 0, radius <= 200_000 else {
                throw HTTPError(.badRequest, message: "radius_m must be between 0 and 200000 meters")
            }
        }
        let limit = try query.int("limit", default: 5000, range: 1...50_000)
        let source = query.string("source")
        // A city app asks the same few questions thousands of times a second: each answer is
        // encoded once per stored run of its sources (and every ten seconds without one, for its
        // times), then served as bytes.
        let marker = try await environment.sourceMarks.marker(
            of: environment.store, scope: source.map { "source:" + $0 } ?? "*",
            sources: source.map { wanted in { $0 == wanted } }, now: environment.clock.nowMillis)
        // The parameters as given (each spelling of a point is its own entry, which is harmless).
        let key = [source ?? "*", query.string("near") ?? "", query.string("radius_m") ?? "", String(limit)]
            .joined(separator: "|")
        let (board, clock, point) = (self.board, environment.clock, near)
        let answer = try await environment.stationAnswers.value(for: key, marker: marker, now: clock.nowMillis) {
            try EncodedAnswer(
                await board.stations(
                    source: source, near: point, radiusMeters: radius, limit: limit, now: clock.nowMillis))
        }
        return answer.response(to: request)
    }

    @Sendable func detail(_ request: Request, context: APIRequestContext) async throws -> StationBoard.StationDetail {
        let source = try context.parameters.require("source")
        let id = try context.parameters.require("id")
        return try await board.station(source: source, id: id, now: environment.clock.nowMillis)
    }

    @Sendable func history(_ request: Request, context: APIRequestContext) async throws
        -> StationBoard.StationHistory
    {
        let source = try context.parameters.require("source")
        let id = try context.parameters.require("id")
        let since = try request.timeQuery("since")
        let until = try request.timeQuery("until")
        if let since, let until, since > until {
            throw HTTPError(.badRequest, message: "since must not be after until")
        }
        let limit = try request.intQuery("limit", default: 1000, range: 1...100_000)
        return try await board.history(
            source: source, id: id, since: since, until: until, limit: limit, now: environment.clock.nowMillis)
    }

    @Sendable func stats(_ request: Request, context: APIRequestContext) async throws -> StationBoard.StationStats {
        let source = try context.parameters.require("source")
        let id = try context.parameters.require("id")
        let granularity = try request.enumQuery("granularity", as: StationBoard.Granularity.self) ?? .hour
        let since = try request.timeQuery("since")
        let until = try request.timeQuery("until")
        if let since, let until, since > until {
            throw HTTPError(.badRequest, message: "since must not be after until")
        }
        let limit = try request.intQuery("limit", default: 1000, range: 1...100_000)
        return try await board.stats(
            source: source, id: id, granularity: granularity, since: since, until: until, limit: limit,
            aggregates: environment.store, now: environment.clock.nowMillis)
    }

    @Sendable func forecast(_ request: Request, context: APIRequestContext) async throws
        -> StationBoard.StationForecast
    {
        try await StationBoard(environment).forecast(
            source: try context.parameters.require("source"), id: try context.parameters.require("id"),
            aggregates: environment.store, now: environment.clock.nowMillis)
    }

    @Sendable func ranking(_ request: Request, context: APIRequestContext) async throws -> StationBoard.Ranking {
        guard let source = request.query("source") else {
            throw HTTPError(.badRequest, message: "source is required: the stations of which source to rank")
        }
        let order = try request.enumQuery("by", as: StationRank.Order.self) ?? .empty
        let limit = try request.intQuery("limit", default: 20, range: 1...10_000)
        return try await board.ranking(source: source, by: order, limit: limit, aggregates: environment.store)
    }
}
