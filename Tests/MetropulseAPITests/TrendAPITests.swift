import Foundation
import HTTPTypes
import HummingbirdTesting
import MetropulseCore
import MetropulseSQLite
import Testing

@testable import MetropulseAPI

@Suite("Line punctuality and zone statistics endpoints, in process")
struct TrendAPITests {
    @Test("a line's hours and window totals; a zone's hours per metric; unknown ones are 404s, bad windows 400s")
    func trends() async throws {
        let now = TestAPI.now
        let hour = StationHours.hour(of: now) - 2 * StationHours.hourMillis
        let api = try TestAPI(
            sources: [
                SourceDefinition(
                    id: "metro", kind: .gtfsRT, urls: ["http://127.0.0.1:1/tu.pb"], tags: ["network": "paris"]),
                SourceDefinition(
                    id: "weather", kind: .city, urls: ["http://127.0.0.1:1/w"],
                    tags: ["city": "lyon", "zone": "centre"]),
            ], cities: [City(id: "lyon", zones: [.init(id: "centre")])])
        defer { api.close() }
        try await api.store.replaceLineHours(
            sourceID: "metro", hours: [hour, hour + 3_600_000],
            rows: [
                LineHour(
                    sourceID: "metro", routeID: "M1", hour: hour, departures: 10, withDelay: 8, cancelled: 2,
                    delayMean: 60, delayP90: 200, onTimeShare: 0.75),
                LineHour(
                    sourceID: "metro", routeID: "M1", hour: hour + 3_600_000, departures: 4, withDelay: 4, cancelled: 0,
                    delayMean: 30, delayP90: 90, onTimeShare: 1),
                LineHour(
                    sourceID: "metro", routeID: "M2", hour: hour, departures: 3, withDelay: 3, cancelled: 0,
                    delayMean: 0, delayP90: 0, onTimeShare: 1),
            ], writtenAt: now)
        try await api.store.replaceZoneHours(
            sourceID: "weather", hours: [hour],
            rows: [
                ZoneHour(
                    sourceID: "weather", zone: "centre", metric: "temperature_2m", hour: hour, readings: 60, mean: 11.5,
                    min: 9, max: 14, unit: "°C"),
                ZoneHour(
                    sourceID: "weather", zone: "centre", metric: "pm2_5", hour: hour, readings: 60, mean: 20, min: 12,
                    max: 31, unit: "μg/m³"),
            ], writtenAt: now)
        try await api.test { client in
            let line = try await client.get("/api/lines/paris/M1/punctuality", as: TrendBoard.Punctuality.self)
            #expect(line.count == 2 && line.departures == 14 && line.withDelay == 12 && line.cancelled == 2)
            #expect(abs((line.delayMeanSeconds ?? 0) - 50) < 1e-9)
            #expect(abs((line.onTimeShare ?? 0) - 10.0 / 12) < 1e-9)
            #expect(line.hours.first?.delayP90Seconds == 200 && line.onTimeFrom == -60 && line.onTimeUntil == 300)
            let narrow = try await client.get(
                "/api/lines/paris/M1/punctuality?since=\(Timestamp.iso8601(hour + 3_600_000))",
                as: TrendBoard.Punctuality.self)
            #expect(narrow.count == 1 && narrow.departures == 4)
            let none = try await client.get("/api/lines/paris/M9/punctuality", as: TrendBoard.Punctuality.self)
            #expect(none.count == 0 && none.delayMeanSeconds == nil)
            let network = try await client.get("/api/lines/nope/M1/punctuality", as: ErrorBody.self, status: .notFound)
            #expect(network.error.message.contains("nope"))
            let order = try await client.get(
                "/api/lines/paris/M1/punctuality?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
                as: ErrorBody.self, status: .badRequest)
            #expect(order.error.message.contains("since"))

            let zone = try await client.get("/api/cities/lyon/zones/centre/stats", as: TrendBoard.ZoneStats.self)
            #expect(zone.count == 2 && Set(zone.hours.map(\.metric)) == ["temperature_2m", "pm2_5"])
            let one = try await client.get(
                "/api/cities/lyon/zones/centre/stats?metric=pm2_5", as: TrendBoard.ZoneStats.self)
            #expect(one.hours.map(\.max) == [31] && one.hours.first?.unit == "μg/m³")
            _ = try await client.get("/api/cities/lyon/zones/sud/stats", as: ErrorBody.self, status: .notFound)
            _ = try await client.get("/api/cities/paris/zones/centre/stats", as: ErrorBody.self, status: .notFound)
        }
    }
}
