package import Hummingbird
package import MetropulseCore

/// City Live as the API and the city page show it: what `process_city` left per zone (features,
/// anomalies, risk) and the alerts, each with how old its inputs are and the runs behind them.
package struct CityLiveBoard: Sendable {
    package let environment: APIEnvironment

    package init(_ environment: APIEnvironment) {
        self.environment = environment
    }

    package struct FeatureDTO: Codable, Sendable {
        package var name: String
        package var value: Double
        package var unit: String?
        package var observedAt: String
        package var ageSeconds: Double
        package var source: String
        /// The task run that fetched the reading.
        package var runId: String
        /// For `us_aqi`, the dominant pollutant.
        package var detail: String?
    }

    package struct Features: ResponseCodable, Sendable {
        package var city: String
        package var zone: String
        /// When process_city computed them; absent before its first run.
        package var computedAt: String?
        package var features: [FeatureDTO]
        package var anomalies: [CityLive.Anomaly]
        package var risk: CityLive.Risk?
    }

    package struct ZoneRisk: Codable, Sendable {
        package var zone: String
        package var score: Double
        package var level: String
        package var components: [CityLive.RiskComponent]
        /// The age of the oldest and newest reading behind it.
        package var oldestInputAgeSeconds: Double?
        package var newestInputAgeSeconds: Double?
        /// The task runs that fetched the readings behind it, by feature.
        package var inputRuns: [String: String]
    }

    package struct RiskList: ResponseCodable, Sendable {
        package var city: String
        package var computedAt: String?
        /// The job and its cycle that computed the scores.
        package var job: String
        package var zones: [ZoneRisk]
    }

    package struct AlertDTO: ResponseCodable, Sendable {
        package var id: String
        package var zone: String
        package var kind: String
        package var state: String
        package var severity: String
        package var message: String
        package var recommendation: String
        package var value: Double
        package var peak: Double
        package var firstSeenAt: String
        package var openedAt: String?
        package var updatedAt: String
        package var resolvedAt: String?
        package var acknowledgedAt: String?
        package var acknowledgedBy: String?

        init(_ a: CityAlert) {
            id = a.id
            zone = a.zone
            kind = a.kind
            state = a.state.rawValue
            severity = a.severity
            message = a.message
            recommendation = a.recommendation
            value = a.value
            peak = a.peak
            firstSeenAt = Timestamp.iso8601(a.firstSeenAt)
            openedAt = a.openedAt.map(Timestamp.iso8601)
            updatedAt = Timestamp.iso8601(a.updatedAt)
            resolvedAt = a.resolvedAt.map(Timestamp.iso8601)
            acknowledgedAt = a.acknowledgedAt.map(Timestamp.iso8601)
            acknowledgedBy = a.acknowledgedBy
        }
    }

    package struct AlertList: ResponseCodable, Sendable {
        package var city: String
        package var count: Int
        package var alerts: [AlertDTO]
    }

    /// A city known to the catalogue (a source tagged with it, or declared).
    package func requireCity(_ city: String) throws {
        let known = Set(ProcessCityJob.cities(environment.catalog).keys)
        guard known.contains(city) || environment.catalog.city(id: city) != nil else {
            let names = known.sorted().joined(separator: ", ")
            throw HTTPError(.notFound, message: "unknown city '\(city)' (known: \(names.isEmpty ? "none" : names))")
        }
    }

    package func features(city: String, zone: String, now: Int64) async throws -> Features {
        try requireCity(city)
        let snapshots = try await environment.store.zoneSnapshots(city: city)
        guard let snapshot = snapshots.first(where: { $0.zone == zone }) else {
            let declared = environment.catalog.city(id: city)?.zones.contains { $0.id == zone } ?? false
            guard declared else { throw HTTPError(.notFound, message: "unknown zone '\(zone)' in city '\(city)'") }
            return Features(city: city, zone: zone, computedAt: nil, features: [], anomalies: [], risk: nil)
        }
        return Features(
            city: city, zone: zone, computedAt: Timestamp.iso8601(snapshot.computedAt),
            features: snapshot.features.map {
                FeatureDTO(
                    name: $0.name, value: $0.value, unit: $0.unit, observedAt: Timestamp.iso8601($0.observedAt),
                    ageSeconds: Double(max(0, now - $0.observedAt)) / 1000, source: $0.sourceID, runId: $0.runID,
                    detail: $0.detail)
            }, anomalies: snapshot.anomalies, risk: snapshot.risk)
    }

    package func risk(city: String, now: Int64) async throws -> RiskList {
        try requireCity(city)
        let snapshots = try await environment.store.zoneSnapshots(city: city)
        return RiskList(
            city: city, computedAt: snapshots.map(\.computedAt).max().map(Timestamp.iso8601), job: "process_city",
            zones: snapshots.sorted { $0.risk.score > $1.risk.score }.map { s in
                let times = s.features.map(\.observedAt)
                return ZoneRisk(
                    zone: s.zone, score: s.risk.score, level: s.risk.level, components: s.risk.components,
                    oldestInputAgeSeconds: times.min().map { Double(max(0, now - $0)) / 1000 },
                    newestInputAgeSeconds: times.max().map { Double(max(0, now - $0)) / 1000 },
                    inputRuns: Dictionary(
                        s.features.filter { !$0.name.hasPrefix(CityLive.requestCategoryPrefix) }.map {
                            ($0.name, $0.runID)
                        }
                    ) { a, _ in a })
            })
    }

    package struct ZoneForecast: Codable, Sendable {
        package var zone: String
        package var metric: String
        package var method: String
        /// The last hour of readings the forecast starts from, and its age.
        package var origin: String
        package var inputAgeSeconds: Double
        package var level: Double
        package var unit: String?
        /// The source and run of the zone's latest reading of the metric.
        package var source: String?
        package var runId: String?
        package var samples: Int
        package var points: [StationBoard.ForecastPointDTO]
    }

    package struct ForecastList: ResponseCodable, Sendable {
        package var city: String
        /// When process_city computed them; absent before its first run.
        package var computedAt: String?
        package var job: String
        package var zones: [ZoneForecast]
    }

    /// The forecasts the zones' snapshots hold, zone by zone, with the age and run of their input.
    package static func zoneForecasts(_ snapshots: [ZoneSnapshot], now: Int64) -> [ZoneForecast] {
        snapshots.sorted { $0.zone < $1.zone }.flatMap { snapshot in
            (snapshot.forecasts ?? []).map { forecast in
                let input = snapshot.features.first { $0.name == "power_demand_mw" }
                return ZoneForecast(
                    zone: snapshot.zone, metric: forecast.metric, method: forecast.method,
                    origin: Timestamp.iso8601(forecast.origin),
                    inputAgeSeconds: Double(max(0, now - forecast.origin)) / 1000, level: forecast.level,
                    unit: input?.unit, source: input?.sourceID, runId: input?.runID, samples: forecast.samples,
                    points: forecast.points.map(StationBoard.ForecastPointDTO.init))
            }
        }
    }

    /// Each zone's power demand for the next 24 hours, as process_city last computed it.
    package func forecast(city: String, now: Int64) async throws -> ForecastList {
        try requireCity(city)
        let snapshots = try await environment.store.zoneSnapshots(city: city)
        let zones = Self.zoneForecasts(snapshots, now: now)
        return ForecastList(
            city: city, computedAt: snapshots.map(\.computedAt).max().map(Timestamp.iso8601), job: "process_city",
            zones: zones)
    }

    /// `state`: open, acknowledged, resolved, pending, active (open or acknowledged, the default), all.
    package func alerts(city: String, state: String?, limit: Int) async throws -> AlertList {
        try requireCity(city)
        let states: [CityAlert.State]?
        switch state ?? "active" {
        case "active": states = [.open, .acknowledged]
        case "all": states = nil
        case let name:
            guard let one = CityAlert.State(rawValue: name) else {
                throw HTTPError(
                    .badRequest, message: "state must be one of: active, open, acknowledged, resolved, pending, all")
            }
            states = [one]
        }
        let alerts = try await environment.store.cityAlerts(city: city, states: states, limit: limit)
        return AlertList(city: city, count: alerts.count, alerts: alerts.map(AlertDTO.init))
    }

    package func acknowledge(city: String, id: String, by: String?) async throws -> AlertDTO {
        try requireCity(city)
        guard var alert = try await environment.store.cityAlert(id: id), alert.city == city else {
            throw HTTPError(.notFound, message: "no alert '\(id)' in city '\(city)'")
        }
        switch alert.state {
        case .open:
            let now = environment.clock.nowMillis
            alert.state = .acknowledged
            alert.acknowledgedAt = now
            alert.acknowledgedBy = by
            alert.updatedAt = now
            try await environment.store.upsertCityAlerts([alert])
        case .acknowledged: break
        case .pending, .resolved:
            throw HTTPError(
                .conflict, message: "alert '\(id)' is \(alert.state.rawValue): only an open alert is acknowledged")
        }
        return AlertDTO(alert)
    }
}
