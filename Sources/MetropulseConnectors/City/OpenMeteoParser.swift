import Foundation
public import MetropulseCore

/// Reads an Open-Meteo `/v1/forecast` answer as the zone's current readings: the `current` block
/// (with `current_units`), else the legacy `current_weather` block, else each hourly variable at
/// the hour nearest the fetch time. Times are local to `utc_offset_seconds`.
public enum OpenMeteoParser {
    public struct Reading: Sendable {
        public var measurements: [CityMeasurement]
        /// The readings' time, epoch ms.
        public var time: Int64?
        public var latitude: Double?
        public var longitude: Double?
    }

    public static func parse(_ body: [UInt8], sourceID: String, zone: String, fetchedAt: Int64) throws -> Reading {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)), let root = object as? [String: Any]
        else {
            throw FetchError(.decode, "Open-Meteo: not a JSON object")
        }
        if root["error"] as? Bool == true {
            throw FetchError(.validation, "Open-Meteo answered an error: \(root["reason"] as? String ?? "no reason")")
        }
        // A zone's offset is within a day; anything else is not an offset.
        let offsetSeconds = (root["utc_offset_seconds"] as? NSNumber)?.doubleValue ?? 0
        let offset = abs(offsetSeconds) <= 86_400 ? Int64(offsetSeconds) * 1000 : 0
        func time(_ value: Any?) -> Int64? {
            if let seconds = value as? NSNumber, !(value is String) {
                return Timestamp.millis(seconds: seconds.doubleValue)
            }
            guard let text = value as? String else { return nil }
            if let parsed = Timestamp.parse(text) { return Timestamp.feedRange.contains(parsed) ? parsed : nil }
            // "2023-08-09T00:00": local time without seconds or offset.
            return Timestamp.parse(text + ":00Z").map { $0 - offset }.flatMap {
                Timestamp.feedRange.contains($0) ? $0 : nil
            }
        }
        func number(_ value: Any?) -> Double? { value.flatMap(JSONMappingParser.number) }
        var reading = Reading(
            measurements: [], time: nil, latitude: number(root["latitude"]), longitude: number(root["longitude"]))
        let location = reading.latitude.flatMap { latitude in
            reading.longitude.map { GeoPoint(latitude: latitude, longitude: $0) }
        }
        func add(_ metric: String, _ value: Any?, unit: String?, at: Int64) {
            guard let value = number(value) else { return }
            reading.measurements.append(
                CityMeasurement(
                    sourceID: sourceID, zone: zone, metric: metric, value: value, unit: unit, observedAt: at,
                    location: location))
        }
        // `current` (with `current_units`), or the legacy `current_weather` (with its units).
        let currentBlock = ["current", "current_weather"].lazy.compactMap { key -> (String, [String: Any], Int64)? in
            guard let block = root[key] as? [String: Any], let at = time(block["time"]) else { return nil }
            return (key, block, at)
        }.first
        if let (key, current, at) = currentBlock {
            let units = root[key + "_units"] as? [String: String] ?? [:]
            reading.time = at
            for (metric, value) in current.sorted(by: { $0.key < $1.key })
            where metric != "time" && metric != "interval" {
                add(metric, value, unit: units[metric], at: at)
            }
        } else if let hourly = root["hourly"] as? [String: Any], let times = hourly["time"] as? [Any] {
            let stamps = times.map(time)
            guard
                let nearest = stamps.indices.filter({ stamps[$0] != nil }).min(by: {
                    abs(stamps[$0]! - fetchedAt) < abs(stamps[$1]! - fetchedAt)
                })
            else {
                throw FetchError(.validation, "Open-Meteo: hourly block without times")
            }
            let units = root["hourly_units"] as? [String: String] ?? [:]
            reading.time = stamps[nearest]
            for (metric, values) in hourly.sorted(by: { $0.key < $1.key }) where metric != "time" {
                guard let values = values as? [Any], nearest < values.count else { continue }
                add(metric, values[nearest], unit: units[metric], at: stamps[nearest]!)
            }
        } else {
            throw FetchError(.validation, "Open-Meteo: no current, current_weather or hourly block")
        }
        return reading
    }
}
