import Hummingbird
import MetropulseCore

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
    }

    @Sendable func cities(_ request: Request, context: APIRequestContext) async throws -> CityBoard.CityList {
        try await board.cities()
    }

    @Sendable func zones(_ request: Request, context: APIRequestContext) async throws -> CityBoard.ZoneList {
        try await board.zones(city: try context.parameters.require("city"), now: environment.clock.nowMillis)
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
