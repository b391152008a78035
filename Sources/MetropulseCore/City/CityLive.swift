/// City Live: what `process_city` derives per zone from what is stored (never from the feeds):
/// features, anomalies against a seasonal baseline, a risk score with its breakdown, and alerts
/// with a lifecycle.
public enum CityLive {
    /// A feature: a reading under the name the processing uses, with where it came from.
    public struct Feature: Sendable, Hashable, Codable {
        public var name: String
        public var value: Double
        public var unit: String?
        public var observedAt: Int64
        public var sourceID: String
        public var runID: String
        /// What else the reading says: for `us_aqi`, the dominant pollutant (`pm2_5`).
        public var detail: String?

        public init(
            name: String, value: Double, unit: String?, observedAt: Int64, sourceID: String, runID: String,
            detail: String? = nil
        ) {
            self.name = name
            self.value = value
            self.unit = unit
            self.observedAt = observedAt
            self.sourceID = sourceID
            self.runID = runID
            self.detail = detail
        }
    }

    /// The features' names, and the metrics each is read from (the first found wins).
    public static let featureMetrics: [(name: String, metrics: [String])] = [
        ("temperature_c", ["temperature_2m", "temperature", "temperature_c", "temp"]),
        ("precipitation_mm", ["precipitation", "rain"]),
        ("wind_kmh", ["wind_speed_10m", "wind_speed", "wind_kmh"]),
        ("us_aqi", ["us_aqi", "aqi"]),
        ("pm2_5", ["pm2_5", "pm25"]),
        ("congestion", ["congestion"]),
        ("jam_factor", ["jam_factor"]),
        ("traffic_incidents", ["traffic_incidents"]),
        ("traffic_speed_kmh", ["traffic_speed", "speed_kmh"]),
        ("power_demand_mw", ["power_demand", "demand_mw", "demand"]),
        ("requests_311", ["requests_311", "service_requests"]),
    ]

    /// 311 requests of one category are features under their metric's name.
    public static let requestCategoryPrefix = "requests_311."

    /// The feature a metric feeds, if any: a name of `featureMetrics`, or a 311 category
    /// (`requests_311.noise_residential`).
    public static func feature(of metric: String) -> String? {
        if metric.hasPrefix(requestCategoryPrefix) { return metric }
        return featureMetrics.first { $0.metrics.contains(metric) }?.name
    }

    /// Whether a metric's hours are judged for anomalies: the features of `featureMetrics` (not
    /// each 311 category, too sparse to have a baseline).
    public static func isJudged(_ metric: String) -> Bool {
        featureMetrics.contains { $0.metrics.contains(metric) }
    }

    /// A value judged against its baseline.
    public struct Anomaly: Sendable, Hashable, Codable {
        public var metric: String
        /// The hour judged (its start), epoch ms.
        public var hour: Int64
        public var value: Double
        /// The baseline: the median of the same hour in past weeks (or days), and its spread.
        public var median: Double
        public var mad: Double
        /// |value − median| / (1.4826 × MAD): a robust z-score.
        public var score: Double
        public var samples: Int
        /// `hour_of_week` or `hour_of_day`.
        public var basis: String
        public var isAnomaly: Bool
    }

    /// A robust z-score this high is an anomaly.
    public static let anomalyScore = 3.5
    /// Past values of the same hour of the week needed before judging by it.
    public static let minimumWeeks = 3
    /// Else past values of the same hour of the day (the last 14 days).
    public static let minimumDays = 5

    /// Judges `value` at `hour` against `history` (hour start → value) of the same metric.
    public static func anomaly(metric: String, hour: Int64, value: Double, history: [Int64: Double]) -> Anomaly? {
        let week: Int64 = 7 * 86_400_000
        let day: Int64 = 86_400_000
        var basis = "hour_of_week"
        var samples = (1...8).compactMap { history[hour - Int64($0) * week] }
        if samples.count < minimumWeeks {
            basis = "hour_of_day"
            samples = (1...14).compactMap { history[hour - Int64($0) * day] }
            guard samples.count >= minimumDays else { return nil }
        }
        let median = Self.median(samples)
        let mad = Self.median(samples.map { abs($0 - median) })
        // A flat history (MAD 0) still allows for a small change: 5 % of the level, at least 0.1.
        let spread = 1.4826 * max(mad, 0.05 * abs(median), 0.1)
        let score = abs(value - median) / spread
        return Anomaly(
            metric: metric, hour: hour, value: value, median: median, mad: mad,
            score: (score * 100).rounded() / 100, samples: samples.count, basis: basis, isAnomaly: score >= anomalyScore
        )
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// One part of a risk score.
    public struct RiskComponent: Sendable, Hashable, Codable {
        public var name: String
        public var weight: Double
        /// 0 (no stress) to 1 (full stress).
        public var level: Double
        /// weight × level × 100, to one decimal: the components' points add up to the score.
        public var points: Double
        /// What it was computed from, in words ("temperature 31.2 °C").
        public var input: String
    }

    public struct Risk: Sendable, Hashable, Codable {
        /// 0 to 100: the sum of the components' points.
        public var score: Double
        public var level: String
        public var components: [RiskComponent]
    }

    /// The risk of a zone from its features (and its power demand's peak over the last 7 days):
    /// heat 25 % (26 °C → 38 °C), air 25 % (US AQI 50 → 200), congestion 20 % (0 → 1),
    /// power stress 15 % (80 % → 100 % of the week's peak hourly demand), incident load 15 %
    /// (311 requests in the last hour, 0 → 20). A missing input counts as no stress and says so.
    public static func risk(_ features: [String: Feature], powerPeak: Double?) -> Risk {
        func clamp(_ x: Double) -> Double { min(1, max(0, x)) }
        func component(_ name: String, _ weight: Double, _ level: Double?, _ input: String) -> RiskComponent {
            let level = level.map(clamp) ?? 0
            return RiskComponent(
                name: name, weight: weight, level: (level * 1000).rounded() / 1000,
                points: (weight * level * 1000).rounded() / 10, input: input)
        }
        func describe(_ name: String, _ label: String) -> String {
            guard let f = features[name] else { return "no \(label) reading" }
            let unit = f.unit.flatMap { $0.isEmpty || $0 == "AQI" ? nil : " \($0)" } ?? ""
            return "\(label) \((f.value * 10).rounded() / 10)\(unit)"
        }
        let demand = features["power_demand_mw"]?.value
        var powerInput = describe("power_demand_mw", "power demand")
        var powerLevel: Double?
        if let demand, let powerPeak, powerPeak > 0 {
            powerLevel = (demand / powerPeak - 0.8) / 0.2
            powerInput += " of a 7-day peak of \((powerPeak * 10).rounded() / 10)"
        } else if demand != nil {
            powerInput += " (less than a day of hours: no peak to compare with yet)"
        }
        let components = [
            component(
                "heat", 0.25, features["temperature_c"].map { ($0.value - 26) / 12 },
                describe("temperature_c", "temperature")),
            component("air", 0.25, features["us_aqi"].map { ($0.value - 50) / 150 }, describe("us_aqi", "US AQI")),
            component("congestion", 0.20, features["congestion"]?.value, describe("congestion", "congestion")),
            component("power", 0.15, powerLevel, powerInput),
            component(
                "incidents", 0.15, features["requests_311"].map { $0.value / 20 },
                describe("requests_311", "311 requests")),
        ]
        let score = (components.reduce(0) { $0 + $1.points } * 10).rounded() / 10
        let level = score >= 60 ? "high" : (score >= 30 ? "elevated" : "low")
        return Risk(score: score, level: level, components: components)
    }
}
