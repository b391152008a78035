import Foundation
import MetropulseCore
import Testing

@Suite("City Live: anomalies, risk and the alerts' lifecycle")
struct CityLiveTests {
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000
    /// 2026-01-26 12:00 UTC, a Monday.
    static let judged: Int64 = 1_769_428_800_000

    /// Hourly values over 28 days of a daily cycle, with a little noise.
    static func cycle(days: Int = 28) -> [Int64: Double] {
        var history: [Int64: Double] = [:]
        for h in 1...(days * 24) {
            let at = judged - Int64(h) * hour
            let hourOfDay = Double((at / hour) % 24)
            let wave: Double = 8 * sin(hourOfDay / 24 * 2 * Double.pi)
            history[at] = 20 + wave + Double(h % 3) * 0.2
        }
        return history
    }

    @Test(
        "a spike is flagged against the same hour of past weeks; the normal cycle is not; too little history is not judged"
    )
    func anomalies() throws {
        let history = Self.cycle()
        let usual = try #require(history[Self.judged - 7 * Self.day])
        let normal = try #require(
            CityLive.anomaly(metric: "pm2_5", hour: Self.judged, value: usual + 0.2, history: history))
        #expect(!normal.isAnomaly && normal.basis == "hour_of_week" && normal.samples == 4)
        let spike = try #require(
            CityLive.anomaly(metric: "pm2_5", hour: Self.judged, value: usual + 30, history: history))
        #expect(spike.isAnomaly && spike.score >= CityLive.anomalyScore)
        #expect(abs(spike.median - usual) < 0.5)
        // Every hour of the last day is normal for the cycle.
        for h in 1...24 {
            let at = Self.judged - Int64(h) * Self.hour
            var past = history
            past[at] = nil
            let judged = try #require(CityLive.anomaly(metric: "pm2_5", hour: at, value: history[at]!, history: past))
            #expect(!judged.isAnomaly, "hour \(h) back")
        }
        // Ten days of history: judged by the same hour of the day; three days: not judged.
        #expect(
            CityLive.anomaly(metric: "x", hour: Self.judged, value: 1, history: Self.cycle(days: 10))?.basis
                == "hour_of_day")
        #expect(CityLive.anomaly(metric: "x", hour: Self.judged, value: 1, history: Self.cycle(days: 3)) == nil)
    }

    static func feature(_ name: String, _ value: Double, unit: String? = nil) -> (String, CityLive.Feature) {
        (name, CityLive.Feature(name: name, value: value, unit: unit, observedAt: 0, sourceID: "s", runID: "r"))
    }

    @Test("the risk score is the sum of its components' points")
    func risk() {
        let features = Dictionary(uniqueKeysWithValues: [
            Self.feature("temperature_c", 32, unit: "°C"), Self.feature("us_aqi", 140), Self.feature("congestion", 0.5),
            Self.feature("power_demand_mw", 475),
        ])
        let risk = CityLive.risk(features, powerPeak: 500)
        #expect(risk.components.map(\.name) == ["heat", "air", "congestion", "power", "incidents"])
        #expect(abs(risk.components.reduce(0) { $0 + $1.points } - risk.score) < 1e-9)
        // heat (32-26)/12 = 0.5 → 12.5; air (140-50)/150 = 0.6 → 15; congestion 0.5 → 10;
        // power (0.95-0.8)/0.2 = 0.75 → 11.25; no 311 feed → 0.
        #expect(abs(risk.score - 48.75) <= 0.1 && risk.level == "elevated")
        #expect(risk.components.last?.input == "no 311 requests reading")
        #expect(CityLive.risk([:], powerPeak: nil).score == 0)
    }

    @Test("an alert opens after 2 windows, stays single while the condition lasts, resolves with hysteresis")
    func lifecycle() {
        var active: [CityAlert] = []
        var history: [[CityAlert]] = []
        func window(aqi: Double, at t: Int64) {
            let features = Dictionary(uniqueKeysWithValues: [Self.feature("us_aqi", aqi)])
            let checks = CityAlerts.checks(
                zone: "centre", features: features, risk: CityLive.risk(features, powerPeak: nil), anomalies: [])
            let changed = CityAlerts.step(city: "demo", active: active, checks: checks, now: t)
            for alert in changed {
                if let index = active.firstIndex(where: { $0.id == alert.id }) {
                    active[index] = alert
                } else {
                    active.append(alert)
                }
            }
            active.removeAll { !$0.state.isActive }
            history.append(changed)
        }
        window(aqi: 80, at: 1)
        #expect(active.isEmpty)
        window(aqi: 120, at: 2)
        #expect(active.map(\.state) == [.pending])
        window(aqi: 130, at: 3)
        #expect(active.map(\.state) == [.open] && active.first?.openedAt == 3)
        let id = active.first?.id
        window(aqi: 160, at: 4)
        window(aqi: 95, at: 5)  // between 90 and 100: still on
        #expect(active.count == 1 && active.first?.id == id && active.first?.severity == "critical")
        #expect(active.first?.peak == 160)
        #expect(active.first?.recommendation.contains("zone centre") == true)
        window(aqi: 85, at: 6)
        #expect(active.first?.state == .open)
        window(aqi: 99, at: 7)  // not cleared: the clear streak starts again
        window(aqi: 85, at: 8)
        #expect(active.first?.state == .open)
        window(aqi: 80, at: 9)
        #expect(active.isEmpty)
        #expect(history.last?.first?.state == .resolved && history.last?.first?.resolvedAt == 9)
        // A new episode is a new alert.
        window(aqi: 120, at: 10)
        window(aqi: 120, at: 11)
        #expect(active.count == 1 && active.first?.id != id)
    }
}
