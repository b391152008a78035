import Foundation
import HTTPTypes
import HummingbirdTesting
import MetropulseCore
import MetropulseSQLite
import NIOCore
import Testing

@testable import MetropulseAPI

@Suite("City Live endpoints, in process")
struct CityLiveAPITests {
    @Test("features with their runs and ages, risk highest first, alerts by state, ack (admin), process (admin)")
    func cityLive() async throws {
        let now = TestAPI.now
        let api = try TestAPI(
            sources: [
                SourceDefinition(
                    id: "air", kind: .city, urls: ["http://127.0.0.1:1/a"], tags: ["city": "demo", "zone": "centre"])
            ], cities: [City(id: "demo", zones: [.init(id: "centre"), .init(id: "nord")])])
        defer { api.close() }
        let feature = CityLive.Feature(
            name: "us_aqi", value: 130, unit: "AQI", observedAt: now - 60_000, sourceID: "air", runID: "run-1")
        let risk = CityLive.risk(["us_aqi": feature], powerPeak: nil)
        try await api.store.putZoneSnapshots([
            ZoneSnapshot(
                city: "demo", zone: "centre", computedAt: now - 30_000, features: [feature], anomalies: [], risk: risk),
            ZoneSnapshot(
                city: "demo", zone: "nord", computedAt: now - 30_000, features: [], anomalies: [],
                risk: CityLive.risk([:], powerPeak: nil)),
        ])
        let checks = CityAlerts.checks(zone: "centre", features: ["us_aqi": feature], risk: risk, anomalies: [])
        var alerts = CityAlerts.step(city: "demo", active: [], checks: checks, now: now - 600_000)
        alerts = CityAlerts.step(city: "demo", active: alerts, checks: checks, now: now - 300_000)
        try await api.store.upsertCityAlerts(alerts)
        let id = try #require(alerts.first?.id)
        try await api.test { client in
            let features = try await client.get(
                "/api/cities/demo/zones/centre/features", as: CityLiveBoard.Features.self)
            #expect(features.features.first?.runId == "run-1" && features.features.first?.ageSeconds == 60)
            #expect(features.risk?.score == risk.score)
            let empty = try await client.get(
                "/api/cities/demo/zones/sud/features", as: ErrorBody.self, status: .notFound)
            #expect(empty.error.message.contains("sud"))
            let ranked = try await client.get("/api/cities/demo/risk", as: CityLiveBoard.RiskList.self)
            #expect(ranked.zones.map(\.zone) == ["centre", "nord"] && ranked.zones.first?.newestInputAgeSeconds == 60)
            #expect(ranked.zones.first?.inputRuns == ["us_aqi": "run-1"])
            _ = try await client.get("/api/cities/nowhere/risk", as: ErrorBody.self, status: .notFound)
            let active = try await client.get("/api/cities/demo/alerts", as: CityLiveBoard.AlertList.self)
            #expect(active.alerts.map(\.state) == ["open"])
            #expect(active.alerts.first?.recommendation.contains("limiting outdoor exercise") == true)
            _ = try await client.get("/api/cities/demo/alerts?state=bogus", as: ErrorBody.self, status: .badRequest)

            var headers = HTTPFields()
            headers[.init("X-API-Key")!] = TestAPI.readKey
            let path = "/api/cities/demo/alerts/\(id.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)/ack"
            try await client.execute(uri: path, method: .post, headers: headers) { #expect($0.status == .forbidden) }
            headers[.init("X-API-Key")!] = TestAPI.adminKey
            try await client.execute(uri: path, method: .post, headers: headers) { response in
                #expect(response.status == .ok)
            }
            let acknowledged = try await client.get(
                "/api/cities/demo/alerts?state=acknowledged", as: CityLiveBoard.AlertList.self)
            #expect(acknowledged.alerts.first?.acknowledgedBy == "admin")
            try await client.execute(uri: "/api/cities/demo/process", method: .post, headers: headers) { response in
                #expect(response.status == .accepted)
            }
            let state = try await api.store.jobStates().first { $0.jobID == "process_city" }
            #expect(state?.requestedBy == "admin")
        }
    }

    @Test("forecasts: a zone's power demand with its input's run and age; a station's bikes for 60 minutes")
    func forecasts() async throws {
        let now = TestAPI.now
        let api = try TestAPI(
            sources: [
                SourceDefinition(
                    id: "power", kind: .city, urls: ["http://127.0.0.1:1/p"], tags: ["city": "demo", "zone": "centre"]),
                SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"]),
            ], cities: [City(id: "demo", zones: [.init(id: "centre")])])
        defer { api.close() }
        let hour: Int64 = 3_600_000
        let origin = now - now % hour - hour
        var hourly: [Int64: Double] = [:]
        for h in 0..<(8 * 24) { hourly[origin - Int64(h) * hour] = 400 + Double((h % 24) * 5) }
        let forecast = try #require(Forecasting.power(hourly: hourly, origin: origin))
        let input = CityLive.Feature(
            name: "power_demand_mw", value: 400, unit: "MW", observedAt: origin, sourceID: "power", runID: "run-p")
        try await api.store.putZoneSnapshots([
            ZoneSnapshot(
                city: "demo", zone: "centre", computedAt: now - 10_000, features: [input], anomalies: [],
                risk: CityLive.risk(["power_demand_mw": input], powerPeak: nil), forecasts: [forecast])
        ])
        // A station at 3 bikes now, with hourly means of 8 over the last 10 days.
        let station = StationObservation(
            sourceID: "bikes", stationID: "1", capacity: 20, bikesAvailable: 3, docksAvailable: 17, isInstalled: true,
            isRenting: true, isReturning: true, observedAt: now - 60_000)
        try await api.write(ObservationBatch(stations: [station]), source: "bikes", at: now - 60_000)
        let hours = (1...240).map { h in
            StationHour(
                sourceID: "bikes", stationID: "1", hour: now - now % hour - Int64(h) * hour, observations: 60,
                bikesMean: 8, bikesMin: 6, bikesMax: 10)
        }
        try await api.store.replaceStationHours(
            sourceID: "bikes", hours: hours.map(\.hour), rows: hours, writtenAt: now)
        try await api.test { client in
            let city = try await client.get("/api/cities/demo/forecast", as: CityLiveBoard.ForecastList.self)
            let zone = try #require(city.zones.first)
            #expect(zone.zone == "centre" && zone.metric == "power_demand" && zone.points.count == 24)
            #expect(zone.runId == "run-p" && zone.source == "power" && zone.unit == "MW")
            #expect(zone.inputAgeSeconds == Double(now - origin) / 1000 && zone.method == "profile+level")
            _ = try await client.get("/api/cities/nowhere/forecast", as: ErrorBody.self, status: .notFound)
            let bikes = try await client.get(
                "/api/stations/bikes/1/forecast", as: StationBoard.StationForecast.self)
            #expect(bikes.points.count == 12 && bikes.method == "profile+level" && bikes.samples >= 2)
            #expect(bikes.runId == "bikes@\(now - 60_000)" && bikes.inputAgeSeconds == 60)
            // From 3 towards the usual 8.
            let values = bikes.points.map(\.value)
            #expect(values.first! > 3 && values.last! < 8 && values == values.sorted())
            _ = try await client.get("/api/stations/bikes/404/forecast", as: ErrorBody.self, status: .notFound)
            _ = try await client.get("/api/stations/nope/1/forecast", as: ErrorBody.self, status: .notFound)
        }
    }

    @Test("demo incidents: refused without the demo, checked field by field, published to the demo servers")
    func demoIncidents() async throws {
        var api = try TestAPI(
            sources: [], cities: [City(id: "demo", zones: [.init(id: "centre"), .init(id: "sud")])])
        defer { api.close() }
        let commands = try await api.environment.bus.commands()
        var headers = HTTPFields()
        headers[.init("X-API-Key")!] = TestAPI.adminKey
        headers[.contentType] = "application/json"
        let adminHeaders = headers
        func post(_ body: String, _ status: HTTPResponse.Status, mentioning word: String? = nil) async throws {
            let headers = adminHeaders
            try await api.test { client in
                try await client.execute(
                    uri: "/api/demo/incidents", method: .post, headers: headers, body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == status, "\(body)")
                    if let word {
                        #expect(String(buffer: response.body).contains(word), "\(body)")
                    }
                }
            }
        }
        try await post(#"{"zone": "sud", "metric": "pm2_5", "value": 300}"#, .conflict, mentioning: "not enabled")
        api.environment.demoEnabled = true
        try await post(#"{"zone": "mars", "metric": "pm2_5", "value": 300}"#, .badRequest, mentioning: "zone")
        try await post(#"{"zone": "sud", "metric": "gold", "value": 300}"#, .badRequest, mentioning: "metric")
        try await post(#"{"zone": "sud", "metric": "pm2_5", "value": 1e9}"#, .badRequest, mentioning: "value")
        try await post(
            #"{"zone": "sud", "metric": "pm2_5", "value": 3, "minutes": 0}"#, .badRequest, mentioning: "minutes")
        try await post(#"{"zone": "sud", "metric": "pm2_5", "value": 300, "minutes": 20}"#, .accepted)
        var iterator = commands.makeAsyncIterator()
        let command = try #require(await iterator.next())
        #expect(command.kind == .demoIncident)
        #expect(
            command.incident
                == DemoIncident(
                    zone: "sud", metric: "pm2_5", value: 300, from: TestAPI.now, until: TestAPI.now + 20 * 60_000))
    }
}
