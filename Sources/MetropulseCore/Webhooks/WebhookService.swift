public import Logging
public import ServiceLifecycle
import Synchronization

/// Sends one delivery: signs it with the endpoint's secret and POSTs it, refusing addresses the
/// configuration does not allow. Returns the answer's status, or why there was none.
public protocol WebhookSender: Sendable {
    func send(_ delivery: WebhookDelivery, to endpoint: WebhookEndpoint, at: Int64) async -> (
        statusCode: Int?, error: String?
    )
}

/// Finds the events the webhook endpoints asked for and delivers them, led by the scheduler's
/// leader.
///
/// Detection compares what the store holds now with the condition recorded for each endpoint
/// and entity (a station `empty`, `full` or `ok`; a disruption present; an alert open or
/// resolved; a source's health) and writes the new conditions together with the deliveries of
/// the changes, in one transaction: after a crash, a change is found again or was recorded with
/// its deliveries, never lost and never repeated. A new endpoint's first round records the
/// conditions as they are, without events.
///
/// Delivery claims due deliveries with a lease, sends them (`concurrency` at once), and records
/// each attempt; a failed attempt is retried after `WebhookDelivery.retryDelay` until a day after
/// the event. An endpoint whose attempts have all failed for `disableAfterMillis` is disabled,
/// with the reason.
public final class WebhookService: Service, Sendable {
    public struct Configuration: Sendable {
        public var detectIntervalMillis: Int64
        public var healthIntervalMillis: Int64
        public var retryBaseMillis: Int64
        public var leaseMillis: Int64
        public var concurrency: Int
        public var disableAfterMillis: Int64
        public var retentionMillis: Int64

        public init(
            detectIntervalMillis: Int64 = 1_000, healthIntervalMillis: Int64 = 10_000, retryBaseMillis: Int64 = 5_000,
            leaseMillis: Int64 = 60_000, concurrency: Int = 32, disableAfterMillis: Int64 = 86_400_000,
            retentionMillis: Int64 = 7 * 86_400_000
        ) {
            self.detectIntervalMillis = max(50, detectIntervalMillis)
            self.healthIntervalMillis = max(100, healthIntervalMillis)
            self.retryBaseMillis = max(1, retryBaseMillis)
            self.leaseMillis = max(1_000, leaseMillis)
            self.concurrency = max(1, concurrency)
            self.disableAfterMillis = max(1, disableAfterMillis)
            self.retentionMillis = retentionMillis
        }
    }

    public let configuration: Configuration
    private let store: any Store
    private let catalog: SourceCatalog
    private let sender: any WebhookSender
    private let clock: WallClock
    private let isLeader: @Sendable () -> Bool
    private let logger: Logger
    private let stationKinds: Set<SourceKind>
    private let transitKinds: Set<SourceKind>
    private let detector: Mutex<Detector>
    private let activity = FeedActivityCache()

    public init(
        store: any Store, catalog: SourceCatalog, sender: any WebhookSender, connectors: ConnectorDescriptions,
        clock: WallClock, configuration: Configuration = Configuration(),
        isLeader: @escaping @Sendable () -> Bool = { true }, logger: Logger
    ) {
        self.store = store
        self.catalog = catalog
        self.sender = sender
        self.clock = clock
        self.configuration = configuration
        self.isLeader = isLeader
        self.logger = logger
        self.stationKinds = connectors.kinds(producing: .stations)
        self.transitKinds = connectors.kinds(producing: .transit)
        self.detector = Mutex(Detector())
    }

