import Foundation
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import MetropulseDemo
import Testing

@Suite("The demo city's city APIs, read by their own formats")
struct DemoCityAPIsTests {
    static let now = Timestamp.parse("2026-12-07T11:20:00Z")!

    @Test("EIA, Socrata 311 and HERE answers parse into every zone's readings")
    func demoShapes() throws {
        let power = try EIAParser.parse(
            DemoCityAPIs.eia(nowMillis: Self.now, respondents: [], length: nil), sourceID: "p", zone: nil,
            respondentZones: ["DEMO-C": "centre", "DEMO-N": "nord", "DEMO-S": "sud"])
        #expect(power.rejected.isEmpty && power.measurements.count == 3 * 48)
        #expect(power.newest == Timestamp.parse("2026-12-07T10:00:00Z"))
        #expect(Set(power.measurements.map(\.zone)) == ["centre", "nord", "sud"])
        let requests = try ServiceRequestParser.parse(
            DemoCityAPIs.serviceRequests(nowMillis: Self.now, limit: 500), shape: .socrata, sourceID: "r",
            zone: nil, city: MetropulseDemoZones.city, timezone: "+01:00", fetchedAt: Self.now)
        #expect(requests.rejected.isEmpty && requests.requests.count == 500)
        #expect(requests.requests.allSatisfy { $0.createdAt <= Self.now })
        #expect(requests.windowEnd == Self.now)
        #expect(Set(requests.measurements.map(\.zone)) == ["centre", "nord", "sud"])
        let traffic = try TrafficParsers.hereFlow(
            DemoCityAPIs.hereFlow(nowMillis: Self.now), sourceID: "t", zone: nil, city: MetropulseDemoZones.city,
            fetchedAt: Self.now)
        #expect(traffic.rejected.isEmpty)
        #expect(traffic.measurements.filter { $0.metric == "traffic_segments" }.map(\.value) == [6, 6, 6])
    }

    @Test("an incident makes the demo's sensors in its zone read its value, only there and only for its time")
    func incident() throws {
        let incidents = DemoIncidents()
        incidents.add(
            DemoIncident(zone: "sud", metric: "pm2_5", value: 300, from: Self.now, until: Self.now + 600_000))
        func pm25(_ latitude: Double, at t: Int64) throws -> Double? {
            let body = DemoWeather.current(
                latitude: latitude, longitude: 2.3522, variables: ["pm2_5"], nowMillis: t, incidents: incidents)
            return try OpenMeteoParser.parse(body, sourceID: "a", zone: "z", fetchedAt: t).measurements.first?.value
        }
        #expect(try pm25(48.8166, at: Self.now + 60_000) == 300)
        #expect(try pm25(48.8566, at: Self.now + 60_000) != 300)
        #expect(try pm25(48.8166, at: Self.now + 600_000) != 300)
        #expect(Set(DemoWeather.variables) == Set(DemoIncident.metrics))
    }
}

/// The demo city's zones as the default configuration declares them.
enum MetropulseDemoZones {
    static let city = MetropulseConfiguration.demoCities[0]
}
