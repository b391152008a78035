import Foundation

/// Air quality indexes computed from pollutant concentrations, for feeds that give only
/// concentrations (Open-Meteo, OpenAQ): the US EPA AQI by its official breakpoints and the
/// European Air Quality Index (EEA) beside it.
public enum AirQualityIndex {
    /// A pollutant as the indexes know it, with the unit its concentration is given in.
    public enum Pollutant: String, Sendable, CaseIterable, Codable {
        /// µg/m³, 24-hour average.
        case pm25 = "pm2_5"
        /// µg/m³, 24-hour average.
        case pm10
        /// ppm, 8-hour average (the EPA uses the 1-hour table above 0.200 ppm).
        case ozone8h = "ozone_8h"
        /// ppm, 1-hour average (used from 0.125 ppm).
        case ozone1h = "ozone_1h"
        /// ppm, 8-hour average.
        case carbonMonoxide = "carbon_monoxide"
        /// ppb, 1-hour average.
        case sulphurDioxide = "sulphur_dioxide"
        /// ppb, 1-hour average.
        case nitrogenDioxide = "nitrogen_dioxide"
    }

    /// One row of a breakpoint table: concentrations `low...high` map to index `indexLow...indexHigh`.
    struct Breakpoint {
        var low: Double
        var high: Double
        var indexLow: Int
        var indexHigh: Int
    }

    /// The EPA's categories, by AQI.
    public enum Category: String, Sendable, Codable, CaseIterable {
        case good
        case moderate
        case unhealthyForSensitiveGroups = "unhealthy_for_sensitive_groups"
        case unhealthy
        case veryUnhealthy = "very_unhealthy"
        case hazardous

        public init(aqi: Int) {
            switch aqi {
            case ..<51: self = .good
            case 51...100: self = .moderate
            case 101...150: self = .unhealthyForSensitiveGroups
            case 151...200: self = .unhealthy
            case 201...300: self = .veryUnhealthy
            default: self = .hazardous
            }
        }

        public var label: String {
            switch self {
            case .good: "Good"
            case .moderate: "Moderate"
            case .unhealthyForSensitiveGroups: "Unhealthy for sensitive groups"
            case .unhealthy: "Unhealthy"
            case .veryUnhealthy: "Very unhealthy"
            case .hazardous: "Hazardous"
            }
        }
    }

    /// The EPA's breakpoints (Technical Assistance Document for the Reporting of Daily Air
    /// Quality, 2024: PM2.5 revised), each with its truncation step.
    static func epaTable(_ pollutant: Pollutant) -> (step: Double, rows: [Breakpoint]) {
        func rows(_ values: [(Double, Double, Int, Int)]) -> [Breakpoint] {
            values.map { Breakpoint(low: $0.0, high: $0.1, indexLow: $0.2, indexHigh: $0.3) }
        }
        switch pollutant {
        case .pm25:
            return (
                0.1,
                rows([
                    (0.0, 9.0, 0, 50), (9.1, 35.4, 51, 100), (35.5, 55.4, 101, 150), (55.5, 125.4, 151, 200),
                    (125.5, 225.4, 201, 300), (225.5, 325.4, 301, 500),
                ])
            )
        case .pm10:
            return (
                1,
                rows([
                    (0, 54, 0, 50), (55, 154, 51, 100), (155, 254, 101, 150), (255, 354, 151, 200),
                    (355, 424, 201, 300), (425, 604, 301, 500),
                ])
            )
        case .ozone8h:
            return (
                0.001,
                rows([
                    (0.000, 0.054, 0, 50), (0.055, 0.070, 51, 100), (0.071, 0.085, 101, 150),
                    (0.086, 0.105, 151, 200), (0.106, 0.200, 201, 300),
                ])
            )
        case .ozone1h:
            return (
                0.001,
                rows([
                    (0.125, 0.164, 101, 150), (0.165, 0.204, 151, 200), (0.205, 0.404, 201, 300),
                    (0.405, 0.604, 301, 500),
                ])
            )
        case .carbonMonoxide:
            return (
                0.1,
                rows([
                    (0.0, 4.4, 0, 50), (4.5, 9.4, 51, 100), (9.5, 12.4, 101, 150), (12.5, 15.4, 151, 200),
                    (15.5, 30.4, 201, 300), (30.5, 50.4, 301, 500),
                ])
            )
        case .sulphurDioxide:
            return (
                1,
                rows([
                    (0, 35, 0, 50), (36, 75, 51, 100), (76, 185, 101, 150), (186, 304, 151, 200),
                    (305, 604, 201, 300), (605, 1004, 301, 500),
                ])
            )
        case .nitrogenDioxide:
            return (
                1,
                rows([
                    (0, 53, 0, 50), (54, 100, 51, 100), (101, 360, 101, 150), (361, 649, 151, 200),
                    (650, 1249, 201, 300), (1250, 2049, 301, 500),
                ])
            )
        }
    }

