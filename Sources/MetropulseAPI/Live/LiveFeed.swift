package import Foundation
package import Logging
package import MetropulseCore

/// What the live map shows, kept current from the store and shared by every live subscriber of
/// this process: stations, vehicles, stops with departures and each source's freshness.
///
/// Each value carries the version at which it last changed; a subscriber remembers the version
/// it has seen and asks for what changed since. A slow subscriber therefore gets the latest value
/// of what changed, never a backlog: what it holds is bounded by the state, not by time. Vehicles
/// that leave the feed leave a tombstone, kept `tombstoneMillis`; a subscriber that has not read
/// for longer is sent a fresh snapshot instead.
///
/// The state is refreshed from the store at most once per `intervalMillis`, only while someone
/// asks (the first subscriber's read after the interval does it for all), and only for sources
/// whose last run changed. It works across processes because it reads the shared store.
package actor LiveFeed {
    package enum Topic: String, Sendable, CaseIterable {
        case stations, vehicles, stops, sources
    }

    package struct MapStation: Codable, Sendable, Equatable {
        package var key: String
        package var source: String
        package var id: String
        package var name: String?
        package var lat: Double?
        package var lon: Double?
        package var bikes: Int
        package var ebikes: Int?
        package var docks: Int?
        package var capacity: Int?
        /// `in_service`, `closed` or `out_of_service`.
        package var status: String
        /// When the feed reported these counts, epoch ms.
        package var observed: Int64
    }

    package struct MapVehicle: Codable, Sendable, Equatable {
        package var key: String
        package var source: String
        package var network: String
        package var id: String
        package var label: String?
        package var line: String?
        package var lineName: String?
        /// `#RRGGBB` from the static GTFS, when known.
        package var color: String?
        package var lat: Double
        package var lon: Double
        package var bearing: Double?
        package var stop: String?
        package var observed: Int64
    }

    package struct MapStop: Codable, Sendable, Equatable {
        package var key: String
        package var source: String
        package var network: String
        package var id: String
        package var name: String?
        package var lat: Double
        package var lon: Double
        /// Departures stored for the stop from a minute ago on.
        package var departures: Int
    }

    package struct SourceBadge: Codable, Sendable, Equatable {
        package var key: String
        package var id: String
        package var kind: String
        /// `live`, `degraded`, `stale`, `down` or `unknown`, from the health ledger.
        package var state: String
        package var reason: String
        /// The URL of the last successful run, when it was not the source's first endpoint.
        package var fallback: String?
        package var lastSuccess: Int64?
        package var network: String?
    }

    /// What changed since a version (or everything, for a snapshot).
    package struct Changes: Codable, Sendable {
        package var version: UInt64
        /// True when this is the whole state (the first message, or a subscriber that fell behind
        /// the tombstones): the client replaces what it holds.
        package var snapshot: Bool
        package var stations: [MapStation]?
        package var vehicles: [MapVehicle]?
        package var removedVehicles: [String]?
        package var stops: [MapStop]?
        package var removedStops: [String]?
        package var sources: [SourceBadge]?
        package var generatedAt: Int64

        package var isEmpty: Bool {
            !snapshot && (stations ?? []).isEmpty && (vehicles ?? []).isEmpty && (removedVehicles ?? []).isEmpty
                && (stops ?? []).isEmpty && (removedStops ?? []).isEmpty && (sources ?? []).isEmpty
        }
    }

    private struct Versioned<Value: Sendable>: Sendable {
        var value: Value
        var version: UInt64
    }

    private struct Table<Value: Sendable & Equatable>: Sendable {
        var rows: [String: Versioned<Value>] = [:]
        /// key → version at which it was removed, and when.
        var removed: [String: (version: UInt64, at: Int64)] = [:]

        /// Replaces the rows of `owner`'s keys with `values`; returns whether anything changed.
        mutating func replace(
            _ values: [(String, Value)], owner: (String) -> Bool, version: UInt64, now: Int64
        ) -> Bool {
            var changed = false
            var fresh = Set<String>()
            for (key, value) in values {
                fresh.insert(key)
                if rows[key]?.value != value {
                    rows[key] = Versioned(value: value, version: version)
                    removed[key] = nil
                    changed = true
                }
            }
            for key in rows.keys where owner(key) && !fresh.contains(key) {
                rows[key] = nil
                removed[key] = (version, now)
                changed = true
            }
            return changed
        }

        func changed(since: UInt64) -> [Value] {
            rows.values.filter { $0.version > since }.map(\.value)
        }

        func removedKeys(since: UInt64) -> [String] {
            removed.filter { $0.value.version > since }.map(\.key)
        }

        mutating func prune(before: Int64) -> UInt64? {
            var floor: UInt64?
            for (key, entry) in removed where entry.at < before {
                removed[key] = nil
                floor = max(floor ?? 0, entry.version)
            }
            return floor
        }
    }

    let store: any ObservationStore & RunLog
    let catalog: SourceCatalog
    let names: TransitNameBook
    let stationKinds: Set<SourceKind>
    let transitKinds: Set<SourceKind>
    let intervalMillis: Int64
    let healthIntervalMillis: Int64
    let tombstoneMillis: Int64
    let logger: Logger?
    let activity: FeedActivityCache

    private var version: UInt64 = 0
    /// A subscriber that has seen less than this may have missed a removal: it gets a snapshot.
    private var resumeFloor: UInt64 = 0
    private var stations = Table<MapStation>()
    private var vehicles = Table<MapVehicle>()
    private var stops = Table<MapStop>()
    private var sources = Table<SourceBadge>()
    private var lastRefresh: Int64?
    private var lastHealth: Int64?
    private var seenRuns: [String: Int64?] = [:]
    private var refreshing = false

    package init(
        store: any ObservationStore & RunLog, catalog: SourceCatalog, names: TransitNameBook,
        connectors: ConnectorDescriptions, intervalMillis: Int64 = 1_000, healthIntervalMillis: Int64 = 10_000,
        tombstoneMillis: Int64 = 10 * 60_000, logger: Logger? = nil, activity: FeedActivityCache = FeedActivityCache()
    ) {
        self.activity = activity
        self.store = store
        self.catalog = catalog
        self.names = names
        self.stationKinds = connectors.kinds(producing: .stations)
        self.transitKinds = connectors.kinds(producing: .transit)
        self.intervalMillis = intervalMillis
        self.healthIntervalMillis = healthIntervalMillis
        self.tombstoneMillis = tombstoneMillis
        self.logger = logger
    }

    package var currentVersion: UInt64 { version }

    /// Reads what changed in the store, if the last refresh is older than the interval and no other
    /// subscriber is refreshing already.
    package func refresh(now: Int64) async {
        guard !refreshing, lastRefresh.map({ now - $0 >= intervalMillis }) ?? true else { return }
        refreshing = true
        lastRefresh = now
        defer { refreshing = false }
        do {
            try await readChanges(now: now)
        } catch {
            logger?.warning("live map refresh failed", metadata: ["error": "\(loggable(error))"])
        }
        if let floor = [
            stations.prune(before: now - tombstoneMillis), vehicles.prune(before: now - tombstoneMillis),
            stops.prune(before: now - tombstoneMillis),
        ].compactMap({ $0 }).max() {
            resumeFloor = max(resumeFloor, floor)
        }
    }

    private func network(of source: SourceDefinition) -> String { source.tags["network"] ?? source.id }

    private func readChanges(now: Int64) async throws {
        let states = Dictionary(
            try await store.sourceStates().map { ($0.sourceID, $0) }, uniquingKeysWith: { a, _ in a })
        let next = version + 1
        var changed = false
        for source in catalog.all {
            let marker = states[source.id]?.lastSuccessAt
            if let seen = seenRuns[source.id], seen == marker { continue }
            seenRuns[source.id] = marker
            let owned: (String) -> Bool = { $0.hasPrefix(source.id + "/") }
            if stationKinds.contains(source.kind) {
                let rows = try await store.stations(StationQuery(sourceID: source.id, limit: 100_000))
                let values = rows.map { stored -> (String, MapStation) in
                    let o = stored.observation
                    let key = "\(o.sourceID)/\(o.stationID)"
                    return (
                        key,
                        MapStation(
                            key: key, source: o.sourceID, id: o.stationID, name: o.name, lat: o.latitude,
                            lon: o.longitude, bikes: o.bikesAvailable, ebikes: o.ebikesAvailable,
                            docks: o.docksAvailable, capacity: o.capacity, status: o.status.rawValue,
                            observed: o.observedAt)
                    )
                }
                changed = stations.replace(values, owner: owned, version: next, now: now) || changed
            }
            if transitKinds.contains(source.kind) {
                let network = network(of: source)
                let rows = try await store.vehicles(sourceIDs: [source.id], routeID: nil)
                let values = rows.map(\.value).map { v -> (String, MapVehicle) in
                    let key = "\(v.sourceID)/\(v.vehicleID)"
                    let route = names.route(source: v.sourceID, route: v.routeID)
                    return (
                        key,
                        MapVehicle(
                            key: key, source: v.sourceID, network: network, id: v.vehicleID, label: v.label,
                            line: v.routeID, lineName: route?.name, color: route?.color.map { "#\($0)" },
                            lat: v.latitude, lon: v.longitude, bearing: v.bearing, stop: v.stopID,
                            observed: v.observedAt)
                    )
                }
                changed = vehicles.replace(values, owner: owned, version: next, now: now) || changed
                let departures = try await store.departures(
                    DepartureQuery(sourceIDs: [source.id], from: now - 60_000, limit: 200_000))
                var counts: [String: Int] = [:]
                for departure in departures { counts[departure.value.stopID, default: 0] += 1 }
                let stopValues = counts.compactMap { stopID, count -> (String, MapStop)? in
                    guard let stop = names.entry(source.id)?.names?.stops[stopID], let lat = stop.latitude,
                        let lon = stop.longitude
                    else { return nil }
                    let key = "\(source.id)/\(stopID)"
                    return (
                        key,
                        MapStop(
                            key: key, source: source.id, network: network, id: stopID, name: stop.name, lat: lat,
                            lon: lon, departures: count)
                    )
                }
                changed = stops.replace(stopValues, owner: owned, version: next, now: now) || changed
            }
        }
        if lastHealth.map({ now - $0 >= healthIntervalMillis }) ?? true {
            lastHealth = now
            var badges: [(String, SourceBadge)] = []
            for source in catalog.all {
                let (health, runs) = try await FeedHealth.assess(source, store: store, activity: activity, now: now)
                let lastGood = runs.filter { $0.status == .succeeded }.max { $0.finishedAt < $1.finishedAt }
                let fallback = source.isFallback(servedBy: lastGood?.url) ? lastGood?.url : nil
                let isTransit = transitKinds.contains(source.kind)
                badges.append(
                    (
                        source.id,
                        SourceBadge(
                            key: source.id, id: source.id, kind: source.kind.rawValue, state: health.state.rawValue,
                            reason: health.reason, fallback: fallback, lastSuccess: lastGood?.finishedAt,
                            network: isTransit ? network(of: source) : nil)
                    )
                )
            }
            changed = sources.replace(badges, owner: { _ in true }, version: next, now: now) || changed
        }
        if changed { version = next }
    }

    /// What changed after `since` in the topics asked for, limited to `sourceIDs` if given; the whole
    /// state when `since` is nil or older than what the tombstones can tell.
    package func changes(since: UInt64?, topics: Set<Topic>, sourceIDs: Set<String>?, now: Int64) -> Changes {
        let snapshot = since == nil || since! < resumeFloor
        let from = snapshot ? 0 : since!
        func keep(_ source: String) -> Bool { sourceIDs?.contains(source) ?? true }
        var changes = Changes(version: version, snapshot: snapshot, generatedAt: now)
        if topics.contains(.stations) {
            changes.stations = stations.changed(since: from).filter { keep($0.source) }
        }
        if topics.contains(.vehicles) {
            changes.vehicles = vehicles.changed(since: from).filter { keep($0.source) }
            if !snapshot {
                changes.removedVehicles = vehicles.removedKeys(since: from).filter { keep(sourceOf($0)) }
            }
        }
        if topics.contains(.stops) {
            changes.stops = stops.changed(since: from).filter { keep($0.source) }
            if !snapshot { changes.removedStops = stops.removedKeys(since: from).filter { keep(sourceOf($0)) } }
        }
        if topics.contains(.sources) {
            changes.sources = sources.changed(since: from).filter { keep($0.id) }
        }
        return changes
    }

    private func sourceOf(_ key: String) -> String {
        String(key.prefix { $0 != "/" })
    }
}
