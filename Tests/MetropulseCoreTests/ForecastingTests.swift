import MetropulseCore
import Testing

@Suite("City Live forecasts on fixed histories")
struct ForecastingTests {
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000
    /// Monday 2026-11-02 00:00 UTC.
    static let start: Int64 = 1_762_041_600_000

    /// Hourly demand: a daily shape, 15 % lower at weekends, ±3 % of noise of its own each hour.
    static func demand(days: Int) -> [Int64: Double] {
        var series: [Int64: Double] = [:]
        var seed: UInt64 = 7
        for h in 0..<(days * 24) {
            let t = start + Int64(h) * hour
            let hourOfDay = Double(h % 24)
            var value = 400 + 150 * max(0, 1 - abs(hourOfDay - 19) / 5) + 60 * max(0, 1 - abs(hourOfDay - 8) / 3)
            if (h / 24) % 7 >= 5 { value *= 0.85 }
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = Double(seed >> 33) / Double(1 << 31) - 0.5
            series[t] = value * (1 + 0.06 * noise)
        }
        return series
    }

    @Test("power: a repeating day is forecast exactly; after a level shift the forecast starts from the new level")
    func powerProfile() throws {
        var series: [Int64: Double] = [:]
        for h in 0..<(10 * 24) { series[Self.start + Int64(h) * Self.hour] = Double(300 + (h % 24) * 10) }
        let origin = Self.start + Int64(10 * 24 - 1) * Self.hour
        let exact = try #require(Forecasting.power(hourly: series, origin: origin))
        #expect(exact.method == "profile+level" && exact.points.count == 24)
        #expect(exact.points.allSatisfy { $0.value == $0.profile })
        #expect(exact.points.first?.value == 300 && exact.points.last?.value == 530)
        // The last three hours 20 % above their profile: the first hour carries most of it, the
        // last little of it.
        for back in 0..<3 { series[origin - Int64(back) * Self.hour]! *= 1.2 }
        let shifted = try #require(Forecasting.power(hourly: series, origin: origin))
        let first = try #require(shifted.points.first)
        let last = try #require(shifted.points.last)
        #expect(first.value > 300 * 1.15 && first.value < 300 * 1.2)
        #expect(last.value > 530 && last.value < 530 * 1.02)
        // No history before the origin: persistence, said so (the last hour is a day after the
        // origin, whose value is the profile).
        let lone = try #require(Forecasting.power(hourly: [origin: 42], origin: origin))
        #expect(lone.points.allSatisfy { $0.value == 42 })
        #expect(lone.points.dropLast().allSatisfy { $0.profile == nil } && lone.points.last?.profile == 42)
        #expect(Forecasting.power(hourly: [:], origin: origin) == nil)
    }

    @Test("power: the method beats persistence and seasonal-naive over two weeks of origins")
    func powerBacktest() throws {
        let series = Self.demand(days: 28)
        var errors = (method: 0.0, persistence: 0.0, seasonal: 0.0)
        for h in stride(from: 14 * 24, to: 27 * 24, by: 1) {
            let origin = Self.start + Int64(h) * Self.hour
            let forecast = try #require(Forecasting.power(hourly: series, origin: origin))
            for point in forecast.points {
                let actual = try #require(series[point.at])
                let seasonal = try #require(Forecasting.seasonalNaive(series, at: point.at, before: origin + 1))
                errors.method += abs(point.value - actual)
                errors.persistence += abs(forecast.level - actual)
                errors.seasonal += abs(seasonal - actual)
            }
        }
        #expect(errors.method < errors.seasonal && errors.method < errors.persistence)
    }

    @Test("bikes: the latest level fades into the profile, clamped to the station's capacity")
    func bikes() {
        // Ten days of a station that holds 10 bikes at night and 2 by day.
        var means: [Int64: Double] = [:]
        for h in 0..<(10 * 24) {
            let hourOfDay = h % 24
            means[Self.start + Int64(h) * Self.hour] = hourOfDay >= 8 && hourOfDay < 18 ? 2 : 10
        }
        // At 03:00 on day 10 the station is fuller than usual: 14 of 15.
        let origin = Self.start + 10 * Self.day + 3 * Self.hour
        let forecast = Forecasting.bikes(hourlyMeans: means, bikes: 14, origin: origin, capacity: 15)
        #expect(forecast.method == "profile+level" && forecast.points.count == 12)
        #expect(forecast.points.first?.at == origin + 300_000)
        let values = forecast.points.map(\.value)
        #expect(values == values.sorted(by: >) && values.first! <= 14 && values.last! > 10)
        #expect(forecast.points.allSatisfy { $0.profile == 10 })
        // Above capacity, clamped; without history, persistence.
        let full = Forecasting.bikes(hourlyMeans: means, bikes: 15, origin: origin, capacity: 12)
        #expect(full.points.allSatisfy { $0.value <= 12 })
        let lone = Forecasting.bikes(hourlyMeans: [:], bikes: 6, origin: origin, capacity: 20)
        #expect(lone.method == "persistence" && lone.points.allSatisfy { $0.value == 6 })
    }
}