    /// The EPA AQI of one concentration (in the pollutant's unit), truncated as the EPA says;
    /// nil when it is negative, not a number, or outside the table (ozone 1-hour below 0.125 ppm).
    /// Above the last breakpoint the index is extended along the last row's slope.
    public static func epa(_ pollutant: Pollutant, _ concentration: Double) -> Int? {
        guard concentration.isFinite, concentration >= 0 else { return nil }
        let (step, rows) = epaTable(pollutant)
        // Truncate (not round) to the table's precision; the small epsilon keeps 0.078 at 0.078.
        let truncated = (concentration / step + 1e-9).rounded(.down) * step
        guard let first = rows.first, truncated >= first.low - step / 2 else { return nil }
        let row =
            rows.first { truncated <= $0.high + step / 2 && truncated >= $0.low - step / 2 } ?? rows[rows.count - 1]
        let index =
            Double(row.indexHigh - row.indexLow) / (row.high - row.low) * (truncated - row.low) + Double(row.indexLow)
        return Int(index.rounded())
    }

    /// Molecular weights (g/mol) for µg/m³ → ppb at 25 °C and 1 atm (24.45 L/mol).
    static let molecularWeight: [Pollutant: Double] = [
        .ozone8h: 48.00, .ozone1h: 48.00, .carbonMonoxide: 28.01, .sulphurDioxide: 64.066, .nitrogenDioxide: 46.0055,
    ]

    /// A gas concentration in µg/m³ in the unit the EPA table uses (ppm for ozone and CO, ppb for
    /// SO₂ and NO₂); particulates unchanged.
    public static func epaUnits(_ pollutant: Pollutant, microgramsPerCubicMetre value: Double) -> Double {
        guard let weight = molecularWeight[pollutant] else { return value }
        let ppb = value * 24.45 / weight
        switch pollutant {
        case .ozone8h, .ozone1h, .carbonMonoxide: return ppb / 1000
        default: return ppb
        }
    }

    /// The European Air Quality Index's bands (EEA), µg/m³, upper bounds of Good, Fair, Moderate,
    /// Poor, Very poor; above them Extremely poor.
    static let europeanBands: [Pollutant: [Double]] = [
        .pm25: [10, 20, 25, 50, 75], .pm10: [20, 40, 50, 100, 150], .nitrogenDioxide: [40, 90, 120, 230, 340],
        .ozone8h: [50, 100, 130, 240, 380], .ozone1h: [50, 100, 130, 240, 380],
        .sulphurDioxide: [100, 200, 350, 500, 750],
    ]

    public enum EuropeanLevel: Int, Sendable, Codable, CaseIterable, Comparable {
        case good = 1, fair, moderate, poor, veryPoor, extremelyPoor

        public var label: String {
            switch self {
            case .good: "Good"
            case .fair: "Fair"
            case .moderate: "Moderate"
            case .poor: "Poor"
            case .veryPoor: "Very poor"
            case .extremelyPoor: "Extremely poor"
            }
        }

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// The European level of one concentration in µg/m³; nil for a pollutant the index leaves out.
    public static func european(_ pollutant: Pollutant, microgramsPerCubicMetre value: Double) -> EuropeanLevel? {
        guard value.isFinite, value >= 0, let bands = europeanBands[pollutant] else { return nil }
        let band = bands.firstIndex { value <= $0 } ?? bands.count
        return EuropeanLevel(rawValue: band + 1)
    }

    /// An overall index: the worst pollutant's, and which it is.
    public struct Overall: Sendable, Hashable, Codable {
        public var aqi: Int
        public var category: Category
        public var dominant: Pollutant
        public var european: EuropeanLevel?
        public var europeanDominant: Pollutant?
    }

    /// The indexes of a set of concentrations in µg/m³ (as Open-Meteo and OpenAQ give them).
    public static func overall(microgramsPerCubicMetre readings: [Pollutant: Double]) -> Overall? {
        var best: (Int, Pollutant)?
        var worstEU: (EuropeanLevel, Pollutant)?
        for (pollutant, value) in readings.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            if let aqi = epa(pollutant, epaUnits(pollutant, microgramsPerCubicMetre: value)),
                aqi > (best?.0 ?? -1)
            {
                best = (aqi, pollutant)
            }
            if let level = european(pollutant, microgramsPerCubicMetre: value),
                level > (worstEU?.0 ?? .good) || worstEU == nil
            {
                worstEU = (level, pollutant)
            }
        }
        guard let best else { return nil }
        return Overall(
            aqi: best.0, category: Category(aqi: best.0), dominant: best.1, european: worstEU?.0,
            europeanDominant: worstEU?.1)
    }
}

