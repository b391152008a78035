import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("City APIs (EIA, 311, road traffic) on real captures")
struct CityAPIParserTests {
    // MARK: EIA

    @Test("EIA region data, PACW demand: 169 hourly readings in MW, exact first and last")
    func eiaDemand() throws {
        let body = try #require(try Fixtures.cassetteBodies("city-apis/eia-pacw/eia_oregon_demand.yaml").first)
        let result = try EIAParser.parse(body, sourceID: "power", zone: nil, respondentZones: ["PACW": "portland"])
        #expect(result.measurements.count == 169 && result.rejected.isEmpty)
        let first = try #require(result.measurements.first)
        #expect(first.metric == "power_demand" && first.value == 2455 && first.unit == "MW")
        #expect(first.zone == "portland" && first.observedAt == Timestamp.parse("2023-01-01T00:00:00Z"))
        let last = try #require(result.measurements.last)
        #expect(last.value == 2577 && last.observedAt == Timestamp.parse("2023-01-08T00:00:00Z"))
        #expect(result.newest == last.observedAt)
    }

    @Test("EIA fuel-type data: generation by fuel, a negative value kept, the respondent as zone")
    func eiaFuelTypes() throws {
        let body = try #require(try Fixtures.cassetteBodies("city-apis/eia-pacw/eia_oregon_renewable.yaml").first)
        let result = try EIAParser.parse(body, sourceID: "power", zone: nil)
        #expect(result.measurements.count == 845 && result.rejected.isEmpty)
        let metrics = Set(result.measurements.map(\.metric))
        #expect(
            metrics == ["generation_ng", "generation_oth", "generation_sun", "generation_wat", "generation_wnd"])
        #expect(Set(result.measurements.map(\.zone)) == ["PACW"])
        let lowest = try #require(result.measurements.min { $0.value < $1.value })
        #expect(lowest.value == -3 && lowest.metric == "generation_wnd")
        #expect(lowest.observedAt == Timestamp.parse("2023-01-03T15:00:00Z"))
    }

    @Test("EIA: an error, a damaged answer, a null hour and a cut answer say why")
    func eiaDamaged() throws {
        let error = #expect(throws: FetchError.self) {
            _ = try EIAParser.parse(Array(#"{"error": "invalid api_key"}"#.utf8), sourceID: "p", zone: nil)
        }
        #expect(error?.kind == .validation && error?.message.contains("invalid api_key") == true)
        var body = try #require(try Fixtures.cassetteBodies("city-apis/eia-pacw/eia_oregon_demand.yaml").first)
        let damaged = #expect(throws: FetchError.self) {
            _ = try EIAParser.parse(Array(body.prefix(body.count / 2)), sourceID: "p", zone: nil)
        }
        #expect(damaged?.kind == .decode)
        let noData = #expect(throws: FetchError.self) {
            _ = try EIAParser.parse(Array(#"{"response": {"total": "0"}}"#.utf8), sourceID: "p", zone: nil)
        }
        #expect(noData?.message.contains("response.data") == true)
        // One hour without a value, and a total above the rows held.
        var text = String(decoding: body, as: UTF8.self)
        text = text.replacingOccurrences(of: #""value":"2579""#, with: #""value":null"#)
        text = text.replacingOccurrences(of: #""total":"169""#, with: #""total":"500""#)
        body = Array(text.utf8)
        let result = try EIAParser.parse(body, sourceID: "p", zone: "z")
        #expect(result.measurements.count == 168)
        #expect(result.rejected.map(\.reason).contains("no value for the hour (null)"))
        #expect(result.rejected.contains { $0.entity == "PACW 2023-01-01T01" })
        #expect(result.rejected.contains { $0.reason.contains("holds 169 of 500 rows") })
    }

    // MARK: 311

    static let newYork = City(
        id: "nyc",
        zones: [
            City.Zone(id: "queens", point: GeoPoint(latitude: 40.70, longitude: -73.83)),
            City.Zone(id: "bronx", point: GeoPoint(latitude: 40.83, longitude: -73.83)),
        ])

    /// Two pages of the NYC 311 cassette as one document: four requests.
    static func nycRequests() throws -> [UInt8] {
        let bodies = try Fixtures.cassetteBodies("city-apis/nyc311/nyc_311_robust.yml")
        #expect(bodies.count == 7)
        let rows = try [0, 5].flatMap {
            try #require(try JSONSerialization.jsonObject(with: Data(bodies[$0])) as? [Any])
        }
        return Array(try JSONSerialization.data(withJSONObject: rows))
    }

    @Test("Socrata 311 (NYC): requests counted per zone in New York time, by category, open ones")
    func socrata311() throws {
        let fetched = try #require(Timestamp.parse("2026-02-20T01:36:05Z"))
        let result = try ServiceRequestParser.parse(
            Self.nycRequests(), shape: .socrata, sourceID: "nyc311", zone: nil, city: Self.newYork,
            timezone: "America/New_York", fetchedAt: fetched)
        #expect(result.requests.count == 4 && result.rejected.isEmpty)
        // Floating local times read as New York's (UTC−5 in February).
        #expect(result.requests.first?.createdAt == Timestamp.parse("2026-02-18T07:25:16Z"))
        // The dataset lags: the window ends at its newest request, not at the fetch.
        #expect(result.windowEnd == Timestamp.parse("2026-02-18T07:25:16Z"))
        func value(_ zone: String, _ metric: String) -> Double? {
            result.measurements.first { $0.zone == zone && $0.metric == metric }?.value
        }
        #expect(value("queens", "requests_311") == 2 && value("queens", "requests_311_open") == 1)
        #expect(value("queens", "requests_311.street_condition") == 2)
        #expect(value("bronx", "requests_311") == 1 && value("bronx", "requests_311.blocked_driveway") == 1)
        #expect(value("bronx", "requests_311.street_condition") == 0)
        // The request without a position counts in the source's own zone.
        #expect(value("nyc311", "requests_311.noise_commercial") == 1)
        #expect(result.measurements.allSatisfy { $0.observedAt == result.windowEnd && $0.unit == "requests" })
    }

    @Test("Open311 (Chicago): 50 requests, the ones without an id counted, the one at 0,0 kept without position")
    func open311() throws {
        let fetched = try #require(Timestamp.parse("2012-12-01T20:30:00Z"))
        let result = try ServiceRequestParser.parse(
            Fixtures.bytes("city-apis/open311-chicago/requests.json"), shape: .open311, sourceID: "chicago",
            zone: "chicago", city: nil, fetchedAt: fetched)
        #expect(result.requests.count == 50)
        #expect(result.requests.count { $0.id == nil } == 7)
        #expect(result.rejected == [Rejection(entity: "12-01952579", reason: "position 0,0", field: "location")])
        #expect(result.windowEnd == fetched)
        func value(_ metric: String) -> Double? { result.measurements.first { $0.metric == metric }?.value }
        // Requested from 19:30 to 20:30 UTC (13:30–14:30 in Chicago), the one at 0,0 included.
        let expected = result.requests.count { $0.createdAt > fetched - 3_600_000 }
        #expect(expected == 11 && value("requests_311") == 11)
        #expect(value("requests_311.graffiti_removal") == 3)
        #expect(value("requests_311_open") == Double(result.requests.count { $0.isOpen }))
        #expect(result.requests.count { !$0.isOpen } == 16)
    }

    @Test("311: a damaged document, an error object and a row without a time say why")
    func serviceRequestsDamaged() throws {
        let body = try Fixtures.bytes("city-apis/open311-chicago/requests.json")
        let damaged = #expect(throws: FetchError.self) {
            _ = try ServiceRequestParser.parse(
                Array(body.prefix(2_000)), shape: .open311, sourceID: "s", zone: nil, city: nil, fetchedAt: 0)
        }
        #expect(damaged?.kind == .decode)
        let error = #expect(throws: FetchError.self) {
            _ = try ServiceRequestParser.parse(
                Array(#"{"error": true, "message": "Unknown column 'x'"}"#.utf8), shape: .socrata, sourceID: "s",
                zone: nil, city: nil, fetchedAt: 0)
        }
        #expect(error?.message.contains("Unknown column") == true)
        let result = try ServiceRequestParser.parse(
            Array(
                #"[{"unique_key": "1", "complaint_type": "Noise"}, {"unique_key": "2", "created_date": "2026-01-01T10:00:00.000"}, {"unique_key": "2", "created_date": "2026-01-01T10:00:00.000"}]"#
                    .utf8),
            shape: .socrata, sourceID: "s", zone: "z", city: nil, fetchedAt: Timestamp.parse("2026-01-01T10:30:00Z")!)
        #expect(result.rejected.map(\.reason) == ["no readable created_date", "duplicate request (listed twice)"])
        #expect(result.requests.count == 1)
        let badZone = #expect(throws: FetchError.self) {
            _ = try ServiceRequestParser.parse(
                Array("[]".utf8), shape: .socrata, sourceID: "s", zone: nil, city: nil, timezone: "Mars/Olympus",
                fetchedAt: 0)
        }
        #expect(badZone?.kind == .configuration)
    }

    // MARK: Road traffic

    @Test("HERE flow (Greenville, 2017): 47 segments, mph read as km/h, congestion from speed and free flow")
    func hereFlow() throws {
        let body = try Fixtures.bytes("city-apis/here-traffic/test_traffic_data.json")
        let result = try TrafficParsers.hereFlow(body, sourceID: "here", zone: "greenville", city: nil, fetchedAt: 0)
        #expect(result.rejected.isEmpty && result.time == Timestamp.parse("2017-06-21T14:34:03Z"))
        func value(_ metric: String) -> Double? { result.measurements.first { $0.metric == metric }?.value }
        #expect(value("traffic_segments") == 47)
        // The expected values, computed from the capture's SP, FF, JF and LE.
        let root = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        var (length, speed, free, jam) = (0.0, 0.0, 0.0, 0.0)
        for roadway in root["RWS"] as! [[String: Any]] {
            for road in roadway["RW"] as! [[String: Any]] {
                for set in road["FIS"] as! [[String: Any]] {
                    for item in set["FI"] as! [[String: Any]] {
                        let le = (item["TMC"] as! [String: Any])["LE"] as! Double
                        let cf = (item["CF"] as! [[String: Any]])[0]
                        length += le
                        speed += (cf["SP"] as! Double) * le
                        free += (cf["FF"] as! Double) * le
                        jam += (cf["JF"] as! Double) * le
                    }
                }
            }
        }
        func rounded(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
        #expect(value("traffic_speed") == rounded(speed / length * 1.609344))
        #expect(value("traffic_free_flow") == rounded(free / length * 1.609344))
        #expect(value("jam_factor") == rounded(jam / length))
        #expect(value("congestion") == rounded(1 - speed / free))
        #expect(result.measurements.first { $0.metric == "traffic_speed" }?.unit == "km/h")
    }

    @Test("HERE flow: segments placed in the city's zones by their first point; damage says why")
    func hereFlowZonesAndDamage() throws {
        let body = try Fixtures.bytes("city-apis/here-traffic/test_traffic_data.json")
        let city = City(
            id: "gvl",
            zones: [
                City.Zone(id: "north", point: GeoPoint(latitude: 34.90, longitude: -82.40)),
                City.Zone(id: "south", point: GeoPoint(latitude: 34.80, longitude: -82.40)),
            ])
        let result = try TrafficParsers.hereFlow(body, sourceID: "here", zone: nil, city: city, fetchedAt: 0)
        let segments = result.measurements.filter { $0.metric == "traffic_segments" }
        #expect(Set(segments.map(\.zone)).isSubset(of: ["north", "south"]))
        #expect(segments.reduce(0) { $0 + $1.value } == 47)
        let damaged = #expect(throws: FetchError.self) {
            _ = try TrafficParsers.hereFlow(
                Array(body.prefix(body.count / 3)), sourceID: "h", zone: nil, city: nil, fetchedAt: 0)
        }
        #expect(damaged?.kind == .decode)
        var text = String(decoding: body, as: UTF8.self)
        text = text.replacingOccurrences(of: #""FF":20.51"#, with: #""FF":null"#)
        let partial = try TrafficParsers.hereFlow(Array(text.utf8), sourceID: "h", zone: "z", city: nil, fetchedAt: 0)
        #expect(partial.rejected.count >= 1)
        #expect(partial.rejected.first?.reason == "no current flow with a speed and a free-flow speed")
        #expect(partial.rejected.first?.entity.hasPrefix("I-385-SPUR/E North St") == true)
        let error = #expect(throws: FetchError.self) {
            _ = try TrafficParsers.hereFlow(
                Array(#"{"Details": "Invalid credentials"}"#.utf8), sourceID: "h", zone: nil, city: nil, fetchedAt: 0)
        }
        #expect(error?.message.contains("Invalid credentials") == true)
    }

    @Test("TomTom incidents (Amsterdam): counts, major ones, closures and known delays per zone")
    func tomtomIncidents() throws {
        let body = try Fixtures.bytes("city-apis/tomtom-incidents/incidents-response.json")
        let result = try TrafficParsers.tomtomIncidents(
            body, sourceID: "tt", zone: "amsterdam", city: nil, fetchedAt: 42)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let properties = (root["incidents"] as! [[String: Any]]).map { $0["properties"] as! [String: Any] }
            .filter { ($0["timeValidity"] as? String ?? "present") == "present" }
        func value(_ metric: String) -> Double? { result.measurements.first { $0.metric == metric }?.value }
        // Twelve road closures in the capture, all of magnitude 4, none with a known delay.
        #expect(properties.count == 12 && value("traffic_incidents") == 12)
        #expect(
            value("traffic_incidents_major") == Double(properties.count { ($0["magnitudeOfDelay"] as? Int ?? 0) >= 3 }))
        #expect(value("road_closures") == Double(properties.count { $0["iconCategory"] as? Int == 8 }))
        #expect(value("traffic_delay") == properties.compactMap { $0["delay"] as? Double }.reduce(0, +))
        #expect(result.rejected.isEmpty && result.measurements.allSatisfy { $0.observedAt == 42 })
        let damaged = #expect(throws: FetchError.self) {
            _ = try TrafficParsers.tomtomIncidents(
                Array(body.prefix(500)), sourceID: "t", zone: nil, city: nil, fetchedAt: 0)
        }
        #expect(damaged?.kind == .decode)
        let error = #expect(throws: FetchError.self) {
            _ = try TrafficParsers.tomtomIncidents(
                Array(#"{"detailedError": {"code": "InvalidKey"}}"#.utf8), sourceID: "t", zone: nil, city: nil,
                fetchedAt: 0)
        }
        #expect(error?.message.contains("InvalidKey") == true)
    }
}
