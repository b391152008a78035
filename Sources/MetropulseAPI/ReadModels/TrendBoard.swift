package import Hummingbird
package import MetropulseCore

/// The gold tier's line and zone hours as `/api/lines/{network}/{line}/punctuality` and
/// `/api/cities/{city}/zones/{zone}/stats` show them.
package struct TrendBoard: Sendable {
    package let environment: APIEnvironment

    package init(_ environment: APIEnvironment) {
        self.environment = environment
    }

    package struct LineHourDTO: Codable, Sendable {
        package var hour: String
        package var source: String
        package var departures: Int
        package var withDelay: Int
        package var cancelled: Int
        package var delayMeanSeconds: Double?
        package var delayP90Seconds: Double?
        package var onTimeShare: Double?
    }

    package struct Punctuality: ResponseCodable, Sendable {
        package var network: String
        package var line: String
        package var since: String
        package var until: String
        /// Over the window: departures, with a delay, cancelled, the mean delay (weighted by the
        /// hours' departures with a delay) and the share on time.
        package var departures: Int
        package var withDelay: Int
        package var cancelled: Int
        package var delayMeanSeconds: Double?
        package var onTimeShare: Double?
        /// What "on time" means, in seconds: from `on_time_from` to under `on_time_until`.
        package var onTimeFrom: Int
        package var onTimeUntil: Int
        package var count: Int
        package var hours: [LineHourDTO]
    }

    package struct ZoneHourDTO: Codable, Sendable {
        package var hour: String
        package var source: String
        package var metric: String
        package var unit: String?
        package var readings: Int
        package var mean: Double
        package var min: Double
        package var max: Double
    }

    package struct ZoneStats: ResponseCodable, Sendable {
        package var city: String
        package var zone: String
        package var metric: String?
        package var since: String
        package var until: String
        package var count: Int
        package var hours: [ZoneHourDTO]
    }

    /// Without `since`, the last 24 hours; `until` defaults to now.
    static func window(since: Int64?, until: Int64?, now: Int64) throws -> (Int64, Int64) {
        let until = until ?? now
        let since = since ?? until - 24 * 3_600_000
        guard since <= until else { throw HTTPError(.badRequest, message: "since must not be after until") }
        return (since, until)
    }

    package func punctuality(network: String, line: String, since: Int64?, until: Int64?, now: Int64) async throws
        -> Punctuality
    {
        let sources = try TransitBoard.Networks(
            environment.catalog, kinds: environment.connectors.kinds(producing: .transit)
        )
        .sources(in: network)
        let (from, to) = try Self.window(since: since, until: until, now: now)
        let rows = try await environment.store.lineHours(
            sourceIDs: sources, routeID: line, since: StationHours.hour(of: from), until: to, limit: 10_000)
        let withDelay = rows.reduce(0) { $0 + $1.withDelay }
        let delaySum = rows.reduce(0.0) { $0 + ($1.delayMean ?? 0) * Double($1.withDelay) }
        let onTime = rows.reduce(0.0) { $0 + ($1.onTimeShare ?? 0) * Double($1.withDelay) }
        return Punctuality(
            network: network, line: line, since: Timestamp.iso8601(from), until: Timestamp.iso8601(to),
            departures: rows.reduce(0) { $0 + $1.departures }, withDelay: withDelay,
            cancelled: rows.reduce(0) { $0 + $1.cancelled },
            delayMeanSeconds: withDelay == 0 ? nil : delaySum / Double(withDelay),
            onTimeShare: withDelay == 0 ? nil : onTime / Double(withDelay), onTimeFrom: LineHours.onTime.lowerBound,
            onTimeUntil: LineHours.onTime.upperBound, count: rows.count,
            hours: rows.map {
                LineHourDTO(
                    hour: Timestamp.iso8601($0.hour), source: $0.sourceID, departures: $0.departures,
                    withDelay: $0.withDelay, cancelled: $0.cancelled, delayMeanSeconds: $0.delayMean,
                    delayP90Seconds: $0.delayP90, onTimeShare: $0.onTimeShare)
            })
    }

    package func zoneStats(city: String, zone: String, metric: String?, since: Int64?, until: Int64?, now: Int64)
        async throws -> ZoneStats
    {
        let board = CityBoard(environment)
        let sources = try board.sources(of: city)
        let ids = sources.map(\.id)
        var known = board.declaredZones(sources).contains(zone)
        if !known { known = try await !environment.store.latestMeasurements(sourceIDs: ids, zone: zone).isEmpty }
        guard known else { throw HTTPError(.notFound, message: "unknown zone '\(zone)' in city '\(city)'") }
        let (from, to) = try Self.window(since: since, until: until, now: now)
        let rows = try await environment.store.zoneHours(
            sourceIDs: ids, zone: zone, metric: metric, since: StationHours.hour(of: from), until: to, limit: 50_000)
        return ZoneStats(
            city: city, zone: zone, metric: metric, since: Timestamp.iso8601(from), until: Timestamp.iso8601(to),
            count: rows.count,
            hours: rows.map {
                ZoneHourDTO(
                    hour: Timestamp.iso8601($0.hour), source: $0.sourceID, metric: $0.metric, unit: $0.unit,
                    readings: $0.readings, mean: $0.mean, min: $0.min, max: $0.max)
            })
    }
}
