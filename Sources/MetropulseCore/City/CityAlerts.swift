import Foundation

/// An alert of a city zone, with its lifecycle: `pending` while its condition has held for fewer
/// than `CityAlerts.openAfter` windows, `open` from then on (not reopened while it lasts),
/// `acknowledged` once an operator says so, `resolved` after its clear condition held for
/// `CityAlerts.clearAfter` windows (hysteresis: the clear threshold is below the trigger).
public struct CityAlert: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case pending, open, acknowledged, resolved

        public var isActive: Bool { self != .resolved }
    }

    public var id: String
    public var city: String
    public var zone: String
    /// `air_quality`, `heat`, `congestion`, `power_stress`, or `anomaly_<metric>`.
    public var kind: String
    public var state: State
    /// info, warning or critical.
    public var severity: String
    public var firstSeenAt: Int64
    public var openedAt: Int64?
    public var updatedAt: Int64
    public var resolvedAt: Int64?
    public var acknowledgedAt: Int64?
    public var acknowledgedBy: String?
    /// Consecutive windows the condition held / the clear condition held.
    public var streak: Int
    public var clearStreak: Int
    /// The value that decided, and the worst seen while open.
    public var value: Double
    public var peak: Double
    public var message: String
    public var recommendation: String
}

/// One window's verdict on one (zone, kind): whether the condition holds, whether its clear
/// condition holds, and the texts an alert would carry.
public struct AlertCheck: Sendable, Hashable {
    public var zone: String
    public var kind: String
    public var value: Double
    public var holds: Bool
    public var clears: Bool
    public var severity: String
    public var message: String
    public var recommendation: String
}

public enum CityAlerts {
    /// Windows (cycles of `process_city`) a condition must hold before its alert opens, and its
    /// clear condition before the alert resolves.
    public static let openAfter = 2
    public static let clearAfter = 2

    /// The checks of a zone's features, risk and anomalies: air quality (US AQI over 100, clear
    /// at 90 or below; critical over 150), heat (30 °C, clear under 28; critical from 35),
    /// congestion (0.7, clear under 0.6), power stress (the risk's power level from 0.75, clear
    /// under 0.5), and an anomaly per metric (clear once its score is under 2.5).
    public static func checks(
        zone: String, features: [String: CityLive.Feature], risk: CityLive.Risk, anomalies: [CityLive.Anomaly]
    ) -> [AlertCheck] {
        var checks: [AlertCheck] = []
        func value(_ name: String) -> Double? { features[name]?.value }
        if let aqi = value("us_aqi") {
            let category = AirQualityIndex.Category(aqi: Int(aqi.rounded()))
            checks.append(
                AlertCheck(
                    zone: zone, kind: "air_quality", value: aqi, holds: aqi > 100, clears: aqi <= 90,
                    severity: aqi > 150 ? "critical" : "warning",
                    message: "US AQI \(Int(aqi.rounded())) in zone \(zone): \(category.label.lowercased())",
                    recommendation: aqi > 150
                        ? "Air quality is unhealthy in zone \(zone): advise everyone to limit time outdoors and sensitive groups to stay inside."
                        : "Air quality is unhealthy for sensitive groups in zone \(zone): advise limiting outdoor exercise."
                ))
        }
        if let temperature = value("temperature_c") {
            checks.append(
                AlertCheck(
                    zone: zone, kind: "heat", value: temperature, holds: temperature >= 30, clears: temperature < 28,
                    severity: temperature >= 35 ? "critical" : "warning",
                    message: "\((temperature * 10).rounded() / 10) °C in zone \(zone)",
                    recommendation:
                        "Heat in zone \(zone): open cooling centres, check on vulnerable residents, water street trees."
                ))
        }
        if let congestion = value("congestion") {
            checks.append(
                AlertCheck(
                    zone: zone, kind: "congestion", value: congestion, holds: congestion >= 0.7,
                    clears: congestion < 0.6,
                    severity: "warning", message: "Congestion \((congestion * 100).rounded()) % in zone \(zone)",
                    recommendation:
                        "Traffic is congested in zone \(zone): adjust signal timing, inform riders of delays, suggest transit."
                ))
        }
        if let power = risk.components.first(where: { $0.name == "power" }), features["power_demand_mw"] != nil,
            power.input.contains("peak")
        {
            checks.append(
                AlertCheck(
                    zone: zone, kind: "power_stress", value: power.level, holds: power.level >= 0.75,
                    clears: power.level < 0.5, severity: "warning",
                    message: "Power demand near its weekly peak in zone \(zone) (\(power.input))",
                    recommendation:
                        "Power demand is near its peak in zone \(zone): ask large consumers to shift load, prepare demand response."
                ))
        }
        for anomaly in anomalies {
            let label = anomaly.metric.replacingOccurrences(of: "_", with: " ")
            checks.append(
                AlertCheck(
                    zone: zone, kind: "anomaly_\(anomaly.metric)", value: anomaly.value, holds: anomaly.isAnomaly,
                    clears: anomaly.score < 2.5, severity: "warning",
                    message:
                        "Unusual \(label) in zone \(zone): \((anomaly.value * 10).rounded() / 10) against a usual \((anomaly.median * 10).rounded() / 10) (score \(anomaly.score))",
                    recommendation:
                        "Check the \(label) sensors and the conditions in zone \(zone); the value is far from the same hour's usual level."
                ))
        }
        return checks
    }

    /// Moves each (zone, kind)'s alert one window on; returns the alerts that changed.
    /// `active` holds the city's alerts not resolved (at most one per zone and kind).
    public static func step(city: String, active: [CityAlert], checks: [AlertCheck], now: Int64) -> [CityAlert] {
        var byKey: [String: CityAlert] = [:]
        for alert in active where alert.state.isActive { byKey["\(alert.zone)\u{1}\(alert.kind)"] = alert }
        var changed: [CityAlert] = []
        for check in checks {
            let key = "\(check.zone)\u{1}\(check.kind)"
            if var alert = byKey[key] {
                if check.holds {
                    alert.streak += 1
                    alert.clearStreak = 0
                    alert.value = check.value
                    alert.peak = max(alert.peak, check.value)
                    alert.message = check.message
                    alert.recommendation = check.recommendation
                    if alert.severity != "critical" || check.severity == "critical" { alert.severity = check.severity }
                    if alert.state == .pending, alert.streak >= openAfter {
                        alert.state = .open
                        alert.openedAt = now
                    }
                } else if alert.state == .pending {
                    alert.streak = 0
                } else if check.clears {
                    alert.clearStreak += 1
                    alert.value = check.value
                    if alert.clearStreak >= clearAfter {
                        alert.state = .resolved
                        alert.resolvedAt = now
                    }
                } else {
                    // Between the clear threshold and the trigger: still on.
                    alert.clearStreak = 0
                    alert.value = check.value
                }
                // An alert that did not change is not written again.
                if alert != byKey[key] {
                    alert.updatedAt = now
                    changed.append(alert)
                }
            } else if check.holds {
                let opens = openAfter <= 1
                changed.append(
                    CityAlert(
                        id: "\(city)-\(check.zone)-\(check.kind)-\(now)", city: city, zone: check.zone,
                        kind: check.kind,
                        state: opens ? .open : .pending, severity: check.severity, firstSeenAt: now,
                        openedAt: opens ? now : nil, updatedAt: now, resolvedAt: nil, acknowledgedAt: nil,
                        acknowledgedBy: nil, streak: 1, clearStreak: 0, value: check.value, peak: check.value,
                        message: check.message, recommendation: check.recommendation))
            }
        }
        return changed
    }
}
