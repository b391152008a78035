package import Hummingbird
package import MetropulseCore
import Synchronization

/// Transit as the pages and endpoints show it, read from the store (never fetched on demand):
/// lines with their traffic status, a line's stops with their next departures, disruptions per
/// line, departures at a stop, vehicles. The JSON controller, the HTML pages, live streams and
/// exports all ask this read model, so they agree.
///
/// A network is a source's `network` tag (or, without one, the source id); a line is a route id.
package struct TransitBoard: Sendable {
    package let store: any ObservationStore
    package let catalog: SourceCatalog
    /// Stop and line names from the sources' static GTFS, as loaded.
    package let names: TransitNameBook
    /// Kinds whose sources carry transit data (their connectors say so).
    package let transitKinds: Set<SourceKind>

    package init(
        store: any ObservationStore, catalog: SourceCatalog, names: TransitNameBook, transitKinds: Set<SourceKind>
    ) {
        self.store = store
        self.catalog = catalog
        self.names = names
        self.transitKinds = transitKinds
    }

    package init(_ environment: APIEnvironment) {
        self.init(
            store: environment.store, catalog: environment.catalog, names: environment.transitNames,
            transitKinds: environment.connectors.kinds(producing: .transit))
    }

    package struct LineDTO: ResponseCodable, Sendable {
        package var network: String
        package var line: String
        /// From the static GTFS (`static_gtfs`), when the source has one: the short name riders
        /// know, the long name, the colour.
        package var name: String?
        package var longName: String?
        package var color: String?
        /// `normal`, or `disrupted` when an active disruption names the line.
        package var status: String
        /// The most serious active effect (`no_service` first), if any.
        package var effect: String?
        package var activeDisruptions: Int
        package var departures: Int
        package var vehicles: Int
    }

    package struct LineList: ResponseCodable, Sendable {
        package var count: Int
        package var lines: [LineDTO]
        package var generatedAt: String
    }

    package struct DepartureDTO: ResponseCodable, Sendable {
        package var source: String
        package var stopId: String
        /// From the static GTFS, when the source has one.
        package var stopName: String?
        package var stopSequence: Int?
        package var line: String?
        package var lineName: String?
        package var tripId: String?
        package var directionId: Int?
        package var vehicleId: String?
        package var scheduledAt: String?
        package var expectedAt: String?
        package var delaySeconds: Int?
        package var relationship: String
        /// Minutes from now to the passage (negative: just passed).
        package var inMinutes: Double?
        package var observedAt: String
        /// Seconds since the feed produced this prediction.
        package var dataAgeSeconds: Double

        package init(_ stored: StoredValue<Departure>, now: Int64, names: TransitNameBook) {
            let d = stored.value
            source = d.sourceID
            stopId = d.stopID
            stopName = names.stopName(source: d.sourceID, stop: d.stopID)
            stopSequence = d.stopSequence
            line = d.routeID
            lineName = names.route(source: d.sourceID, route: d.routeID)?.name
            tripId = d.tripID
            directionId = d.directionID
            vehicleId = d.vehicleID
            scheduledAt = d.scheduledAt.map(Timestamp.iso8601)
            expectedAt = d.expectedAt.map(Timestamp.iso8601)
            delaySeconds = d.delaySeconds
            relationship = d.relationship
            inMinutes = d.at.map { (Double($0 - now) / 60_000 * 10).rounded() / 10 }
            observedAt = Timestamp.iso8601(d.observedAt)
            dataAgeSeconds = Double(now - d.observedAt) / 1000
        }
    }

    package struct StopDepartures: ResponseCodable, Sendable {
        package var stopId: String
        package var stopName: String?
        package var departures: [DepartureDTO]
    }

    package struct LineSnapshot: ResponseCodable, Sendable {
        package var network: String
        package var line: String
        package var name: String?
        package var status: String
        package var stops: [StopDepartures]
        /// Seconds since the newest prediction of the line was produced; nil without any.
        package var dataAgeSeconds: Double?
        package var fetchedAt: String?
        package var generatedAt: String
    }

    package struct DisruptionDTO: ResponseCodable, Sendable {
        package var source: String
        package var id: String
        package var cause: String?
        package var effect: String?
        package var severity: String?
        package var header: String?
        package var details: String?
        package var url: String?
        package var activePeriods: [PeriodDTO]
        package var lines: [String]
        package var stops: [String]
        package var active: Bool

        package init(_ d: Disruption, now: Int64) {
            source = d.sourceID
            id = d.id
            cause = d.cause
            effect = d.effect
            severity = d.severity
            header = d.header
            details = d.details
            url = d.url
            activePeriods = d.periods.map {
                PeriodDTO(start: $0.start.map(Timestamp.iso8601), end: $0.end.map(Timestamp.iso8601))
            }
            lines = d.routeIDs
            stops = Array(Set(d.entities.compactMap(\.stopID))).sorted()
            active = d.isActive(at: now)
        }
    }

    package struct PeriodDTO: ResponseCodable, Sendable {
        package var start: String?
        package var end: String?
    }

    package struct LineTraffic: ResponseCodable, Sendable {
        package var network: String
        package var line: String
        package var status: String
        package var disruptions: [DisruptionDTO]
    }

    package struct TrafficStatus: ResponseCodable, Sendable {
        package var lines: [LineTraffic]
        /// Active disruptions that name no line (a whole network, an agency, a stop).
        package var other: [DisruptionDTO]
        package var generatedAt: String
    }

    package struct DepartureList: ResponseCodable, Sendable {
        package var stopId: String
        package var stopName: String?
        package var count: Int
        package var departures: [DepartureDTO]
        package var generatedAt: String
    }

    package struct VehicleDTO: ResponseCodable, Sendable {
        package var source: String
        package var network: String
        package var vehicleId: String
        package var label: String?
        package var line: String?
        package var lineName: String?
        package var tripId: String?
        package var lat: Double
        package var lon: Double
        package var bearing: Double?
        package var speed: Double?
        package var stopId: String?
        package var currentStatus: String?
        package var observedAt: String
        package var dataAgeSeconds: Double
    }

    package struct VehicleList: ResponseCodable, Sendable {
        package var count: Int
        package var vehicles: [VehicleDTO]
        package var generatedAt: String
    }

    /// The transit networks' sources, made once per version of the catalog: a line board asked
    /// thousands of times a second needs its network's sources at each request.
    final class NetworkSources: Sendable {
        private let kept = Mutex<(version: Int, sources: [String: Set<String>])?>(nil)

        /// The sources of `network` (a 404 naming the known networks when there is none).
        func sources(in network: String, catalog: SourceCatalog, kinds: () -> Set<SourceKind>) throws -> Set<String> {
            let version = catalog.versioned.version
            if let kept = kept.withLock({ $0 }), kept.version == version {
                if let found = kept.sources[network] { return found }
            }
            let networks = Networks(catalog, kinds: kinds())
            let found = Set(try networks.sources(in: network))
            kept.withLock { $0 = (version, networks.sources.mapValues { Set($0) }) }
            return found
        }
    }

    /// The transit sources by network and each source's network, read from the catalogue once
    /// per request.
    package struct Networks {
        private(set) var sources: [String: [String]] = [:]
        private var networkOf: [String: String] = [:]

        package init(_ catalog: SourceCatalog, kinds: Set<SourceKind>) {
            for source in catalog.all where kinds.contains(source.kind) {
                let network = source.tags["network"] ?? source.id
                sources[network, default: []].append(source.id)
                networkOf[source.id] = network
            }
        }

        package func network(of sourceID: String) -> String { networkOf[sourceID] ?? sourceID }

        package func sources(in network: String) throws -> [String] {
            guard let found = sources[network] else {
                let known = sources.keys.sorted().joined(separator: ", ")
                throw HTTPError(
                    .notFound, message: "unknown network '\(network)' (known: \(known.isEmpty ? "none" : known))")
            }
            return found
        }

        /// The sources of `network`, else of every network.
        package func sources(network: String?) throws -> [String] {
            if let network { return try sources(in: network) }
            return sources.values.flatMap { $0 }
        }
    }

    /// Effects from most to least serious.
    package static let effectRank = [
        "no_service", "reduced_service", "significant_delays", "detour", "modified_service", "stop_moved",
        "accessibility_issue", "additional_service", "other_effect", "unknown_effect", "no_effect",
    ]

    private static func worst(_ disruptions: [Disruption]) -> String? {
        disruptions.compactMap(\.effect).min {
            (effectRank.firstIndex(of: $0) ?? 99) < (effectRank.firstIndex(of: $1) ?? 99)
        }
    }

    /// A line of a network: a key that holds any two strings, empty ones included.
    package struct LineKey: Hashable, Comparable {
        package var network: String
        package var line: String

        package static func < (a: LineKey, b: LineKey) -> Bool { (a.network, a.line) < (b.network, b.line) }
    }

    /// Active disruptions per (network, line).
    private static func activeByLine(
        _ disruptions: [StoredValue<Disruption>], networks: Networks, now: Int64
    ) -> [LineKey: [Disruption]] {
        var byLine: [LineKey: [Disruption]] = [:]
        for d in disruptions.map(\.value) where d.isActive(at: now) {
            for route in d.routeIDs {
                byLine[LineKey(network: networks.network(of: d.sourceID), line: route), default: []].append(d)
            }
        }
        return byLine
    }

    /// Every line seen in departures, vehicles or active disruptions, with its traffic status.
    package func lines(now: Int64) async throws -> LineList {
        let networks = Networks(catalog, kinds: transitKinds)
        let sourceIDs = networks.sources.values.flatMap { $0 }
        async let departures = store.departures(
            DepartureQuery(sourceIDs: sourceIDs, from: now - 60_000, limit: 100_000))
        async let vehicles = store.vehicles(sourceIDs: sourceIDs, routeID: nil)
        async let disruptions = store.disruptions(sourceIDs: sourceIDs)
        var counts: [LineKey: (departures: Int, vehicles: Int)] = [:]
        for d in try await departures {
            if let r = d.value.routeID {
                counts[LineKey(network: networks.network(of: d.value.sourceID), line: r), default: (0, 0)].departures +=
                    1
            }
        }
        for v in try await vehicles {
            if let r = v.value.routeID {
                counts[LineKey(network: networks.network(of: v.value.sourceID), line: r), default: (0, 0)].vehicles += 1
            }
        }
        let active = Self.activeByLine(try await disruptions, networks: networks, now: now)
        for key in active.keys where counts[key] == nil { counts[key] = (0, 0) }
        let lines = counts.sorted { $0.key < $1.key }.map { key, count -> LineDTO in
            let alerts = active[key] ?? []
            let route = names.route(sources: networks.sources[key.network] ?? [], route: key.line)
            return LineDTO(
                network: key.network, line: key.line, name: route?.name, longName: route?.longName, color: route?.color,
                status: alerts.isEmpty ? "normal" : "disrupted",
                effect: Self.worst(alerts), activeDisruptions: alerts.count, departures: count.departures,
                vehicles: count.vehicles)
        }
        return LineList(count: lines.count, lines: lines, generatedAt: Timestamp.iso8601(now))
    }

    /// A line's stops in order, with their next `perStop` departures.
    package func snapshot(network: String, line: String, perStop limit: Int, now: Int64) async throws -> LineSnapshot {
        let networks = Networks(catalog, kinds: transitKinds)
        let sources = try networks.sources(in: network)
        let departures = try await store.departures(
            DepartureQuery(sourceIDs: sources, routeID: line, from: now - 60_000, limit: 100_000))
        var stops: [String: [StoredValue<Departure>]] = [:]
        for d in departures { stops[d.value.stopID, default: []].append(d) }
        let ordered = stops.sorted { a, b in
            let sa = a.value.compactMap(\.value.stopSequence).min() ?? Int.max
            let sb = b.value.compactMap(\.value.stopSequence).min() ?? Int.max
            return (sa, a.key) < (sb, b.key)
        }
        let active = Self.activeByLine(
            try await store.disruptions(sourceIDs: sources), networks: networks, now: now)
        let newest = departures.map(\.value.observedAt).max()
        return LineSnapshot(
            network: network, line: line, name: names.route(sources: sources, route: line)?.name,
            status: active[LineKey(network: network, line: line)] == nil ? "normal" : "disrupted",
            stops: ordered.map {
                StopDepartures(
                    stopId: $0.key, stopName: names.stopName(sources: sources, stop: $0.key),
                    departures: $0.value.prefix(limit).map { DepartureDTO($0, now: now, names: names) })
            },
            dataAgeSeconds: newest.map { Double(now - $0) / 1000 },
            fetchedAt: departures.map(\.fetchedAt).max().map(Timestamp.iso8601), generatedAt: Timestamp.iso8601(now))
    }

    /// The lines with active disruptions, and the active disruptions that name no line.
    package func traffic(network: String?, now: Int64) async throws -> TrafficStatus {
        let networks = Networks(catalog, kinds: transitKinds)
        let disruptions = try await store.disruptions(sourceIDs: try networks.sources(network: network))
        let active = Self.activeByLine(disruptions, networks: networks, now: now)
        let lines = active.sorted { $0.key < $1.key }.map { key, alerts -> LineTraffic in
            LineTraffic(
                network: key.network, line: key.line, status: "disrupted",
                disruptions: alerts.map { DisruptionDTO($0, now: now) })
        }
        let other = disruptions.map(\.value).filter { $0.isActive(at: now) && $0.routeIDs.isEmpty }
        return TrafficStatus(
            lines: lines, other: other.map { DisruptionDTO($0, now: now) }, generatedAt: Timestamp.iso8601(now))
    }

    /// The next departures at a stop (of one network, or of all).
    package func departures(stop: String, network: String?, limit: Int, now: Int64) async throws -> DepartureList {
        let sources = try Networks(catalog, kinds: transitKinds).sources(network: network)
        let departures = try await store.departures(
            DepartureQuery(sourceIDs: sources, stopID: stop, from: now - 60_000, limit: limit))
        return DepartureList(
            stopId: stop, stopName: names.stopName(sources: sources, stop: stop), count: departures.count,
            departures: departures.map { DepartureDTO($0, now: now, names: names) },
            generatedAt: Timestamp.iso8601(now))
    }

    /// The vehicles of a network (or all), of one line if given.
    package func vehicles(network: String?, line: String?, now: Int64) async throws -> VehicleList {
        let networks = Networks(catalog, kinds: transitKinds)
        let vehicles = try await store.vehicles(sourceIDs: try networks.sources(network: network), routeID: line)
        let list = vehicles.map(\.value).map { v in
            VehicleDTO(
                source: v.sourceID, network: networks.network(of: v.sourceID), vehicleId: v.vehicleID, label: v.label,
                line: v.routeID, lineName: names.route(source: v.sourceID, route: v.routeID)?.name,
                tripId: v.tripID, lat: v.latitude, lon: v.longitude, bearing: v.bearing,
                speed: v.speed,
                stopId: v.stopID, currentStatus: v.currentStatus, observedAt: Timestamp.iso8601(v.observedAt),
                dataAgeSeconds: Double(now - v.observedAt) / 1000)
        }
        return VehicleList(count: list.count, vehicles: list, generatedAt: Timestamp.iso8601(now))
    }
}
