import Foundation
import MetropulseCore

/// The demo city's sensors, answered in Open-Meteo's shape (`/v1/forecast` and `/v1/air-quality`
/// with `current=`): temperature follows the day, wind and rain come and go, particulates and NO₂
/// rise with the rush hours. A pure function of time and place, changing every minute.
public enum DemoWeather {
    /// Variables the demo knows, with their units.
    static let units: [String: String] = [
        "temperature_2m": "°C", "relative_humidity_2m": "%", "wind_speed_10m": "km/h", "precipitation": "mm",
        "pm2_5": "μg/m³", "pm10": "μg/m³", "nitrogen_dioxide": "μg/m³",
    ]

    /// The variables the demo's sensors know.
    public static var variables: [String] { units.keys.sorted() }

    public static func current(
        latitude: Double, longitude: Double, variables: [String], nowMillis: Int64, incidents: DemoIncidents? = nil
    ) -> [UInt8] {
        let minute = nowMillis / 60_000 * 60_000
        let hours = Double(minute % 86_400_000) / 3_600_000 + DemoCity.utcOffsetHours
        let day = sin((hours - 9) / 24 * 2 * .pi)
        let place = sin(latitude * 97 + longitude * 31)
        let slow = sin(Double(minute) / 5_400_000 + place * 3)
        let rush =
            exp(-pow((hours.truncatingRemainder(dividingBy: 24) - 8.5) / 1.5, 2))
            + exp(-pow((hours.truncatingRemainder(dividingBy: 24) - 18) / 1.8, 2))
        func value(_ variable: String) -> Double? {
            switch variable {
            case "temperature_2m": return 9 + 5 * day + place + 0.6 * slow
            case "relative_humidity_2m": return min(100, max(20, 72 - 14 * day + 6 * slow))
            case "wind_speed_10m": return max(0, 11 + 7 * slow + 2 * place)
            case "precipitation": return max(0, 2.2 * sin(Double(minute) / 7_200_000 + place) - 1.4)
            case "pm2_5": return 9 + 16 * rush + 3 * slow + 2 * place
            case "pm10": return (9 + 16 * rush + 3 * slow + 2 * place) * 1.6
            case "nitrogen_dioxide": return 18 + 30 * rush + 4 * slow
            default: return nil
            }
        }
        var current: [String: Any] = ["time": String(Timestamp.iso8601(minute).prefix(16)), "interval": 60]
        var units: [String: Any] = ["time": "iso8601", "interval": "seconds"]
        for variable in variables {
            guard
                let number = incidents?.value(
                    metric: variable, latitude: latitude, longitude: longitude, at: nowMillis) ?? value(variable)
            else { continue }
            current[variable] = (number * 10).rounded() / 10
            units[variable] = Self.units[variable]
        }
        let document: [String: Any] = [
            "latitude": latitude, "longitude": longitude, "utc_offset_seconds": 0, "timezone": "GMT",
            "current_units": units, "current": current,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data())
    }
}
