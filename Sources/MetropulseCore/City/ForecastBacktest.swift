/// Backtests of `Forecasting` on stored history (`metropulse bench forecast`): at many past
/// moments, each method forecasts from what was stored before that moment, and its error is
/// measured against what was stored after.
public struct ForecastBacktest: Sendable {
    /// The mean absolute error of each method, over every origin and horizon.
    public struct Score: Sendable, Hashable {
        public var name: String
        public var unit: String
        public var series: Int
        public var forecasts: Int
        public var points: Int
        public var method: Double
        public var persistence: Double
        public var seasonalNaive: Double

        /// Whether the method's error is below both baselines'.
        public var beatsBoth: Bool { points > 0 && method < persistence && method < seasonalNaive }
    }

    public let store: any Store
    public let catalog: SourceCatalog

    public init(store: any Store, catalog: SourceCatalog) {
        self.store = store
        self.catalog = catalog
    }

    struct Errors {
        var method = 0.0
        var persistence = 0.0
        var seasonal = 0.0
        var points = 0
        var forecasts = 0

        mutating func add(_ actual: Double, method m: Double, persistence p: Double, seasonal s: Double) {
            method += abs(m - actual)
            persistence += abs(p - actual)
            seasonal += abs(s - actual)
            points += 1
        }

        func score(_ name: String, _ unit: String, series: Int) -> Score {
            let n = Double(max(1, points))
            return Score(
                name: name, unit: unit, series: series, forecasts: forecasts, points: points, method: method / n,
                persistence: persistence / n, seasonalNaive: seasonal / n)
        }
    }

    /// Power demand per zone, 24 hours ahead, from every hour with at least 2 days of history
    /// before it and 24 hours after it (the seasonal-naive forecast needs one day at least).
    public func power(now: Int64) async throws -> Score {
        var errors = Errors()
        var seriesCount = 0
        for (city, sources) in ProcessCityJob.cities(catalog).sorted(by: { $0.key < $1.key }) {
            var zones = Set(catalog.city(id: city)?.zones.map(\.id) ?? [])
            zones.formUnion(try await store.latestMeasurements(sourceIDs: sources, zone: nil).map(\.value.zone))
            for zone in zones.sorted() {
                let hours = try await store.zoneHours(
                    sourceIDs: sources, zone: zone, metric: nil, since: now - 57 * Forecasting.day, until: now,
                    limit: 500_000)
                let series = ProcessCityJob.hourlySeries(hours, feature: "power_demand_mw")
                guard let first = series.keys.min(), let last = series.keys.max() else { continue }
                seriesCount += 1
                var origin = first + 2 * Forecasting.day
                while origin + 24 * Forecasting.hour <= last {
                    defer { origin += Forecasting.hour }
                    guard let level = series[origin], let forecast = Forecasting.power(hourly: series, origin: origin)
                    else { continue }
                    errors.forecasts += 1
                    for point in forecast.points {
                        guard let actual = series[point.at],
                            let seasonal = Forecasting.seasonalNaive(series, at: point.at, before: origin + 1)
                        else { continue }
                        errors.add(actual, method: point.value, persistence: level, seasonal: seasonal)
                    }
                }
            }
        }
        return errors.score("power demand, next 24 h (per zone, hourly)", "MW", series: seriesCount)
    }

    /// Bikes per station, 5 to 60 minutes ahead, from origins every `every` over the stored raw
    /// history of each bike source (at most `stations` stations each), with at least 2 days of
    /// history before the origin.
    public func bikes(now: Int64, stations limit: Int = 100, every: Int64 = 30 * 60_000) async throws -> Score {
        var errors = Errors()
        var seriesCount = 0
        let sources = catalog.all.filter { $0.kind == .gbfs || $0.kind == .odsRecords }
        for source in sources {
            let since = now - 15 * Forecasting.day
            let observations = try await store.stationObservations(sourceID: source.id, from: since, until: now + 1)
            guard !observations.isEmpty else { continue }
            var byStation: [String: [(at: Int64, bikes: Int, capacity: Int?)]] = [:]
            for observation in observations {
                let bikes = observation.bikesAvailable
                byStation[observation.stationID, default: []].append(
                    (observation.observedAt, bikes, observation.capacity))
            }
            let chosen = byStation.keys.sorted().prefix(limit)
            let hourRows = try await store.stationHours(
                sourceID: source.id, stationID: nil, since: since, until: now, limit: 5_000_000)
            var means: [String: [Int64: Double]] = [:]
            for row in hourRows where byStation[row.stationID] != nil {
                means[row.stationID, default: [:]][row.hour] = row.bikesMean
            }
            for station in chosen {
                guard var history = byStation[station], let hourly = means[station] else { continue }
                history.sort { $0.at < $1.at }
                seriesCount += 1
                // The value at a time: the last observation at or before it.
                func value(at t: Int64) -> (at: Int64, bikes: Int, capacity: Int?)? {
                    var low = 0
                    var high = history.count
                    while low < high {
                        let mid = (low + high) / 2
                        if history[mid].at <= t { low = mid + 1 } else { high = mid }
                    }
                    return low == 0 ? nil : history[low - 1]
                }
                // Hourly means only of hours over by the origin: the forecast filters them itself.
                var origin = history[0].at + 2 * Forecasting.day
                origin -= origin % every
                let end = history[history.count - 1].at - Forecasting.hour
                while origin <= end {
                    defer { origin += every }
                    guard let current = value(at: origin) else { continue }
                    let forecast = Forecasting.bikes(
                        hourlyMeans: hourly, bikes: current.bikes, origin: origin, capacity: current.capacity)
                    errors.forecasts += 1
                    for point in forecast.points {
                        guard let actual = value(at: point.at), let yesterday = value(at: point.at - Forecasting.day)
                        else { continue }
                        let week = value(at: point.at - Forecasting.week)
                        let seasonal = Double(
                            (point.at - Forecasting.week >= history[0].at ? week : nil)?.bikes ?? yesterday.bikes)
                        errors.add(
                            Double(actual.bikes), method: point.value, persistence: Double(current.bikes),
                            seasonal: seasonal)
                    }
                }
            }
        }
        return errors.score("bikes per station, next 60 min (5-min steps)", "bikes", series: seriesCount)
    }

    /// The scores as a table, with each method's error as a share of the better baseline's.
    public static func table(_ scores: [Score]) -> String {
        func f(_ x: Double) -> String {
            let scaled = (x * 100).rounded() / 100
            return String(scaled)
        }
        var lines = [
            "| forecast | series | forecasts | points | profile+level MAE | persistence MAE | seasonal-naive MAE | ratio to the better baseline | beats both |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for s in scores {
            let better = min(s.persistence, s.seasonalNaive)
            let ratio = better > 0 ? f(s.method / better) : "—"
            lines.append(
                "| \(s.name) | \(s.series) | \(s.forecasts) | \(s.points) | \(f(s.method)) \(s.unit) | \(f(s.persistence)) \(s.unit) | \(f(s.seasonalNaive)) \(s.unit) | \(ratio) | \(s.points == 0 ? "no history" : (s.beatsBoth ? "yes" : "NO")) |"
            )
        }
        return lines.joined(separator: "\n")
    }
}
