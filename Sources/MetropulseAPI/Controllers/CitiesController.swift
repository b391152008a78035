import Hummingbird
import MetropulseCore

/// City sensors per zone, read from the store: the latest value of every metric of every zone,
/// and a zone's history. A city is the `city` tag of `city` and `json` sources; a zone is a
/// `city` source's `zone` tag (else its id), or the mapped id of a `json` record.
struct CitiesController {
    let environment: APIEnvironment

    struct ReadingDTO: ResponseEncodable {
        var metric: String
        var value: Double
        var unit: String?
        var source: String
        var observedAt: String
        /// Seconds since the publisher's time for the value.
        var ageSeconds: Double

        init(_ stored: StoredValue<CityMeasurement>, now: Int64) {
            let m = stored.value
            metric = m.metric
            value = m.value
            unit = m.unit
            source = m.sourceID
            observedAt = Timestamp.iso8601(m.observedAt)
            ageSeconds = Double(now - m.observedAt) / 1000
        }
    }

    struct ZoneDTO: ResponseEncodable {
        var zone: String
        var metrics: [ReadingDTO]
        /// Age of the zone's newest reading.
        var dataAgeSeconds: Double?
    }

    struct ZoneList: ResponseEncodable {
        var city: String
        var count: Int
        var zones: [ZoneDTO]
        var generatedAt: String
    }

    struct History: ResponseEncodable {
        var city: String
        var zone: String
        var metric: String?
        var count: Int
        var readings: [ReadingDTO]
    }

    struct CityDTO: ResponseEncodable {
        var city: String
        var zones: [String]
        var sources: [String]
    }

    struct CityList: ResponseEncodable {
        var count: Int
        var cities: [CityDTO]
    }

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.get("cities", use: cities)
        group.get("cities/:city/zones", use: zones)
        group.get("cities/:city/zones/:zone/history", use: history)
    }

    /// City sources by city.
    private var citySources: [String: [SourceDefinition]] {
        var cities: [String: [SourceDefinition]] = [:]
        for source in environment.catalog.all where source.kind == .city || source.kind == .json {
            cities[source.tags["city"] ?? "default", default: []].append(source)
        }
        return cities
    }

    private func sources(of city: String) throws -> [SourceDefinition] {
        guard let sources = citySources[city] else {
            let known = citySources.keys.sorted().joined(separator: ", ")
            throw HTTPError(.notFound, message: "unknown city '\(city)' (known: \(known.isEmpty ? "none" : known))")
        }
        return sources
    }

    /// Zones known without reading the store: the `zone` tags of `city` sources and the zones of
    /// the cities those sources belong to (`cities:`). `json` records add their own ids as they come.
    private func declaredZones(_ sources: [SourceDefinition]) -> Set<String> {
        let tagged = sources.filter { $0.kind == .city }.compactMap { $0.tags["zone"] }
        let configured = Set(sources.compactMap { $0.tags["city"] }).flatMap {
            environment.catalog.city(id: $0)?.zones.map(\.id) ?? []
        }
        return Set(tagged + configured)
    }

    @Sendable func cities(_ request: Request, context: APIRequestContext) async throws -> CityList {
        var list: [CityDTO] = []
        for (city, sources) in citySources.sorted(by: { $0.key < $1.key }) {
            let seen = try await environment.store.latestMeasurements(sourceIDs: sources.map(\.id), zone: nil)
            let zones = declaredZones(sources).union(seen.map(\.value.zone))
            list.append(CityDTO(city: city, zones: zones.sorted(), sources: sources.map(\.id).sorted()))
        }
        return CityList(count: list.count, cities: list)
    }

    @Sendable func zones(_ request: Request, context: APIRequestContext) async throws -> ZoneList {
        let city = try context.parameters.require("city")
        let sources = try sources(of: city)
        let now = environment.clock.nowMillis
        let latest = try await environment.store.latestMeasurements(sourceIDs: sources.map(\.id), zone: nil)
        var byZone = Dictionary(
            uniqueKeysWithValues: declaredZones(sources).map { ($0, [StoredValue<CityMeasurement>]()) })
        for reading in latest { byZone[reading.value.zone, default: []].append(reading) }
        let zones = byZone.sorted { $0.key < $1.key }.map { zone, readings in
            ZoneDTO(
                zone: zone, metrics: readings.map { ReadingDTO($0, now: now) },
                dataAgeSeconds: readings.map(\.value.observedAt).max().map { Double(now - $0) / 1000 })
        }
        return ZoneList(city: city, count: zones.count, zones: zones, generatedAt: Timestamp.iso8601(now))
    }

    @Sendable func history(_ request: Request, context: APIRequestContext) async throws -> History {
        let city = try context.parameters.require("city")
        let zone = try context.parameters.require("zone")
        let sources = try sources(of: city)
        let ids = sources.map(\.id)
        var known = declaredZones(sources).contains(zone)
        if !known { known = try await !environment.store.latestMeasurements(sourceIDs: ids, zone: zone).isEmpty }
        guard known else {
            throw HTTPError(.notFound, message: "unknown zone '\(zone)' in city '\(city)'")
        }
        let metric = request.query("metric")
        let since = try request.timeQuery("since")
        let limit = try request.intQuery("limit", default: 1_000, range: 1...100_000)
        let now = environment.clock.nowMillis
        let readings = try await environment.store.measurementHistory(
            sourceIDs: ids, zone: zone, metric: metric, since: since, limit: limit)
        return History(
            city: city, zone: zone, metric: metric, count: readings.count,
            readings: readings.map { ReadingDTO($0, now: now) })
    }
}
