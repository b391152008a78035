/// Forecasts of City Live, from stored history only: power demand per zone for the next 24 hours,
/// and bike availability per station for the next 60 minutes.
///
/// The method, for both: a **seasonal profile blended with the recent level**.
/// - The profile at a time is the median of the same time on past days of the same kind
///   (weekday or weekend, UTC days) over the last 14 days; with two or more weeks of history, the
///   median of the same hour of the week instead; with neither, of every past day.
/// - The recent level is how far the latest values stand from the profile. It is carried into
///   the forecast and fades with the horizon: for power as a ratio fading by `powerFade` an hour,
///   for bikes as a difference fading by `bikeFade` every 5 minutes.
///
/// `metropulse bench forecast` backtests both against persistence (the last value, held) and the
/// seasonal-naive forecast (the value a week earlier, else a day earlier) on the stored history.
public enum Forecasting {
    public static let hour: Int64 = 3_600_000
    public static let day: Int64 = 86_400_000
    public static let week: Int64 = 7 * 86_400_000
    /// How much of the latest level's departure from the profile is left after each hour (power).
    public static let powerFade = 0.9
    /// ... after each 5 minutes (bikes).
    public static let bikeFade = 0.93

    public struct Point: Sendable, Hashable, Codable {
        /// The time forecast (the start of the hour for power), epoch ms.
        public var at: Int64
        public var value: Double
        /// What the seasonal profile alone says (nil where it has no history).
        public var profile: Double?

        public init(at: Int64, value: Double, profile: Double?) {
            self.at = at
            self.value = value
            self.profile = profile
        }
    }

    public struct Forecast: Sendable, Hashable, Codable {
        public var metric: String
        /// `profile+level`, or `persistence` when there is no history to build a profile from.
        public var method: String
        /// The time of the latest value the forecast starts from, epoch ms.
        public var origin: Int64
        /// That latest value.
        public var level: Double
        /// Past days (or weeks) the profile was built from at the first point.
        public var samples: Int
        public var points: [Point]
    }

    static func isWeekend(_ millis: Int64) -> Bool {
        // 1970-01-01 was a Thursday (weekday 3 counting Monday as 0).
        let weekday = ((millis / day) % 7 + 7 + 3) % 7
        return weekday >= 5
    }

    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// The seasonal profile at `time` from `series` (time → value, on a regular grid), using only
    /// values before `before`; with the number of samples it took.
    public static func profile(_ series: [Int64: Double], at time: Int64, before: Int64) -> (Double, Int)? {
        let weekly = (1...4).compactMap { k -> Double? in
            let t = time - Int64(k) * week
            return t < before ? series[t] : nil
        }
        if weekly.count >= 2, let value = median(weekly) { return (value, weekly.count) }
        let weekend = isWeekend(time)
        var sameKind: [Double] = []
        var all: [Double] = []
        for d in 1...14 {
            let t = time - Int64(d) * day
            guard t < before, let value = series[t] else { continue }
            if d <= 7 { all.append(value) }
            if isWeekend(t) == weekend { sameKind.append(value) }
        }
        if let value = median(sameKind) { return (value, sameKind.count) }
        if let value = median(all) { return (value, all.count) }
        return nil
    }

    /// The seasonal-naive forecast of `time`: the value a week earlier, else a day earlier.
    public static func seasonalNaive(_ series: [Int64: Double], at time: Int64, before: Int64) -> Double? {
        var t = time - week
        while t >= before { t -= week }
        if let value = series[t] { return value }
        t = time - day
        while t >= before { t -= day }
        return series[t]
    }

    // MARK: Power

    /// Power demand for the `horizon` hours after `origin` (an hour start with a value in
    /// `hourly`, hour start → MW). The level is the ratio of the last 3 hours to their profile.
    public static func power(hourly: [Int64: Double], origin: Int64, horizon: Int = 24, metric: String = "power_demand")
        -> Forecast?
    {
        guard let last = hourly[origin] else { return nil }
        let cutoff = origin + 1
        var actual = 0.0
        var expected = 0.0
        for back in 0..<3 {
            let t = origin - Int64(back) * hour
            if let value = hourly[t], let (profile, _) = profile(hourly, at: t, before: t) {
                actual += value
                expected += profile
            }
        }
        let ratio = expected > 0 ? actual / expected : 1
        var points: [Point] = []
        var samples = 0
        var usedProfile = false
        for k in 1...max(1, horizon) {
            let t = origin + Int64(k) * hour
            if let (profile, n) = profile(hourly, at: t, before: cutoff) {
                if k == 1 { samples = n }
                usedProfile = true
                let blend = 1 + (ratio - 1) * pow(powerFade, Double(k))
                points.append(Point(at: t, value: round1(max(0, profile * blend)), profile: round1(profile)))
            } else {
                points.append(Point(at: t, value: last, profile: nil))
            }
        }
        return Forecast(
            metric: metric, method: usedProfile ? "profile+level" : "persistence", origin: origin, level: last,
            samples: samples, points: points)
    }

    // MARK: Bikes

    /// Bikes at a station for the next 60 minutes (12 points, 5 minutes apart) from the latest
    /// observation (`bikes` at `origin`) and the station's hourly means (hour start → mean bikes),
    /// each read as the level at the middle of its hour; clamped to 0...capacity.
    public static func bikes(
        hourlyMeans: [Int64: Double], bikes: Int, origin: Int64, capacity: Int?, steps: Int = 12
    ) -> Forecast {
        func profileAt(_ t: Int64) -> (Double, Int)? {
            // Between the middles of the two hours around t.
            let shifted = t - hour / 2
            let start = shifted - ((shifted % hour) + hour) % hour
            let fraction = Double(shifted - start) / Double(hour)
            let before = origin - origin % hour  // only hours over by the origin
            guard let (a, n) = profile(hourlyMeans, at: start, before: before) else { return nil }
            guard let (b, _) = profile(hourlyMeans, at: start + hour, before: before) else { return (a, n) }
            return (a + (b - a) * fraction, n)
        }
        let now = profileAt(origin)?.0
        let offset = now.map { Double(bikes) - $0 } ?? 0
        let upper = Double(capacity ?? Int.max)
        var points: [Point] = []
        var samples = 0
        for k in 1...max(1, steps) {
            let t = origin + Int64(k) * 300_000
            if let (profile, n) = profileAt(t), now != nil {
                if k == 1 { samples = n }
                let value = min(upper, max(0, profile + offset * pow(bikeFade, Double(k))))
                points.append(Point(at: t, value: round1(value), profile: round1(profile)))
            } else {
                points.append(Point(at: t, value: Double(bikes), profile: nil))
            }
        }
        return Forecast(
            metric: "bikes", method: samples > 0 ? "profile+level" : "persistence", origin: origin,
            level: Double(bikes), samples: samples, points: points)
    }

    static func round1(_ x: Double) -> Double { (x * 10).rounded() / 10 }

    static func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 {
            result *= base
            remaining -= 1
        }
        return result
    }
}
