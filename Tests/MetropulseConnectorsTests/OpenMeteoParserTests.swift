import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("Open-Meteo on real captures")
struct OpenMeteoParserTests {
    @Test("Kyoto 2023: the legacy current_weather block, local time at UTC offset 0")
    func currentWeather() throws {
        let reading = try OpenMeteoParser.parse(
            Fixtures.bytes("city-apis/open-meteo/forecast_current_weather_kyoto_2023-08-09.json"), sourceID: "kyoto",
            zone: "centre", fetchedAt: 0)
        #expect(reading.time == Timestamp.parse("2023-08-09T00:00:00Z"))
        #expect(reading.latitude == 34.9 && reading.longitude == 135.75)
        let values = Dictionary(uniqueKeysWithValues: reading.measurements.map { ($0.metric, $0.value) })
        #expect(
            values == ["temperature": 31.4, "windspeed": 14.6, "winddirection": 123, "weathercode": 1, "is_day": 1])
        #expect(reading.measurements.allSatisfy { $0.zone == "centre" && $0.sourceID == "kyoto" })
        #expect(reading.measurements.first?.location == GeoPoint(latitude: 34.9, longitude: 135.75))
    }

    @Test("multi-model forecast 2025: no current block, so each hourly variable at the hour nearest the fetch")
    func hourlyNearest() throws {
        let fetchedAt = try #require(Timestamp.parse("2025-11-24T10:20:00Z"))
        let reading = try OpenMeteoParser.parse(
            Fixtures.bytes("city-apis/open-meteo/forecast_multimodel-ecmwf_45.75N-12.75E_2025-11-24.json"),
            sourceID: "venice", zone: "lagoon", fetchedAt: fetchedAt)
        #expect(reading.time == Timestamp.parse("2025-11-24T10:00:00Z"))
        let temperature = try #require(reading.measurements.first { $0.metric == "temperature_2m_ecmwf_ifs025" })
        #expect(temperature.unit == "°C" && temperature.value == 4.3 && temperature.observedAt == reading.time)
        // 180 hourly variables; 143 have a value at that hour (the others are null for this model).
        #expect(reading.measurements.count == 143)
    }

    @Test("an Open-Meteo error answer, an answer without readings, not JSON")
    func errors() {
        let cases: [(String, FetchErrorKind, String)] = [
            (#"{"error": true, "reason": "Latitude must be in range of -90 to 90°."}"#, .validation, "Latitude"),
            (#"{"latitude": 1, "longitude": 2}"#, .validation, "no current"),
            ("<html>", .decode, "JSON"),
        ]
        for (body, kind, text) in cases {
            let error = #expect(throws: FetchError.self) {
                _ = try OpenMeteoParser.parse(Array(body.utf8), sourceID: "s", zone: "z", fetchedAt: 0)
            }
            #expect(
                error?.kind == kind && error?.message.contains(text) == true, "\(body): \(String(describing: error))")
        }
    }
}
