import Foundation
public import MetropulseCore

/// Reads OpenAQ v3 answers as readings: `/v3/sensors/{id}/measurements` (each result names its
/// `parameter` and units, timed at the end of its period) and `/v3/locations/{id}/latest` (each
/// result is a sensor's latest value, named `sensor_<id>` since the answer does not name the
/// parameter). Positions (`coordinates`), when given, attach readings to the city's zones.
public enum OpenAQParser {
    public static func parse(_ body: [UInt8], sourceID: String, zone: String, fetchedAt: Int64) throws -> (
        measurements: [CityMeasurement], rejected: [Rejection], newest: Int64?
    ) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)), let root = object as? [String: Any]
        else {
            throw FetchError(.decode, "OpenAQ: not a JSON object")
        }
        if root["results"] == nil, let detail = root["detail"] ?? root["message"] {
            throw FetchError(.validation, "OpenAQ answered an error: \(detail)")
        }
        guard let results = root["results"] as? [[String: Any]] else {
            throw FetchError(.validation, "OpenAQ: no results array")
        }
        var measurements: [CityMeasurement] = []
        var rejected: [Rejection] = []
        var newest: Int64?
        for (index, result) in results.enumerated() {
            let parameter = result["parameter"] as? [String: Any]
            let metric =
                (parameter?["name"] as? String) ?? (result["sensorsId"] as? NSNumber).map { "sensor_\($0.intValue)" }
            let period = result["period"] as? [String: Any]
            let stamp =
                ((period?["datetimeTo"] as? [String: Any])?["utc"] as? String)
                ?? ((result["datetime"] as? [String: Any])?["utc"] as? String)
            guard let metric, let value = result["value"].flatMap(JSONMappingParser.number) else {
                rejected.append(Rejection(entity: "results[\(index)]", reason: "no parameter or no value"))
                continue
            }
            guard let at = stamp.flatMap(Timestamp.parse) else {
                rejected.append(Rejection(entity: "results[\(index)]", reason: "no time"))
                continue
            }
            var location: GeoPoint?
            if let coordinates = result["coordinates"] as? [String: Any],
                let latitude = (coordinates["latitude"] as? NSNumber)?.doubleValue,
                let longitude = (coordinates["longitude"] as? NSNumber)?.doubleValue
            {
                location = GeoPoint(latitude: latitude, longitude: longitude)
            }
            measurements.append(
                CityMeasurement(
                    sourceID: sourceID, zone: zone, metric: metric, value: value, unit: parameter?["units"] as? String,
                    observedAt: at, location: location))
            newest = max(newest ?? at, at)
        }
        return (measurements, rejected, newest)
    }
}
