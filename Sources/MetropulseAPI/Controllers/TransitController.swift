import Hummingbird
import MetropulseCore

/// The transit endpoints: `/api/lines`, `/api/snapshots/{network}/{line}`, `/api/traffic/status`,
/// `/api/stops/{id}/departures`, `/api/vehicles`. What they answer is `TransitBoard`'s.
struct TransitController {
    let environment: APIEnvironment

    private var board: TransitBoard { TransitBoard(environment) }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("lines", use: lines)
        group.get("snapshots/:network/:line", use: snapshot)
        group.get("lines/:network/:line/punctuality", use: punctuality)
        group.get("traffic/status", use: traffic)
        group.get("stops/:id/departures", use: stopDepartures)
        group.get("vehicles", use: vehicles)
    }

    @Sendable func lines(_ request: Request, context: APIRequestContext) async throws -> TransitBoard.LineList {
        try await board.lines(now: environment.clock.nowMillis)
    }

    /// The board of a line. Like `/api/stations`, each answer is encoded once per ten seconds and per
    /// stored run of the network's sources, then served as bytes with its ETag.
    @Sendable func snapshot(_ request: Request, context: APIRequestContext) async throws -> Response {
        let network = try context.parameters.require("network")
        let line = try context.parameters.require("line")
        let perStop = try QueryValues(request).int("per_stop", default: 3, range: 1...50)
        let (environment, clock) = (self.environment, environment.clock)
        let sources = try environment.networkSources.sources(in: network, catalog: environment.catalog) {
            environment.connectors.kinds(producing: .transit)
        }
        let marker = try await environment.sourceMarks.marker(
            of: environment.store, scope: "network:" + network, sources: { sources.contains($0) }, now: clock.nowMillis)
        let key = [network, line, String(perStop)].joined(separator: "|")
        let answer = try await environment.lineAnswers.value(for: key, marker: marker, now: clock.nowMillis) {
            try EncodedAnswer(
                await TransitBoard(environment).snapshot(
                    network: network, line: line, perStop: perStop, now: clock.nowMillis))
        }
        return answer.response(to: request)
    }

    @Sendable func punctuality(_ request: Request, context: APIRequestContext) async throws
        -> TrendBoard.Punctuality
    {
        try await TrendBoard(environment).punctuality(
            network: try context.parameters.require("network"), line: try context.parameters.require("line"),
            since: try request.timeQuery("since"), until: try request.timeQuery("until"),
            now: environment.clock.nowMillis)
    }

    @Sendable func traffic(_ request: Request, context: APIRequestContext) async throws -> TransitBoard.TrafficStatus {
        try await board.traffic(network: request.query("network"), now: environment.clock.nowMillis)
    }

    @Sendable func stopDepartures(_ request: Request, context: APIRequestContext) async throws
        -> TransitBoard.DepartureList
    {
        let stop = try context.parameters.require("id")
        let limit = try request.intQuery("limit", default: 20, range: 1...500)
        return try await board.departures(
            stop: stop, network: request.query("network"), limit: limit, now: environment.clock.nowMillis)
    }

    @Sendable func vehicles(_ request: Request, context: APIRequestContext) async throws -> TransitBoard.VehicleList {
        try await board.vehicles(
            network: request.query("network"), line: request.query("line"), now: environment.clock.nowMillis)
    }
}
