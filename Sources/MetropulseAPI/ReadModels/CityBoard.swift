package import Hummingbird
package import MetropulseCore

/// City sensors per zone as the pages and endpoints show them, read from the store: the cities,
/// the latest value of every metric of every zone, and a zone's history.
///
/// A city is the `city` tag of `city` and `json` sources; a zone is a `city` source's `zone` tag
/// (else its id), or the mapped id of a `json` record.
package struct CityBoard: Sendable {
    package let store: any ObservationStore
    package let catalog: SourceCatalog
    /// Kinds whose sources give readings per zone (their connectors say so).
    package let readingKinds: Set<SourceKind>
    /// Kinds that read one zone per source (its `zone` tag), among `readingKinds`.
    package let zoneTagKinds: Set<SourceKind>

    package init(store: any ObservationStore, catalog: SourceCatalog, connectors: ConnectorDescriptions) {
        self.store = store
        self.catalog = catalog
        self.readingKinds = connectors.kinds(producing: .measurements)
        self.zoneTagKinds = readingKinds.filter { !(connectors[$0]?.keys.contains("mapping") ?? false) }
    }

    package init(_ environment: APIEnvironment) {
        self.init(store: environment.store, catalog: environment.catalog, connectors: environment.connectors)
    }

    package struct ReadingDTO: ResponseCodable, Sendable {
        package var metric: String
        package var value: Double
        package var unit: String?
        package var source: String
        package var observedAt: String
        /// Seconds since the publisher's time for the value.
        package var ageSeconds: Double

        package init(_ stored: StoredValue<CityMeasurement>, now: Int64) {
            let m = stored.value
            metric = m.metric
            value = m.value
            unit = m.unit
            source = m.sourceID
            observedAt = Timestamp.iso8601(m.observedAt)
            ageSeconds = Double(now - m.observedAt) / 1000
        }
    }

    package struct ZoneDTO: ResponseCodable, Sendable {
        package var zone: String
        package var metrics: [ReadingDTO]
        /// Age of the zone's newest reading.
        package var dataAgeSeconds: Double?
    }

    package struct ZoneList: ResponseCodable, Sendable {
        package var city: String
        package var count: Int
        package var zones: [ZoneDTO]
        package var generatedAt: String
    }

    package struct History: ResponseCodable, Sendable {
        package var city: String
        package var zone: String
        package var metric: String?
        package var count: Int
        package var readings: [ReadingDTO]
    }

    package struct CityDTO: ResponseCodable, Sendable {
        package var city: String
        package var zones: [String]
        package var sources: [String]
    }

    package struct CityList: ResponseCodable, Sendable {
        package var count: Int
        package var cities: [CityDTO]
    }

    /// City sources by city.
    package var citySources: [String: [SourceDefinition]] {
        var cities: [String: [SourceDefinition]] = [:]
        for source in catalog.all where readingKinds.contains(source.kind) {
            cities[source.tags["city"] ?? "default", default: []].append(source)
        }
        return cities
    }

    /// Readings as the city stream sends them.
    package struct LiveReadings: Codable, Sendable {
        package var city: String
        package var count: Int
        package var readings: [LiveReading]
    }

    package struct LiveReading: Codable, Sendable {
        package var zone: String
        package var metric: String
        package var value: Double
        package var unit: String?
        package var source: String
        package var observedAt: String
        package var fetchedAt: String
        /// The task run that fetched it.
        package var runId: String

        package init(_ stored: StoredValue<CityMeasurement>) {
            zone = stored.value.zone
            metric = stored.value.metric
            value = stored.value.value
            unit = stored.value.unit
            source = stored.value.sourceID
            observedAt = Timestamp.iso8601(stored.value.observedAt)
            fetchedAt = Timestamp.iso8601(stored.fetchedAt)
            runId = stored.runID
        }
    }

    package func sources(of city: String) throws -> [SourceDefinition] {
        guard let sources = citySources[city] else {
            let known = citySources.keys.sorted().joined(separator: ", ")
            throw HTTPError(.notFound, message: "unknown city '\(city)' (known: \(known.isEmpty ? "none" : known))")
        }
        return sources
    }

    /// Zones known without reading the store: the `zone` tags of `city` sources and the zones of
    /// the cities those sources belong to (`cities:`). `json` records add their own ids as they come.
    package func declaredZones(_ sources: [SourceDefinition]) -> Set<String> {
        let tagged = sources.filter { zoneTagKinds.contains($0.kind) }.compactMap { $0.tags["zone"] }
        let configured = Set(sources.compactMap { $0.tags["city"] }).flatMap {
            catalog.city(id: $0)?.zones.map(\.id) ?? []
        }
        return Set(tagged + configured)
    }

    /// Every city with its zones and sources.
    package func cities() async throws -> CityList {
        var list: [CityDTO] = []
        for (city, sources) in citySources.sorted(by: { $0.key < $1.key }) {
            let seen = try await store.latestMeasurements(sourceIDs: sources.map(\.id), zone: nil)
            let zones = declaredZones(sources).union(seen.map(\.value.zone))
            list.append(CityDTO(city: city, zones: zones.sorted(), sources: sources.map(\.id).sorted()))
        }
        return CityList(count: list.count, cities: list)
    }

    /// The latest reading of every metric of every zone of `city`.
    package func zones(city: String, now: Int64) async throws -> ZoneList {
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
    package func history(city: String, zone: String, metric: String?, since: Int64?, limit: Int, now: Int64)
        async throws
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
