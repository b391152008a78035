import Hummingbird
import MetropulseCore

/// City sensors per zone as the pages and endpoints show them, read from the store: the cities,
/// the latest value of every metric of every zone, and a zone's history.
///
/// A city is the `city` tag of `city` and `json` sources; a zone is a `city` source's `zone` tag
/// (else its id), or the mapped id of a `json` record.
struct CityBoard: Sendable {
    let store: any ObservationStore
    let catalog: SourceCatalog
    /// Kinds whose sources give readings per zone (their connectors say so).
    let readingKinds: Set<SourceKind>
    /// Kinds that read one zone per source (its `zone` tag), among `readingKinds`.
    let zoneTagKinds: Set<SourceKind>

    init(store: any ObservationStore, catalog: SourceCatalog, connectors: ConnectorDescriptions) {
        self.store = store
        self.catalog = catalog
        self.readingKinds = connectors.kinds(producing: .measurements)
        self.zoneTagKinds = readingKinds.filter { !(connectors[$0]?.keys.contains("mapping") ?? false) }
    }

    init(_ environment: APIEnvironment) {
        self.init(store: environment.store, catalog: environment.catalog, connectors: environment.connectors)
    }

    struct ReadingDTO: ResponseCodable, Sendable {
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

    struct ZoneDTO: ResponseCodable, Sendable {
        var zone: String
        var metrics: [ReadingDTO]
        /// Age of the zone's newest reading.
        var dataAgeSeconds: Double?
    }

    struct ZoneList: ResponseCodable, Sendable {
        var city: String
        var count: Int
        var zones: [ZoneDTO]
        var generatedAt: String
    }

    struct History: ResponseCodable, Sendable {
        var city: String
        var zone: String
        var metric: String?
        var count: Int
        var readings: [ReadingDTO]
    }

    struct CityDTO: ResponseCodable, Sendable {
        var city: String
        var zones: [String]
        var sources: [String]
    }

    struct CityList: ResponseCodable, Sendable {
        var count: Int
        var cities: [CityDTO]
    }

    /// City sources by city.
    var citySources: [String: [SourceDefinition]] {
        var cities: [String: [SourceDefinition]] = [:]
        for source in catalog.all where readingKinds.contains(source.kind) {
            cities[source.tags["city"] ?? "default", default: []].append(source)
        }
        return cities
    }

    func sources(of city: String) throws -> [SourceDefinition] {
        guard let sources = citySources[city] else {
            let known = citySources.keys.sorted().joined(separator: ", ")
            throw HTTPError(.notFound, message: "unknown city '\(city)' (known: \(known.isEmpty ? "none" : known))")
        }
        return sources
    }

    /// Zones known without reading the store: the `zone` tags of `city` sources and the zones of
    /// the cities those sources belong to (`cities:`). `json` records add their own ids as they come.
    func declaredZones(_ sources: [SourceDefinition]) -> Set<String> {
        let tagged = sources.filter { zoneTagKinds.contains($0.kind) }.compactMap { $0.tags["zone"] }
        let configured = Set(sources.compactMap { $0.tags["city"] }).flatMap {
            catalog.city(id: $0)?.zones.map(\.id) ?? []
        }
        return Set(tagged + configured)
    }

    /// Every city with its zones and sources.
    func cities() async throws -> CityList {
        var list: [CityDTO] = []
        for (city, sources) in citySources.sorted(by: { $0.key < $1.key }) {
            let seen = try await store.latestMeasurements(sourceIDs: sources.map(\.id), zone: nil)
            let zones = declaredZones(sources).union(seen.map(\.value.zone))
            list.append(CityDTO(city: city, zones: zones.sorted(), sources: sources.map(\.id).sorted()))
        }
        return CityList(count: list.count, cities: list)
    }

    /// The latest reading of every metric of every zone of `city`.
    func zones(city: String, now: Int64) async throws -> ZoneList {
        let sources = try sources(of: city)
        let latest = try await store.latestMeasurements(sourceIDs: sources.map(\.id), zone: nil)
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

    /// A zone's readings, newest first (one metric, or all), since a time.
    func history(city: String, zone: String, metric: String?, since: Int64?, limit: Int, now: Int64) async throws
        -> History
    {
        let sources = try sources(of: city)
        let ids = sources.map(\.id)
        var known = declaredZones(sources).contains(zone)
        if !known { known = try await !store.latestMeasurements(sourceIDs: ids, zone: zone).isEmpty }
        guard known else {
            throw HTTPError(.notFound, message: "unknown zone '\(zone)' in city '\(city)'")
        }
        let readings = try await store.measurementHistory(
            sourceIDs: ids, zone: zone, metric: metric, since: since, limit: limit)
        return History(
            city: city, zone: zone, metric: metric, count: readings.count,
            readings: readings.map { ReadingDTO($0, now: now) })
    }
}