    public func run() async throws {
        var lastDetect: Int64 = 0
        var lastPrune: Int64 = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var sent = 0
            if isLeader() {
                let now = clock.nowMillis
                do {
                    if now - lastDetect >= configuration.detectIntervalMillis {
                        lastDetect = now
                        try await detect(now: now)
                    }
                    sent = try await dispatch(now: clock.nowMillis)
                    if now - lastPrune >= 3_600_000 {
                        lastPrune = now
                        _ = try await store.pruneWebhookDeliveries(before: now - configuration.retentionMillis)
                    }
                } catch {
                    logger.warning("webhooks: a round failed", metadata: ["error": "\(loggable(error))"])
                    detector.withLock { $0 = Detector() }
                }
            }
            // A full batch is followed by the next at once.
            if sent < configuration.concurrency * 4 { try? await Task.sleep(for: .milliseconds(100)) }
        }
    }

    // MARK: Detection

    /// The state events are found in, and what was recorded per endpoint.
    struct Detector: Sendable {
        var stations: [String: [StoredStation]] = [:]
        var disruptions: [String: [StoredValue<Disruption>]] = [:]
        var alerts: [CityAlert] = []
        var health: [String: FeedHealth] = [:]
        var seenRuns: [String: Int64?] = [:]
        var lastHealth: Int64?
        var conditions: [String: [String: String]] = [:]
    }

    static let baselineKey = "*"

    /// One round: reads what changed, then compares each endpoint's conditions (public for tests).
    public func detect(now: Int64) async throws {
        let endpoints = try await store.webhookEndpoints().filter(\.enabled)
        guard !endpoints.isEmpty else { return }
        var state = detector.withLock { $0 }
        let wanted = Set(endpoints.flatMap(\.events))
        let states = Dictionary(
            try await store.sourceStates().map { ($0.sourceID, $0.lastSuccessAt) }, uniquingKeysWith: { a, _ in a })
        for source in catalog.all {
            let marker = states[source.id] ?? nil
            if let seen = state.seenRuns[source.id], seen == marker { continue }
            state.seenRuns[source.id] = marker
            if stationKinds.contains(source.kind), wanted.contains(where: { $0.hasPrefix("station.") }) {
                state.stations[source.id] = try await store.stations(StationQuery(sourceID: source.id, limit: 100_000))
            }
            if transitKinds.contains(source.kind), wanted.contains(where: { $0.hasPrefix("disruption.") }) {
                state.disruptions[source.id] = try await store.disruptions(sourceIDs: [source.id])
            }
        }
        if wanted.contains(where: { $0.hasPrefix("alert.") }) {
            var alerts: [CityAlert] = []
            for city in ProcessCityJob.cities(catalog).keys.sorted() {
                alerts += try await store.cityAlerts(city: city, states: nil, limit: 500)
            }
            state.alerts = alerts
        }
        if wanted.contains(where: { $0.hasPrefix("source.") }),
            state.lastHealth.map({ now - $0 >= configuration.healthIntervalMillis }) ?? true
        {
            state.lastHealth = now
            for source in catalog.all {
                state.health[source.id] = try await FeedHealth.assess(
                    source, store: store, activity: activity, now: now
                ).health
            }
        }
        var changes = WebhookChanges()
        for endpoint in endpoints {
            if state.conditions[endpoint.id] == nil {
                state.conditions[endpoint.id] = try await store.webhookConditions(endpointID: endpoint.id)
            }
            let old = state.conditions[endpoint.id] ?? [:]
            let (current, events) = Self.evaluate(endpoint, state: state, old: old, now: now)
            for (key, value) in current where old[key] != value {
                changes.conditions.append(.init(endpointID: endpoint.id, key: key, value: value))
            }
            for key in old.keys where current[key] == nil {
                changes.conditions.append(.init(endpointID: endpoint.id, key: key, value: nil))
            }
            for event in events {
                changes.deliveries.append(
                    WebhookDelivery(
                        endpointID: endpoint.id, type: event.type, body: try CityDocuments.encode(event), createdAt: now
                    ))
            }
            state.conditions[endpoint.id] = current
        }
        state.conditions = state.conditions.filter { id, _ in endpoints.contains { $0.id == id } }
        try await store.recordWebhookChanges(changes)
        if !changes.deliveries.isEmpty {
            logger.info("webhooks: events found", metadata: ["deliveries": "\(changes.deliveries.count)"])
        }
        detector.withLock { $0 = state }
    }

    /// An endpoint's conditions now, and the events of what changed since `old` (none on its
    /// first round, which has no baseline key yet).
    static func evaluate(_ endpoint: WebhookEndpoint, state: Detector, old: [String: String], now: Int64) -> (
        [String: String], [WebhookEvent]
    ) {
        let baselined = old[baselineKey] != nil
        var current: [String: String] = [baselineKey: "1"]
        var events: [WebhookEvent] = []
        func source(_ id: String) -> Bool { endpoint.sources.map { $0.contains(id) } ?? true }
        if endpoint.takes(.stationEmpty) || endpoint.takes(.stationFull) {
            for (sourceID, stations) in state.stations where source(sourceID) {
                for stored in stations {
                    let o = stored.observation
                    if let only = endpoint.stations, !only.contains(o.stationID) { continue }
                    let condition: String
                    if o.status != .inService {
                        condition = "closed"
                    } else if o.bikesAvailable <= endpoint.emptyAtMost {
                        condition = "empty"
                    } else if let docks = o.docksAvailable, docks <= endpoint.fullAtMost {
                        condition = "full"
                    } else {
                        condition = "ok"
                    }
                    let key = "station|\(o.sourceID)/\(o.stationID)"
                    current[key] = condition
                    guard baselined, let before = old[key], before != condition else { continue }
                    let type: WebhookEventType? =
                        condition == "empty" ? .stationEmpty : condition == "full" ? .stationFull : nil
                    guard let type, endpoint.takes(type) else { continue }
                    var data = WebhookEvent.Payload()
                    data.source = o.sourceID
                    data.station = o.stationID
                    data.name = o.name
                    data.bikes = o.bikesAvailable
                    data.docks = o.docksAvailable
                    data.capacity = o.capacity
                    data.latitude = o.latitude
                    data.longitude = o.longitude
                    data.state = condition
                    data.observedAt = o.observedAt
                    data.run = stored.runID
                    events.append(WebhookEvent(type: type, at: now, data: data))
                }
            }
        }
        if endpoint.takes(.disruptionStarted) || endpoint.takes(.disruptionEnded) {
            var ended = Set(old.keys.filter { $0.hasPrefix("disruption|") })
            for (sourceID, disruptions) in state.disruptions where source(sourceID) {
                for stored in disruptions {
                    let d = stored.value
                    if let lines = endpoint.lines, Set(lines).isDisjoint(with: d.routeIDs) { continue }
                    let key = "disruption|\(d.sourceID)/\(d.id)"
                    current[key] = "active"
                    ended.remove(key)
                    guard baselined, old[key] == nil, endpoint.takes(.disruptionStarted) else { continue }
                    events.append(WebhookEvent(type: .disruptionStarted, at: now, data: payload(d, run: stored.runID)))
                }
            }
            // A disruption that left the feed (or whose source left the endpoint's filter) ended.
            for key in ended.sorted() where baselined && endpoint.takes(.disruptionEnded) {
                let id = key.dropFirst("disruption|".count)
                var data = WebhookEvent.Payload()
                if let slash = id.firstIndex(of: "/") {
                    data.source = String(id[..<slash])
                    data.disruption = String(id[id.index(after: slash)...])
                }
                data.state = "ended"
                events.append(WebhookEvent(type: .disruptionEnded, at: now, data: data))
            }
        }
        if endpoint.takes(.alertOpened) || endpoint.takes(.alertResolved) {
            for alert in state.alerts {
                if let cities = endpoint.cities, !cities.contains(alert.city) { continue }
                if let zones = endpoint.zones, !zones.contains(alert.zone) { continue }
                let condition: String
                switch alert.state {
                case .pending: continue
                case .open, .acknowledged: condition = "open"
                case .resolved: condition = "resolved"
                }
                let key = "alert|\(alert.id)"
                current[key] = condition
                let before = old[key]
                guard baselined, before != condition else { continue }
                let type: WebhookEventType
                if condition == "open" {
                    type = .alertOpened
                } else if before == "open" {
                    type = .alertResolved
                } else {
                    continue
                }
                guard endpoint.takes(type) else { continue }
                var data = WebhookEvent.Payload()
                data.city = alert.city
                data.zone = alert.zone
                data.alert = alert.id
                data.kind = alert.kind
                data.severity = alert.severity
                data.message = alert.message
                data.recommendation = alert.recommendation
                data.value = alert.value
                data.state = alert.state.rawValue
                data.observedAt = alert.updatedAt
                events.append(WebhookEvent(type: type, at: now, data: data))
            }
        }
        if endpoint.takes(.sourceStale) || endpoint.takes(.sourceDown) || endpoint.takes(.sourceLive) {
            for (sourceID, health) in state.health where source(sourceID) {
                let key = "source|\(sourceID)"
                let condition = health.state.rawValue
                current[key] = condition
                guard baselined, let before = old[key], before != condition else { continue }
                let type: WebhookEventType?
                switch health.state {
                case .stale: type = .sourceStale
                case .down: type = .sourceDown
                case .live where before == "stale" || before == "down": type = .sourceLive
                default: type = nil
                }
                guard let type, endpoint.takes(type) else { continue }
                var data = WebhookEvent.Payload()
                data.source = sourceID
                data.state = condition
                data.reason = health.reason
                events.append(WebhookEvent(type: type, at: now, data: data))
            }
        }
        return (current, events)
    }

    static func payload(_ d: Disruption, run: String) -> WebhookEvent.Payload {
        var data = WebhookEvent.Payload()
        data.source = d.sourceID
        data.disruption = d.id
        data.header = d.header
        data.lines = d.routeIDs
        data.effect = d.effect
        data.severity = d.severity
        data.state = "active"
        data.observedAt = d.observedAt
        data.run = run
        return data
    }

    // MARK: Delivery

    /// Sends the deliveries due; returns how many were attempted (public for tests and benchmarks).
    public func dispatch(now: Int64) async throws -> Int {
        let due = try await store.claimWebhookDeliveries(
            now: now, leaseMillis: configuration.leaseMillis, limit: configuration.concurrency * 4)
        guard !due.isEmpty else { return 0 }
        var endpoints: [String: WebhookEndpoint] = [:]
        for id in Set(due.map(\.endpointID)) { endpoints[id] = try await store.webhookEndpoint(id: id) }
        let (sender, clock, base) = (self.sender, self.clock, configuration.retryBaseMillis)
        var outcomes: [(endpointID: String, attempt: WebhookDelivery.Attempt)] = []
        var updated: [WebhookDelivery] = []
        // Attempts are recorded together after the batch: one write. A process that dies before
        // lets the batch's leases run out, and the deliveries are sent again (at least once).
        try await withThrowingTaskGroup(of: WebhookDelivery?.self) { group in
            var iterator = due.makeIterator()
            func start() {
                guard let delivery = iterator.next() else { return }
                guard let endpoint = endpoints[delivery.endpointID] else { return start() }
                group.addTask {
                    let started = clock.nowMillis
                    let clockStart = ContinuousClock.now
                    let (status, error) = await sender.send(delivery, to: endpoint, at: started)
                    let elapsed = ContinuousClock.now - clockStart
                    let attempt = WebhookDelivery.Attempt(
                        number: delivery.attempts.count + 1, at: started,
                        latencyMillis: elapsed.components.seconds * 1000 + elapsed.components.attoseconds
                            / 1_000_000_000_000_000, statusCode: status, error: error)
                    var attempted = delivery
                    attempted.attempts.append(attempt)
                    let finished = clock.nowMillis
                    if attempt.succeeded {
                        attempted.status = .succeeded
                    } else {
                        let next = finished + WebhookDelivery.retryDelay(afterAttempt: attempt.number, baseMillis: base)
                        if next > attempted.expiresAt {
                            attempted.status = .failed
                        } else {
                            attempted.nextAttemptAt = next
                        }
                    }
                    return attempted
                }
            }
            for _ in 0..<configuration.concurrency { start() }
            while let result = try await group.next() {
                if let result, let attempt = result.attempts.last {
                    updated.append(result)
                    outcomes.append((result.endpointID, attempt))
                }
                start()
            }
        }
        try await store.updateWebhookDeliveries(updated)
        try await judgeEndpoints(outcomes, now: clock.nowMillis)
        return due.count
    }

    /// Notes when each endpoint started failing (cleared by a success) and disables one that
    /// has failed for `disableAfterMillis`.
    private func judgeEndpoints(_ outcomes: [(endpointID: String, attempt: WebhookDelivery.Attempt)], now: Int64)
        async throws
    {
        for (id, attempts) in Dictionary(grouping: outcomes, by: \.endpointID) {
            guard var endpoint = try await store.webhookEndpoint(id: id) else { continue }
            let before = endpoint
            for attempt in attempts.map(\.attempt).sorted(by: { $0.at < $1.at }) {
                if attempt.succeeded {
                    endpoint.failingSince = nil
                } else {
                    endpoint.failingSince = endpoint.failingSince ?? attempt.at
                    if endpoint.enabled, now - (endpoint.failingSince ?? now) >= configuration.disableAfterMillis {
                        endpoint.enabled = false
                        let last = attempt.statusCode.map { "HTTP \($0)" } ?? attempt.error ?? "no answer"
                        endpoint.disabledReason =
                            "every delivery failed since \(Timestamp.iso8601(endpoint.failingSince ?? now)) (last: \(last))"
                        logger.warning(
                            "webhooks: endpoint disabled",
                            metadata: ["endpoint": "\(id)", "reason": "\(endpoint.disabledReason ?? "")"])
                    }
                }
            }
            if endpoint != before {
                endpoint.updatedAt = now
                try await store.putWebhookEndpoint(endpoint)
            }
        }
    }
}
