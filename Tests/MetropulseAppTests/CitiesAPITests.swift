import Foundation
import MetropulseApp
import MetropulseCore
import Testing

@Suite("City sensors API on the demo zones")
struct CitiesAPITests {
    @Test("demo weather, air, power, 311 and traffic per zone, fetched in the publishers' shapes, served with history")
    func demoZones() async throws {
        let sources = MetropulseConfiguration.demoSources.filter { $0.kind == .city }
        #expect(sources.count == 9)
        let app = try await RunningApp.start(
            configuration(database: try temporaryFolder() + "/m.sqlite", sources: sources))

        let (_, cities) = try await getJSON("\(app.base)/api/cities")
        let demo = try #require((cities["cities"] as? [[String: Any]])?.first)
        #expect(demo["city"] as? String == "demo" && demo["zones"] as? [String] == ["centre", "nord", "sud"])

        var zones: [[String: Any]] = []
        try await eventually("every zone has readings") {
            zones = try await getJSON("\(app.base)/api/cities/demo/zones").json["zones"] as? [[String: Any]] ?? []
            // Every zone has a reading from each of its publishers.
            let wanted: Set = ["temperature_2m", "pm2_5", "us_aqi", "power_demand", "requests_311", "congestion"]
            return zones.count == 3
                && zones.allSatisfy { zone in
                    wanted.isSubset(
                        of: Set((zone["metrics"] as? [[String: Any]] ?? []).compactMap { $0["metric"] as? String }))
                }
        }
        let centre = try #require(zones.first { $0["zone"] as? String == "centre" })
        let metrics = try #require(centre["metrics"] as? [[String: Any]])
        let temperature = try #require(metrics.first { $0["metric"] as? String == "temperature_2m" })
        #expect(temperature["unit"] as? String == "°C" && temperature["value"] is Double)
        #expect((temperature["age_seconds"] as? Double ?? 999) < 120)
        #expect(metrics.contains { $0["metric"] as? String == "pm2_5" && $0["source"] as? String == "demo-air-centre" })
        // The air quality indexes, derived from the concentrations at ingest.
        let aqi = try #require(metrics.first { $0["metric"] as? String == "us_aqi" })
        #expect(aqi["source"] as? String == "demo-air-centre" && (aqi["value"] as? Double ?? 0) > 0)
        #expect(metrics.contains { $0["metric"] as? String == "eaqi_level" })
        #expect(metrics.contains { ($0["metric"] as? String)?.hasPrefix("us_aqi.") == true })
        // Power demand from the EIA-shaped answer, its respondent mapped to the zone; 311 counts
        // and road traffic per zone of their positions.
        let demand = try #require(metrics.first { $0["metric"] as? String == "power_demand" })
        #expect(demand["unit"] as? String == "MW" && demand["source"] as? String == "demo-power")
        let requests = try #require(metrics.first { $0["metric"] as? String == "requests_311" })
        #expect(requests["source"] as? String == "demo-311" && requests["unit"] as? String == "requests")
        let speed = try #require(metrics.first { $0["metric"] as? String == "traffic_speed" })
        #expect(speed["source"] as? String == "demo-traffic" && (speed["value"] as? Double ?? 0) > 0)

        let (status, history) = try await getJSON(
            "\(app.base)/api/cities/demo/zones/centre/history?metric=temperature_2m&since=2020-01-01T00:00:00Z")
        #expect(status == 200 && (history["count"] as? Int ?? 0) >= 1)
        #expect(
            (history["readings"] as? [[String: Any]])?.allSatisfy { $0["metric"] as? String == "temperature_2m" }
                == true)

        #expect(try await getJSON("\(app.base)/api/cities/atlantis/zones").status == 404)
        #expect(try await getJSON("\(app.base)/api/cities/demo/zones/moon/history").status == 404)
        let (bad, error) = try await getJSON("\(app.base)/api/cities/demo/zones/centre/history?since=yesterday")
        #expect(bad == 400 && ((error["error"] as? [String: Any])?["message"] as? String)?.contains("since") == true)
        try await app.stop()
    }
}
