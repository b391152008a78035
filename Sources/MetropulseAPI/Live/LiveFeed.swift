package import Foundation
package import Logging
package import MetropulseCore
package import NIOCore

/// What the live streams carry, kept current from the store and shared by every live subscriber
/// of this process: stations, vehicles, stops with departures, each source's freshness, city
/// readings, City Live alerts and transit disruptions. Each value that came from a fetch carries
/// its provenance (the run that produced its current value, and when it was fetched) and, as
/// sent, its age; an event lists the runs it names with the endpoint that served each and the
/// feed's own timestamp.
///
/// Each value carries the version at which it last changed; a subscriber remembers the version
/// it has seen and asks for what changed since. A slow subscriber therefore gets the latest value
/// of what changed, never a backlog: what it holds is bounded by the state, not by time. Vehicles
/// that leave the feed leave a tombstone, kept `tombstoneMillis`; a subscriber that has not read
/// for longer is sent a fresh snapshot instead.
///
/// The state is read from the store by the API process's `LiveFeedRefresher` (every
/// `api.live_interval`, `poll`), and by subscribers at most once per `intervalMillis` (`refresh`),
/// only for sources whose last run changed; each new version wakes the subscribers waiting for it
/// (`waitForChange`) and is kept in a bounded log for clients that resume (`replay`). It works
/// across processes because it reads the shared store.
package actor LiveFeed {
    package enum Topic: String, Sendable, CaseIterable {
        case stations, vehicles, stops, sources, readings, alerts, disruptions
        case taskRuns = "task_runs"
    }

    /// Which values a subscriber wants, beyond its topics: every condition given must hold.
    package struct Filter: Sendable {
        package var sourceIDs: Set<String>?
        package var networks: Set<String>?
        /// Line (route) ids: vehicles on them, disruptions naming them.
        package var lines: Set<String>?
        /// City zones: readings and alerts.
        package var zones: Set<String>?
        /// minLat, minLon, maxLat, maxLon: stations, vehicles and stops inside.
        package var box: (minLat: Double, minLon: Double, maxLat: Double, maxLon: Double)?

        package init(
            sourceIDs: Set<String>? = nil, networks: Set<String>? = nil, lines: Set<String>? = nil,
            zones: Set<String>? = nil, box: (minLat: Double, minLon: Double, maxLat: Double, maxLon: Double)? = nil
        ) {
            self.sourceIDs = sourceIDs
            self.networks = networks
            self.lines = lines
            self.zones = zones
            self.box = box
        }

        /// `[minLon, minLat, maxLon, maxLat]` as a box; nil unless four finite degrees, min not above max.
        package static func box(_ n: [Double]) -> (minLat: Double, minLon: Double, maxLat: Double, maxLon: Double)? {
            guard n.count == 4, n.allSatisfy(\.isFinite), (-180...180).contains(n[0]), (-180...180).contains(n[2]),
                (-90...90).contains(n[1]), (-90...90).contains(n[3]), n[0] <= n[2], n[1] <= n[3]
            else { return nil }
            return (minLat: n[1], minLon: n[0], maxLat: n[3], maxLon: n[2])
        }

        func source(_ id: String) -> Bool { sourceIDs?.contains(id) ?? true }
        func network(_ id: String?) -> Bool { networks.map { id.map($0.contains) ?? false } ?? true }
        func line(_ id: String?) -> Bool { lines.map { id.map($0.contains) ?? false } ?? true }
        func zone(_ id: String) -> Bool { zones?.contains(id) ?? true }
        func inside(_ lat: Double?, _ lon: Double?) -> Bool {
            guard let box else { return true }
            guard let lat, let lon else { return false }
            return lat >= box.minLat && lat <= box.maxLat && lon >= box.minLon && lon <= box.maxLon
        }
    }

    /// A value whose provenance (run, fetch time, age) is not part of what counts as a change.
    package protocol LiveValue: Sendable, Equatable {
        func sameData(as other: Self) -> Bool
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
        /// The run that fetched these counts, and when.
        package var run: String?
        package var fetched: Int64?
        /// Seconds since `observed`, as sent.
        package var age: Double?
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
        package var run: String?
        package var fetched: Int64?
        package var age: Double?
    }

    /// A city reading (latest per source, zone and metric).
    package struct LiveReading: Codable, Sendable, Equatable {
        package var key: String
        package var source: String
        package var city: String?
        package var zone: String
        package var metric: String
        package var value: Double
        package var unit: String?
        package var observed: Int64
        package var run: String?
        package var fetched: Int64?
        package var age: Double?
    }

    /// A City Live alert, as process_city left it.
    package struct LiveAlert: Codable, Sendable, Equatable {
        package var key: String
        package var city: String
        package var zone: String
        package var kind: String
        package var state: String
        package var severity: String
        package var message: String
        package var recommendation: String
        package var value: Double
        package var updated: Int64

        /// The alert as the stream carries it: times in epoch ms like every other live value (the
        /// alerts API's answer has them as dates).
        init(_ a: CityAlert) {
            key = a.id
            city = a.city
            zone = a.zone
            kind = a.kind
            state = a.state.rawValue
            severity = a.severity
            message = a.message
            recommendation = a.recommendation
            value = a.value
            updated = a.updatedAt
        }
    }

    /// A transit disruption (service alert, general message, situation).
    package struct LiveDisruption: Codable, Sendable, Equatable {
        package var key: String
        package var source: String
        package var network: String
        package var id: String
        package var header: String?
        package var details: String?
        package var cause: String?
        package var effect: String?
        package var severity: String?
        package var lines: [String]
        package var start: Int64?
        package var end: Int64?
        package var observed: Int64
        package var run: String?
        package var fetched: Int64?
        package var age: Double?
    }

    /// A task run as it finished (the last `recentRuns` are kept).
    package struct LiveTaskRun: Codable, Sendable, Equatable {
        package var key: String
        package var source: String
        package var status: String
        package var attempt: Int
        package var worker: String
        package var startedAt: Int64
        package var finishedAt: Int64
        package var durationMs: Int64
        package var url: String?
        package var httpStatus: Int?
        package var entities: Int
        package var rejected: Int
        package var feedTimestamp: Int64?
        package var errorKind: String?
        package var errorMessage: String?
    }

    /// A run an event names: the endpoint that served it and the feed's own timestamp.
    package struct RunInfo: Codable, Sendable, Equatable {
        package var id: String
        package var source: String
        package var url: String?
        package var feedTimestamp: Int64?
        package var finishedAt: Int64

        init(_ run: TaskRun) {
            id = run.id
            source = run.sourceID
            url = run.url
            feedTimestamp = run.feedTimestamp
            finishedAt = run.finishedAt
        }
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
        package var readings: [LiveReading]?
        package var alerts: [LiveAlert]?
        package var disruptions: [LiveDisruption]?
        package var removedDisruptions: [String]?
        package var taskRuns: [LiveTaskRun]?
        /// The runs the values above name (`run`), with their endpoints and feed timestamps.
        package var runs: [RunInfo]?
        package var generatedAt: Int64

        package var isEmpty: Bool {
            !snapshot && (stations ?? []).isEmpty && (vehicles ?? []).isEmpty && (removedVehicles ?? []).isEmpty
                && (stops ?? []).isEmpty && (removedStops ?? []).isEmpty && (sources ?? []).isEmpty
                && (readings ?? []).isEmpty && (alerts ?? []).isEmpty && (disruptions ?? []).isEmpty
                && (removedDisruptions ?? []).isEmpty && (taskRuns ?? []).isEmpty
        }
    }

    private struct Versioned<Value: Sendable>: Sendable {
        var value: Value
        var version: UInt64
    }

    private struct Table<Value: LiveValue>: Sendable {
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
                if let current = rows[key]?.value, current.sameData(as: value) { continue }
                rows[key] = Versioned(value: value, version: version)
                removed[key] = nil
                changed = true
            }
            for key in rows.keys where owner(key) && !fresh.contains(key) {
                rows[key] = nil
                removed[key] = (version, now)
                changed = true
            }
            return changed
        }

        /// Forgets all but the `count` newest rows by `time` (no tombstone: clients keep them).
        mutating func keepNewest(_ count: Int, by time: (Value) -> Int64) {
            guard rows.count > count else { return }
            let oldest = rows.sorted { time($0.value.value) > time($1.value.value) }.dropFirst(count)
            for (key, _) in oldest { rows[key] = nil }
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

    let store: any ObservationStore & RunLog & CityStore
    let catalog: SourceCatalog
    let names: TransitNameBook
    let stationKinds: Set<SourceKind>
    let transitKinds: Set<SourceKind>
    let readingKinds: Set<SourceKind>
    let intervalMillis: Int64
    let healthIntervalMillis: Int64
    let tombstoneMillis: Int64
    let logger: Logger?
    let activity: FeedActivityCache

    private var version: UInt64 = 0
    /// What subscribers read without waiting for this actor: the version, events already encoded.
    package nonisolated let shared = LiveFeedShared()
    /// A subscriber that has seen less than this may have missed a removal: it gets a snapshot.
    private var resumeFloor: UInt64 = 0
    private var stations = Table<MapStation>()
    private var vehicles = Table<MapVehicle>()
    private var stops = Table<MapStop>()
    private var sources = Table<SourceBadge>()
    private var readings = Table<LiveReading>()
    private var alerts = Table<LiveAlert>()
    private var disruptions = Table<LiveDisruption>()
    private var taskRuns = Table<LiveTaskRun>()
    /// The task runs kept for a snapshot: the most recent.
    static let recentRuns = 200
    /// Task runs are read from this finish time on (with some overlap: a run's commit can land
    /// after a later one's).
    private var runsReadFrom: Int64?
    /// The runs values name, by id (bounded: cleared past 5,000).
    private var runInfo: [String: RunInfo] = [:]
    private var lastRefresh: Int64?
    private var lastHealth: Int64?
    private var seenRuns: [String: Int64?] = [:]
    /// Each version's changes as they happened (unfiltered), for clients that resume: at most
    /// `logLimit` values in all and no older than the tombstones.
    private var log: [Changes] = []
    private var logged = 0
    package static let logLimit = 50_000
    /// Each source's last run time at the last read of the task runs.
    private var seenRunTimes: [String: Int64] = [:]
    private var refreshing = false

    package init(
        store: any ObservationStore & RunLog & CityStore, catalog: SourceCatalog, names: TransitNameBook,
        connectors: ConnectorDescriptions, intervalMillis: Int64 = 1_000, healthIntervalMillis: Int64 = 10_000,
        tombstoneMillis: Int64 = 10 * 60_000, logger: Logger? = nil, activity: FeedActivityCache = FeedActivityCache()
    ) {
        self.activity = activity
        self.store = store
        self.catalog = catalog
        self.names = names
        self.stationKinds = connectors.kinds(producing: .stations)
        self.transitKinds = connectors.kinds(producing: .transit)
        self.readingKinds = connectors.kinds(producing: .measurements)
        self.intervalMillis = intervalMillis
        self.healthIntervalMillis = healthIntervalMillis
        self.tombstoneMillis = tombstoneMillis
        self.logger = logger
    }

    package var currentVersion: UInt64 { version }

    /// Whether a refresher keeps this feed current (`LiveFeedRefresher`); subscribers then wait for
    /// its versions instead of reading the store.
    package nonisolated func followed(_ value: Bool) { shared.followed(value) }

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
            stops.prune(before: now - tombstoneMillis), readings.prune(before: now - tombstoneMillis),
            alerts.prune(before: now - tombstoneMillis), disruptions.prune(before: now - tombstoneMillis),
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
        // Task runs finished since the last read, read only when some source's last run moved; the
        // oldest beyond `recentRuns` are forgotten (not removed from clients: a run does not leave).
        // They also tell the endpoint and feed timestamp of the values they produced.
        let runTimes = states.mapValues { $0.lastRunAt ?? 0 }
        if runTimes != seenRunTimes || runsReadFrom == nil {
            seenRunTimes = runTimes
            let finished = try await store.taskRuns(
                TaskRunQuery(since: (runsReadFrom ?? now - 10 * 60_000) - 30_000, limit: Self.recentRuns))
            runsReadFrom = max(runsReadFrom ?? 0, finished.map(\.finishedAt).max() ?? 0)
            if runInfo.count > 5_000 { runInfo.removeAll() }
            for run in finished { runInfo[run.id] = RunInfo(run) }
            let runValues = finished.map { run -> (String, LiveTaskRun) in
                (
                    run.id,
                    LiveTaskRun(
                        key: run.id, source: run.sourceID, status: run.status.rawValue, attempt: run.attempt,
                        worker: run.workerID, startedAt: run.startedAt, finishedAt: run.finishedAt,
                        durationMs: run.durationMillis, url: run.url, httpStatus: run.httpStatus,
                        entities: run.entityCount, rejected: run.rejectedCount, feedTimestamp: run.feedTimestamp,
                        errorKind: run.errorKind?.rawValue, errorMessage: run.errorMessage)
                )
            }
            changed = taskRuns.replace(runValues, owner: { _ in false }, version: next, now: now) || changed
            taskRuns.keepNewest(Self.recentRuns) { $0.finishedAt }
        }
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
                            observed: o.observedAt, run: stored.runID, fetched: stored.fetchedAt)
                    )
                }
                changed = stations.replace(values, owner: owned, version: next, now: now) || changed
                await learnRuns(rows.map(\.runID))
            }
            if transitKinds.contains(source.kind) {
                let network = network(of: source)
                let rows = try await store.vehicles(sourceIDs: [source.id], routeID: nil)
                let values = rows.map { stored -> (String, MapVehicle) in
                    let v = stored.value
                    let key = "\(v.sourceID)/\(v.vehicleID)"
                    let route = names.route(source: v.sourceID, route: v.routeID)
                    return (
                        key,
                        MapVehicle(
                            key: key, source: v.sourceID, network: network, id: v.vehicleID, label: v.label,
                            line: v.routeID, lineName: route?.name, color: route?.color.map { "#\($0)" },
                            lat: v.latitude, lon: v.longitude, bearing: v.bearing, stop: v.stopID,
                            observed: v.observedAt, run: stored.runID, fetched: stored.fetchedAt)
                    )
                }
                changed = vehicles.replace(values, owner: owned, version: next, now: now) || changed
                await learnRuns(rows.map(\.runID))
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
                let stored = try await store.disruptions(sourceIDs: [source.id])
                let disruptionValues = stored.map { row -> (String, LiveDisruption) in
                    let d = row.value
                    let key = "\(d.sourceID)/\(d.id)"
                    return (
                        key,
                        LiveDisruption(
                            key: key, source: d.sourceID, network: network, id: d.id, header: d.header,
                            details: d.details, cause: d.cause, effect: d.effect, severity: d.severity,
                            lines: d.routeIDs, start: d.periods.compactMap(\.start).min(),
                            end: d.periods.compactMap(\.end).max(), observed: d.observedAt, run: row.runID,
                            fetched: row.fetchedAt)
                    )
                }
                changed = disruptions.replace(disruptionValues, owner: owned, version: next, now: now) || changed
                await learnRuns(stored.map(\.runID))
            }
            if readingKinds.contains(source.kind) {
                let rows = try await store.latestMeasurements(sourceIDs: [source.id], zone: nil)
                let values = rows.map { stored -> (String, LiveReading) in
                    let m = stored.value
                    let key = "\(m.sourceID)/\(m.zone)/\(m.metric)"
                    return (
                        key,
                        LiveReading(
                            key: key, source: m.sourceID, city: source.tags["city"], zone: m.zone, metric: m.metric,
                            value: m.value, unit: m.unit, observed: m.observedAt, run: stored.runID,
                            fetched: stored.fetchedAt)
                    )
                }
                changed = readings.replace(values, owner: owned, version: next, now: now) || changed
                await learnRuns(rows.map(\.runID))
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
            // City Live alerts: the last 200 of each city (active or resolved).
            var alertValues: [(String, LiveAlert)] = []
            for city in ProcessCityJob.cities(catalog).keys.sorted() {
                for a in try await store.cityAlerts(city: city, states: nil, limit: 200) {
                    alertValues.append((a.id, LiveAlert(a)))
                }
            }
            changed = alerts.replace(alertValues, owner: { _ in true }, version: next, now: now) || changed
        }
        if changed {
            version = next
            shared.moved(to: next)
            record(everything(since: next - 1), at: now)
        }
    }

    /// Returns when the version moves past `seen` (at once when it has, or for a first read), or
    /// after `timeout`, or when the task is cancelled. The wait is one continuation in `shared`,
    /// woken by each new version; a refresher following the feed also ends it at its deadline,
    /// else a timer of its own does.
    package nonisolated func waitForChange(after seen: UInt64?, timeout: Duration) async {
        guard let seen else { return }
        let shared = self.shared
        if shared.isFollowed {
            await shared.wait(after: seen, until: .now + timeout)
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await shared.wait(after: seen, until: .now + timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Subscribers waiting for the next version now.
    package nonisolated var waitingCount: Int { shared.waitingCount }

    /// The event taking a subscriber of `topics` and `filter` from `since` to `version` (empty
    /// when nothing it asked for changed) as `encode` frames it, and the version it reaches. The
    /// same question from the same version is answered once for every subscriber asking it (the
    /// first encodes, the others get its bytes), whatever the framing (`sse`, `ws`).
    package nonisolated func encodedChanges(
        since: UInt64?, version: UInt64, topics: Set<Topic>, filter: Filter, subscription: String,
        framing: String, now: Int64, encode: (Changes) throws -> ByteBuffer
    ) async throws -> (ByteBuffer, UInt64) {
        let key = LiveFeedShared.Key(since: since, subscription: subscription, framing: framing)
        return try await shared.event(key, version: version) {
            let changes = await changes(since: since, topics: topics, filter: filter, now: now)
            guard !changes.isEmpty else { return (ByteBuffer(), changes.version) }
            return (try encode(changes), changes.version)
        }
    }

    /// Reads what changed now, whatever the interval (the API process's refresher, every
    /// `live.interval`): versions then follow the store even while no one listens, so a client
    /// that resumes is sent each version it missed.
    package func poll(now: Int64) async {
        lastRefresh = nil
        await refresh(now: now)
    }

    /// Keeps a version's changes for `replay`, forgetting the oldest past the bounds.
    private func record(_ changes: Changes, at now: Int64) {
        var entry = changes
        entry.generatedAt = now
        log.append(entry)
        logged += Self.size(entry)
        var drop = 0
        while drop < log.count - 1,
            logged > Self.logLimit || log[drop].generatedAt < now - tombstoneMillis
        {
            logged -= Self.size(log[drop])
            drop += 1
        }
        if drop > 0 { log.removeFirst(drop) }
    }

    private static func size(_ c: Changes) -> Int {
        [
            c.stations?.count, c.vehicles?.count, c.stops?.count, c.sources?.count, c.readings?.count,
            c.alerts?.count, c.disruptions?.count, c.taskRuns?.count, c.removedVehicles?.count,
            c.removedStops?.count, c.removedDisruptions?.count,
        ].reduce(0) { $0 + ($1 ?? 0) }
    }

    /// Remembers the endpoint and feed timestamp of runs that are not among the recent task runs
    /// read (values kept from older runs; at most 50 a refresh).
    private func learnRuns(_ ids: [String]) async {
        for id in Set(ids).subtracting(runInfo.keys).sorted().prefix(50) {
            guard let run = try? await store.taskRun(id: id) else { continue }
            runInfo[id] = RunInfo(run)
        }
    }

    /// What changed after `since` in the topics asked for, limited to `sourceIDs` if given; the whole
    /// state when `since` is nil or older than what the tombstones can tell.
    package func changes(since: UInt64?, topics: Set<Topic>, sourceIDs: Set<String>?, now: Int64) -> Changes {
        changes(since: since, topics: topics, filter: Filter(sourceIDs: sourceIDs), now: now)
    }

    /// What changed after `since` in the topics asked for that passes `filter`; the whole state when
    /// `since` is nil or older than what the tombstones can tell. Values carry their age at `now`.
    package func changes(since: UInt64?, topics: Set<Topic>, filter: Filter, now: Int64) -> Changes {
        let snapshot = since == nil || since! < resumeFloor
        // Nothing new: the common case for a waiting subscriber, without a look at the tables.
        if !snapshot, since == version { return Changes(version: version, snapshot: false, generatedAt: now) }
        return select(everything(since: snapshot ? nil : since), topics: topics, filter: filter, now: now)
    }

    /// Each version after `since` as it happened, in order (values as they were then), in the topics
    /// asked for that passes `filter`, and the version they reach: what a client resuming from
    /// `since` missed. Nil when the log of versions no longer reaches back to `since` (then
    /// `changes(since:)` gives the net changes, or a snapshot).
    package func replay(since: UInt64, topics: Set<Topic>, filter: Filter, now: Int64) -> (
        events: [Changes], version: UInt64
    )? {
        guard since <= version else { return nil }
        if since == version { return ([], version) }
        guard let oldest = log.first?.version, oldest <= since + 1 else { return nil }
        let events = log.filter { $0.version > since }.map { select($0, topics: topics, filter: filter, now: now) }
            .filter { !$0.isEmpty }
        return (events, version)
    }

    /// Every value of every topic changed after `since` (everything when nil), unfiltered and as
    /// stored (ages are added when sent).
    private func everything(since: UInt64?) -> Changes {
        let snapshot = since == nil
        let from = since ?? 0
        var changes = Changes(version: version, snapshot: snapshot, generatedAt: 0)
        changes.stations = stations.changed(since: from)
        changes.vehicles = vehicles.changed(since: from)
        changes.stops = stops.changed(since: from)
        changes.sources = sources.changed(since: from)
        changes.readings = readings.changed(since: from)
        changes.alerts = alerts.changed(since: from)
        changes.disruptions = disruptions.changed(since: from)
        changes.taskRuns = taskRuns.changed(since: from)
        if !snapshot {
            changes.removedVehicles = vehicles.removedKeys(since: from)
            changes.removedStops = stops.removedKeys(since: from)
            changes.removedDisruptions = disruptions.removedKeys(since: from)
        }
        return changes
    }

    /// `all` narrowed to the topics and the filter, each value with its age at `now` and the runs
    /// it names.
    private func select(_ all: Changes, topics: Set<Topic>, filter: Filter, now: Int64) -> Changes {
        func keep(_ source: String) -> Bool { filter.source(source) }
        var changes = Changes(version: all.version, snapshot: all.snapshot, generatedAt: now)
        var named = Set<String>()
        // Each value as sent: with its age, its run named in `runs`.
        func sent<Value: Provenanced>(_ values: [Value]) -> [Value] {
            named.formUnion(values.compactMap(\.run))
            return values.map { $0.aged(now) }
        }
        func removed(_ keys: [String]?) -> [String]? { keys.map { $0.filter { keep(sourceOf($0)) } } }
        if topics.contains(.stations) {
            changes.stations = sent((all.stations ?? []).filter { keep($0.source) && filter.inside($0.lat, $0.lon) })
        }
        if topics.contains(.vehicles) {
            changes.vehicles = sent(
                (all.vehicles ?? []).filter {
                    keep($0.source) && filter.network($0.network) && filter.line($0.line)
                        && filter.inside($0.lat, $0.lon)
                })
            changes.removedVehicles = removed(all.removedVehicles)
        }
        if topics.contains(.stops) {
            changes.stops = (all.stops ?? [])
                .filter { keep($0.source) && filter.network($0.network) && filter.inside($0.lat, $0.lon) }
            changes.removedStops = removed(all.removedStops)
        }
        if topics.contains(.sources) {
            changes.sources = (all.sources ?? [])
                .filter { keep($0.id) && (filter.networks == nil || filter.network($0.network)) }
        }
        if topics.contains(.readings) {
            changes.readings = sent((all.readings ?? []).filter { keep($0.source) && filter.zone($0.zone) })
        }
        if topics.contains(.alerts) {
            changes.alerts = (all.alerts ?? []).filter { filter.zone($0.zone) }
        }
        if topics.contains(.disruptions) {
            changes.disruptions = sent(
                (all.disruptions ?? []).filter {
                    keep($0.source) && filter.network($0.network)
                        && (filter.lines == nil || $0.lines.contains { filter.line($0) })
                })
            changes.removedDisruptions = removed(all.removedDisruptions)
        }
        if topics.contains(.taskRuns) {
            changes.taskRuns = (all.taskRuns ?? []).filter { keep($0.source) }
                .sorted { ($0.finishedAt, $0.key) < ($1.finishedAt, $1.key) }
        }
        let runs = named.sorted().compactMap { runInfo[$0] }
        if !runs.isEmpty { changes.runs = runs }
        return changes
    }

    private func sourceOf(_ key: String) -> String {
        String(key.prefix { $0 != "/" })
    }
}

extension LiveFeed.LiveValue {
    package func sameData(as other: Self) -> Bool { self == other }
}

extension LiveFeed.MapStop: LiveFeed.LiveValue {}
extension LiveFeed.SourceBadge: LiveFeed.LiveValue {}
extension LiveFeed.LiveAlert: LiveFeed.LiveValue {}
extension LiveFeed.LiveTaskRun: LiveFeed.LiveValue {}

/// A value that carries where it came from (`run`, `fetched`) and, as sent, its `age`: none of
/// the three is part of what counts as a change.
package protocol Provenanced: LiveFeed.LiveValue {
    var observed: Int64 { get }
    var run: String? { get set }
    var fetched: Int64? { get set }
    var age: Double? { get set }
}

extension Provenanced {
    package func sameData(as other: Self) -> Bool {
        var a = self
        var b = other
        (a.run, a.fetched, a.age, b.run, b.fetched, b.age) = (nil, nil, nil, nil, nil, nil)
        return a == b
    }

    /// The value as sent at `now`, with its age.
    func aged(_ now: Int64) -> Self {
        var value = self
        value.age = Double(max(0, now - observed)) / 1000
        return value
    }
}

extension LiveFeed.MapStation: Provenanced {}
extension LiveFeed.MapVehicle: Provenanced {}
extension LiveFeed.LiveReading: Provenanced {}
extension LiveFeed.LiveDisruption: Provenanced {}
