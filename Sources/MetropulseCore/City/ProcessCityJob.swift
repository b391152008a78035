/// What `process_city` computed for one zone of a city in its last run.
public struct ZoneSnapshot: Sendable, Hashable, Codable {
    public var city: String
    public var zone: String
    /// When it was computed (the job's cycle), epoch ms.
    public var computedAt: Int64
    /// The latest reading behind each feature, with its source and run.
    public var features: [CityLive.Feature]
    /// The last complete hour of each metric against its baseline (metrics with enough history).
    public var anomalies: [CityLive.Anomaly]
    public var risk: CityLive.Risk
    /// Power demand for the next 24 hours (`Forecasting.power`), when the zone has power readings.
    public var forecasts: [Forecasting.Forecast]?

    public init(
        city: String, zone: String, computedAt: Int64, features: [CityLive.Feature], anomalies: [CityLive.Anomaly],
        risk: CityLive.Risk, forecasts: [Forecasting.Forecast]? = nil
    ) {
        self.city = city
        self.zone = zone
        self.computedAt = computedAt
        self.features = features
        self.anomalies = anomalies
        self.risk = risk
        self.forecasts = forecasts
    }

    public var featuresByName: [String: CityLive.Feature] {
        Dictionary(features.map { ($0.name, $0) }) { first, _ in first }
    }
}

/// The City Live results (`CityConformanceTests`): the latest snapshot of each zone, and alerts.
public protocol CityStore: Sendable {
    /// Replaces the snapshots of these (city, zone) pairs.
    func putZoneSnapshots(_ snapshots: [ZoneSnapshot]) async throws
    func zoneSnapshots(city: String) async throws -> [ZoneSnapshot]
    /// Inserts or replaces alerts (by id).
    func upsertCityAlerts(_ alerts: [CityAlert]) async throws
    /// A city's alerts in these states (all when nil), the most recently updated first.
    func cityAlerts(city: String, states: [CityAlert.State]?, limit: Int) async throws -> [CityAlert]
    func cityAlert(id: String) async throws -> CityAlert?
}

/// `process_city`: for every city of the catalogue, each zone's features (the latest readings
/// under common names), anomalies of the last complete hour against the same hour of past weeks
/// (or days), a risk score with its breakdown, and the alerts' next window. It reads only the
/// store: the latest readings and `refresh_zone_hours`' rows.
public struct ProcessCityJob: Job {
    public let catalog: SourceCatalog?

    public init(catalog: SourceCatalog?) {
        self.catalog = catalog
    }

    public var description: JobDescription {
        JobDescription(
            id: "process_city", title: "City Live",
            summary:
                "Per city zone: features from the latest readings, anomalies of the last complete hour against the same hour of past weeks (median and MAD), a 0–100 risk score with its components, and alerts that open after 2 windows and resolve with hysteresis. Reads only the store.",
            dependsOn: ["refresh_zone_hours"], timeoutMillis: 5 * 60_000, maxAttempts: 2, retryDelayMillis: 10_000)
    }