extension AirQualityIndex {
    /// The pollutant a reading's metric names (Open-Meteo's and OpenAQ's names), if any.
    public static func pollutant(metric: String) -> Pollutant? {
        switch metric.lowercased() {
        case "pm2_5", "pm25", "pm2.5": .pm25
        case "pm10": .pm10
        case "nitrogen_dioxide", "no2": .nitrogenDioxide
        case "ozone", "o3": .ozone8h
        case "sulphur_dioxide", "sulfur_dioxide", "so2": .sulphurDioxide
        case "carbon_monoxide", "co": .carbonMonoxide
        default: nil
        }
    }

    /// A concentration in µg/m³ from its value and unit (µg/m³, mg/m³, ppm, ppb); nil for a unit
    /// it does not know.
    public static func microgramsPerCubicMetre(_ value: Double, unit: String?, pollutant: Pollutant) -> Double? {
        let unit = (unit ?? "").lowercased().replacingOccurrences(of: "μ", with: "µ").replacingOccurrences(
            of: " ", with: "")
        let weight = molecularWeight[pollutant]
        switch unit {
        case "µg/m³", "µg/m3", "ug/m3", "ug/m³", "µg/m^3": return value
        case "mg/m³", "mg/m3": return value * 1000
        case "ppb": return weight.map { value * $0 / 24.45 }
        case "ppm": return weight.map { value * 1000 * $0 / 24.45 }
        default: return nil
        }
    }
}

extension ObservationBatch {
    /// The metric names of the derived indexes.
    public static let usAQIMetric = "us_aqi"
    /// The EEA level, 1 to 6 (Open-Meteo's own `european_aqi` is on another scale, 0 to 100+).
    public static let europeanAQIMetric = "eaqi_level"

    /// For each zone and time whose readings give pollutant concentrations but no index, adds
    /// `us_aqi` (the EPA AQI of the worst pollutant, computed from the concentrations as read),
    /// the same value as `us_aqi.<pollutant>` naming that pollutant (`us_aqi.pm2_5`), and
    /// `eaqi_level` (the EEA level, 1 Good to 6 Extremely poor).
    public mutating func deriveAirQualityIndexes() {
        struct Key: Hashable {
            var source: String
            var zone: String
            var at: Int64
        }
        var groups: [Key: [Int]] = [:]
        for (index, m) in measurements.enumerated() {
            groups[Key(source: m.sourceID, zone: m.zone, at: m.observedAt), default: []].append(index)
        }
        var added: [CityMeasurement] = []
        for (key, indexes) in groups.sorted(by: { ($0.key.zone, $0.key.at) < ($1.key.zone, $1.key.at) }) {
            let readings = indexes.map { measurements[$0] }
            // A feed that gives its own index keeps it.
            if readings.contains(where: { $0.metric == Self.usAQIMetric }) { continue }
            var concentrations: [AirQualityIndex.Pollutant: Double] = [:]
            for reading in readings {
                guard let pollutant = AirQualityIndex.pollutant(metric: reading.metric),
                    let value = AirQualityIndex.microgramsPerCubicMetre(
                        reading.value, unit: reading.unit, pollutant: pollutant)
                else { continue }
                concentrations[pollutant] = value
            }
            guard let overall = AirQualityIndex.overall(microgramsPerCubicMetre: concentrations) else { continue }
            let location = readings.first { $0.location != nil }?.location
            added.append(
                CityMeasurement(
                    sourceID: key.source, zone: key.zone, metric: Self.usAQIMetric, value: Double(overall.aqi),
                    unit: "AQI", observedAt: key.at, location: location))
            // The pollutant behind the index, as the index under its name (`us_aqi.pm2_5`).
            added.append(
                CityMeasurement(
                    sourceID: key.source, zone: key.zone, metric: Self.usAQIMetric + "." + overall.dominant.rawValue,
                    value: Double(overall.aqi), unit: "AQI", observedAt: key.at, location: location))
            if let level = overall.european {
                added.append(
                    CityMeasurement(
                        sourceID: key.source, zone: key.zone, metric: Self.europeanAQIMetric,
                        value: Double(level.rawValue), unit: "EAQI", observedAt: key.at, location: location))
            }
        }
        measurements += added
    }
}
