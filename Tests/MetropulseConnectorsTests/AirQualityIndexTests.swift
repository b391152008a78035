import Foundation
import MetropulseConnectors
import MetropulseCore
import Testing

@Suite("Air quality indexes (US EPA AQI, European index)")
struct AirQualityIndexTests {
    @Test("the EPA's worked examples and the ends of each pollutant's breakpoints")
    func epa() {
        // The Technical Assistance Document's examples: 8-hour ozone 0.078 ppm is 126; PM2.5
        // 35.9 µg/m³ is 102 (truncated to one decimal first).
        #expect(AirQualityIndex.epa(.ozone8h, 0.078) == 126)
        #expect(AirQualityIndex.epa(.pm25, 35.9) == 102)
        #expect(AirQualityIndex.epa(.pm25, 35.94) == 102)
        // Each table's category edges (2024 PM2.5 breakpoints).
        let edges: [(AirQualityIndex.Pollutant, Double, Int)] = [
            (.pm25, 9.0, 50), (.pm25, 9.1, 51), (.pm25, 55.4, 150), (.pm25, 225.5, 301),
            (.pm10, 54, 50), (.pm10, 55, 51), (.pm10, 154, 100), (.pm10, 155, 101), (.pm10, 604, 500),
            (.ozone8h, 0.054, 50), (.ozone8h, 0.055, 51), (.ozone8h, 0.070, 100), (.ozone8h, 0.200, 300),
            (.ozone1h, 0.125, 101), (.ozone1h, 0.604, 500),
            (.carbonMonoxide, 4.4, 50), (.carbonMonoxide, 9.4, 100), (.carbonMonoxide, 8.4, 90),
            (.sulphurDioxide, 35, 50), (.sulphurDioxide, 75, 100), (.sulphurDioxide, 186, 151),
            (.nitrogenDioxide, 53, 50), (.nitrogenDioxide, 100, 100), (.nitrogenDioxide, 360, 150),
            (.nitrogenDioxide, 2049, 500),
        ]
        for (pollutant, value, aqi) in edges {
            #expect(AirQualityIndex.epa(pollutant, value) == aqi, "\(pollutant) \(value)")
        }
        #expect(AirQualityIndex.epa(.ozone1h, 0.1) == nil)
        #expect(AirQualityIndex.epa(.pm25, -1) == nil && AirQualityIndex.epa(.pm25, .nan) == nil)
        #expect(AirQualityIndex.Category(aqi: 126) == .unhealthyForSensitiveGroups)
        // Gases in µg/m³ are converted at 25 °C: 100 µg/m³ of NO₂ is 53 ppb.
        #expect(Int(AirQualityIndex.epaUnits(.nitrogenDioxide, microgramsPerCubicMetre: 100)) == 53)
    }

    @Test("the European index's bands, the worst pollutant deciding")
    func european() {
        #expect(AirQualityIndex.european(.pm25, microgramsPerCubicMetre: 10) == .good)
        #expect(AirQualityIndex.european(.pm25, microgramsPerCubicMetre: 22.1) == .moderate)
        #expect(AirQualityIndex.european(.nitrogenDioxide, microgramsPerCubicMetre: 400) == .extremelyPoor)
        #expect(AirQualityIndex.european(.carbonMonoxide, microgramsPerCubicMetre: 400) == nil)
        let overall = AirQualityIndex.overall(microgramsPerCubicMetre: [.pm10: 120, .nitrogenDioxide: 30])
        #expect(overall?.aqi == 83 && overall?.dominant == .pm10)
        #expect(overall?.european == .veryPoor && overall?.europeanDominant == .pm10)
    }

    @Test("a feed's concentrations get us_aqi and eaqi_level; a feed's own index is kept")
    func derived() throws {
        let reading = try OpenMeteoParser.parse(
            Fixtures.bytes("city-apis/openmeteo-aq/air_quality.json"), sourceID: "air", zone: "centre", fetchedAt: 0)
        var own = ObservationBatch(measurements: reading.measurements)
        own.deriveAirQualityIndexes()
        #expect(own.measurements.filter { $0.metric == "us_aqi" }.map(\.value) == [65], "the feed's own")
        #expect(!own.measurements.contains { $0.metric == "eaqi_level" })

        var concentrations = ObservationBatch(
            measurements: reading.measurements.filter { !$0.metric.contains("aqi") })
        concentrations.deriveAirQualityIndexes()
        let derived = concentrations.measurements.filter { $0.metric == "us_aqi" || $0.metric == "eaqi_level" }
        // PM2.5 22.1 µg/m³ decides: AQI 75 (moderate) and the European level 3 (moderate).
        #expect(derived.map(\.metric).sorted() == ["eaqi_level", "us_aqi"])
        #expect(derived.first { $0.metric == "us_aqi" }?.value == 75)
        #expect(derived.first { $0.metric == "eaqi_level" }?.value == 3)
        #expect(derived.allSatisfy { $0.zone == "centre" && $0.observedAt == reading.time })
    }
}