    /// Each city with its sources (those tagged `city`).
    public static func cities(_ catalog: SourceCatalog) -> [String: [String]] {
        var cities: [String: [String]] = [:]
        for source in catalog.all {
            guard let city = source.tags["city"] else { continue }
            cities[city, default: []].append(source.id)
        }
        return cities
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        guard let catalog else { return JobResult(detail: "no catalogue: no city to process") }
        let store = context.store
        let now = context.now
        let cities = Self.cities(catalog)
        var (read, snapshotsWritten, alertsChanged, open) = (0, 0, 0, 0)
        for (city, sources) in cities.sorted(by: { $0.key < $1.key }) {
            try Task.checkCancellation()
            let latest = try await store.latestMeasurements(sourceIDs: sources, zone: nil)
            read += latest.count
            var zones = Set(catalog.city(id: city)?.zones.map(\.id) ?? [])
            zones.formUnion(latest.map(\.value.zone))
            var snapshots: [ZoneSnapshot] = []
            var checks: [AlertCheck] = []
            for zone in zones.sorted() {
                // Features: the newest reading of the first metric found for each.
                var features: [String: CityLive.Feature] = [:]
                for stored in latest where stored.value.zone == zone {
                    guard let name = CityLive.feature(of: stored.value.metric) else { continue }
                    if let current = features[name], current.observedAt >= stored.value.observedAt { continue }
                    features[name] = CityLive.Feature(
                        name: name, value: stored.value.value, unit: stored.value.unit,
                        observedAt: stored.value.observedAt, sourceID: stored.value.sourceID, runID: stored.runID)
                }
                // The US AQI's dominant pollutant: the `us_aqi.<pollutant>` reading of the same moment.
                if let aqi = features["us_aqi"] {
                    let prefix = ObservationBatch.usAQIMetric + "."
                    features["us_aqi"]?.detail = latest.first {
                        $0.value.zone == zone && $0.value.sourceID == aqi.sourceID
                            && $0.value.observedAt == aqi.observedAt && $0.value.metric.hasPrefix(prefix)
                    }.map { String($0.value.metric.dropFirst(prefix.count)) }
                }
                // Hourly means per metric over 8 weeks (several sources of a metric averaged).
                let hours = try await store.zoneHours(
                    sourceIDs: sources, zone: zone, metric: nil, since: now - 57 * 86_400_000, until: now,
                    limit: 500_000)
                read += hours.count
                var series: [String: [Int64: (sum: Double, count: Int)]] = [:]
                for row in hours where CityLive.isJudged(row.metric) {
                    var cell = series[row.metric, default: [:]][row.hour] ?? (0, 0)
                    cell = (cell.sum + row.mean, cell.count + 1)
                    series[row.metric, default: [:]][row.hour] = cell
                }
                let judged = StationHours.hour(of: now) - StationHours.hourMillis
                var anomalies: [CityLive.Anomaly] = []
                for (metric, cells) in series.sorted(by: { $0.key < $1.key }) {
                    let history = cells.mapValues { $0.sum / Double($0.count) }
                    guard let value = history[judged],
                        let anomaly = CityLive.anomaly(metric: metric, hour: judged, value: value, history: history)
                    else { continue }
                    anomalies.append(anomaly)
                }
                var powerPeak: Double?
                if let power = features["power_demand_mw"] {
                    let weekAgo = now - 7 * 86_400_000
                    // The week's peak hour, once a day of hours is known.
                    let week = hours.filter { $0.hour >= weekAgo && CityLive.feature(of: $0.metric) == power.name }
                    if Set(week.map(\.hour)).count >= 24 { powerPeak = week.map(\.mean).max() }
                }
                let risk = CityLive.risk(features, powerPeak: powerPeak)
                // Power demand for the next 24 hours, from the hourly means (sources averaged).
                var forecasts: [Forecasting.Forecast] = []
                let demand = Self.hourlySeries(hours, feature: "power_demand_mw")
                if let origin = demand.keys.max(), let forecast = Forecasting.power(hourly: demand, origin: origin) {
                    forecasts.append(forecast)
                }
                snapshots.append(
                    ZoneSnapshot(
                        city: city, zone: zone, computedAt: context.cycle,
                        features: features.values.sorted { $0.name < $1.name }, anomalies: anomalies, risk: risk,
                        forecasts: forecasts.isEmpty ? nil : forecasts))
                checks += CityAlerts.checks(zone: zone, features: features, risk: risk, anomalies: anomalies)
            }
            try await store.putZoneSnapshots(snapshots)
            let active = try await store.cityAlerts(
                city: city, states: [.pending, .open, .acknowledged], limit: 10_000)
            let changed = CityAlerts.step(city: city, active: active, checks: checks, now: context.cycle)
            try await store.upsertCityAlerts(changed)
            snapshotsWritten += snapshots.count
            alertsChanged += changed.count
            var current = Dictionary(active.map { ($0.id, $0) }) { a, _ in a }
            for alert in changed { current[alert.id] = alert }
            open += current.values.count { $0.state == .open || $0.state == .acknowledged }
        }
        return JobResult(
            rowsRead: read, rowsWritten: snapshotsWritten + alertsChanged,
            detail:
                "\(plural(snapshotsWritten, "zone")) of \(cities.count) \(cities.count == 1 ? "city" : "cities") processed; \(plural(open, "alert")) open"
        )
    }

    /// Hour start → mean of the metrics behind `feature` (several sources averaged).
    public static func hourlySeries(_ hours: [ZoneHour], feature: String) -> [Int64: Double] {
        var cells: [Int64: (sum: Double, count: Int)] = [:]
        for row in hours where CityLive.feature(of: row.metric) == feature {
            let cell = cells[row.hour] ?? (0, 0)
            cells[row.hour] = (cell.sum + row.mean, cell.count + 1)
        }
        return cells.mapValues { $0.sum / Double($0.count) }
    }
}
