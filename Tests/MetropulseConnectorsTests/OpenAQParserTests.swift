import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("OpenAQ v3 on real captures")
struct OpenAQParserTests {
    @Test("sensor 3 measurements: 48 PM2.5 readings timed at the end of their period")
    func sensorMeasurements() throws {
        let result = try OpenAQParser.parse(
            Fixtures.bytes("city-apis/openaq-v3/v3_sensors-3_measurements_2023-03-07.json"), sourceID: "aq",
            zone: "centre", fetchedAt: 0)
        #expect(result.measurements.count == 48 && result.rejected.isEmpty)
        let first = try #require(result.measurements.first)
        #expect(first.metric == "pm25" && first.value == 7 && first.unit == "µg/m³")
        #expect(first.observedAt == Timestamp.parse("2023-03-07T05:30:00Z") && first.zone == "centre")
    }

    @Test("location 1 latest: the sensor's value with its position")
    func locationLatest() throws {
        let result = try OpenAQParser.parse(
            Fixtures.bytes("city-apis/openaq-v3/v3_locations-1_latest.json"), sourceID: "aq", zone: "z", fetchedAt: 0)
        let reading = try #require(result.measurements.first)
        #expect(reading.metric == "sensor_1" && reading.value == 8.15)
        #expect(reading.location == GeoPoint(latitude: -16.51516, longitude: -151.76306))
        #expect(result.newest == Timestamp.parse("2025-07-09T01:30:00Z"))
    }

    @Test("an error answer and a page without results are rejected with the reason")
    func errors() {
        let error = #expect(throws: FetchError.self) {
            _ = try OpenAQParser.parse(
                Array(#"{"detail": "Unauthorized"}"#.utf8), sourceID: "s", zone: "z", fetchedAt: 0)
        }
        #expect(error?.kind == .validation && error?.message.contains("Unauthorized") == true)
        let empty = #expect(throws: FetchError.self) {
            _ = try OpenAQParser.parse(Array(#"{"meta": {}}"#.utf8), sourceID: "s", zone: "z", fetchedAt: 0)
        }
        #expect(empty?.message.contains("no results") == true)
    }
}
