import Foundation
public import MetropulseCore

/// Road traffic, summarised per zone (the city zone of each segment's or incident's first point;
/// else the source's `zone` tag, else the source id).
public enum TrafficParsers {
    public struct Result: Sendable {
        public var measurements: [CityMeasurement]
        public var rejected: [Rejection]
        public var time: Int64?
    }

    /// HERE Traffic API v6/v7 flow (`flow.json`: `RWS[].RW[].FIS[].FI[]`, each item a TMC segment
    /// with its current flow `CF[0]`: `SP` speed (capped at the limit; else `SU`, uncapped), `FF` free-flow speed, `JF`
    /// jam factor 0–10, `CN` confidence). Per zone, weighted by segment length (`TMC.LE`):
    /// `traffic_speed` and `traffic_free_flow` (km/h; `UNITS: imperial` answers are in mph and
    /// converted), `jam_factor`, `congestion` (1 − speed ÷ free flow, 0–1) and
    /// `traffic_segments`. Timed by `CREATED_TIMESTAMP`, else the fetch.
    public static func hereFlow(_ body: [UInt8], sourceID: String, zone: String?, city: City?, fetchedAt: Int64)
        throws -> Result
    {
        let root = try CityZoning.object(body, "HERE flow")
        if let message = root["Details"] ?? root["error_description"] ?? root["message"], root["RWS"] == nil {
            throw FetchError(.validation, "HERE answered an error: \(message)")
        }
        guard let roadways = root["RWS"] as? [Any] else { throw FetchError(.validation, "HERE flow: no RWS array") }
        let time = (root["CREATED_TIMESTAMP"] as? String).flatMap(Timestamp.parse) ?? fetchedAt
        let metric = (root["UNITS"] as? String)?.lowercased() != "imperial"
        let toKmh = metric ? 1.0 : 1.609344
        struct Sums { var length = 0.0, speed = 0.0, free = 0.0, jam = 0.0, segments = 0 }
        var sums: [String: Sums] = [:]
        var rejected: [Rejection] = []
        func number(_ value: Any?) -> Double? {
            value.flatMap(JSONMappingParser.number).flatMap { $0.isFinite ? $0 : nil }
        }
        for (r, roadway) in roadways.enumerated() {
            for (w, road) in ((roadway as? [String: Any])?["RW"] as? [Any] ?? []).enumerated() {
                for (s, set) in ((road as? [String: Any])?["FIS"] as? [Any] ?? []).enumerated() {
                    for (i, item) in ((set as? [String: Any])?["FI"] as? [Any] ?? []).enumerated() {
                        let item = item as? [String: Any] ?? [:]
                        let tmc = item["TMC"] as? [String: Any] ?? [:]
                        let entity =
                            (tmc["DE"] as? String).map { "\($0) (RWS[\(r)].RW[\(w)].FIS[\(s)].FI[\(i)])" }
                            ?? "RWS[\(r)].RW[\(w)].FIS[\(s)].FI[\(i)]"
                        guard let flow = (item["CF"] as? [Any])?.first as? [String: Any],
                            let speed = number(flow["SP"]) ?? number(flow["SU"]), let free = number(flow["FF"]),
                            speed >= 0, free > 0
                        else {
                            rejected.append(
                                Rejection(entity: entity, reason: "no current flow with a speed and a free-flow speed"))
                            continue
                        }
                        let length = number(tmc["LE"]).flatMap { $0 > 0 ? $0 : nil } ?? 1
                        let first = ((item["SHP"] as? [Any])?.first as? [String: Any]).flatMap { shape -> GeoPoint? in
                            guard let line = (shape["value"] as? [Any])?.first as? String,
                                let pair = line.split(separator: " ").first
                            else { return nil }
                            let numbers = pair.split(separator: ",").compactMap { Double($0) }
                            guard numbers.count == 2, (-90...90).contains(numbers[0]), (-180...180).contains(numbers[1])
                            else { return nil }
                            return GeoPoint(latitude: numbers[0], longitude: numbers[1])
                        }
                        let key = CityZoning.zone(of: first, zone: zone, city: city, sourceID: sourceID)
                        var sum = sums[key] ?? Sums()
                        sum.length += length
                        sum.speed += min(speed, 400) * length
                        sum.free += min(free, 400) * length
                        sum.jam += min(10, max(0, number(flow["JF"]) ?? 0)) * length
                        sum.segments += 1
                        sums[key] = sum
                    }
                }
            }
        }
        var measurements: [CityMeasurement] = []
        for (key, sum) in sums.sorted(by: { $0.key < $1.key }) {
            func add(_ metric: String, _ value: Double, _ unit: String?) {
                measurements.append(
                    CityMeasurement(
                        sourceID: sourceID, zone: key, metric: metric, value: (value * 1000).rounded() / 1000,
                        unit: unit, observedAt: time))
            }
            add("traffic_speed", sum.speed / sum.length * toKmh, "km/h")
            add("traffic_free_flow", sum.free / sum.length * toKmh, "km/h")
            add("jam_factor", sum.jam / sum.length, nil)
            add("congestion", max(0, min(1, 1 - sum.speed / sum.free)), nil)
            add("traffic_segments", Double(sum.segments), "segments")
        }
        return Result(measurements: measurements, rejected: rejected, time: time)
    }

    /// TomTom Traffic Incident Details (`incidents[]`, GeoJSON features with `properties`:
    /// `iconCategory`, `magnitudeOfDelay` 0–4, `delay` seconds, `timeValidity`). Per zone, over
    /// incidents valid now (`timeValidity` absent or `present`): `traffic_incidents`,
    /// `traffic_incidents_major` (magnitude 3 or 4), `road_closures` (icon category 8) and
    /// `traffic_delay` (seconds, summed; an unknown delay counts 0). Every zone of the city gets
    /// its counts, zero included. Timed at the fetch (the answer carries no time of its own).
    public static func tomtomIncidents(
        _ body: [UInt8], sourceID: String, zone: String?, city: City?, fetchedAt: Int64
    ) throws -> Result {
        let root = try CityZoning.object(body, "TomTom incidents")
        if root["incidents"] == nil, let detail = root["detailedError"] ?? root["error"] ?? root["errorText"] {
            throw FetchError(.validation, "TomTom answered an error: \(detail)")
        }
        guard let incidents = root["incidents"] as? [Any] else {
            throw FetchError(.validation, "TomTom incidents: no incidents array")
        }
        struct Counts { var incidents = 0, major = 0, closures = 0, delay = 0.0 }
        var counts: [String: Counts] = [:]
        for key in CityZoning.countedZones(zone: zone, city: city, sourceID: sourceID) { counts[key] = Counts() }
        var rejected: [Rejection] = []
        var seen = Set<String>()
        for (index, item) in incidents.enumerated() {
            guard let feature = item as? [String: Any], let properties = feature["properties"] as? [String: Any] else {
                rejected.append(Rejection(entity: "incidents[\(index)]", reason: "no properties"))
                continue
            }
            let id = properties["id"] as? String ?? "incidents[\(index)]"
            if !seen.insert(id).inserted {
                rejected.append(Rejection(entity: id, reason: "duplicate incident (listed twice)"))
                continue
            }
            if let validity = properties["timeValidity"] as? String, validity != "present" { continue }
            let geometry = feature["geometry"] as? [String: Any]
            var point: GeoPoint?
            if let coordinates = geometry?["coordinates"] as? [Any] {
                let first = (coordinates.first as? [Any]) ?? coordinates
                if first.count >= 2, let longitude = (first[0] as? NSNumber)?.doubleValue,
                    let latitude = (first[1] as? NSNumber)?.doubleValue, (-90...90).contains(latitude),
                    (-180...180).contains(longitude)
                {
                    point = GeoPoint(latitude: latitude, longitude: longitude)
                }
            }
            if point == nil, zone == nil, city != nil {
                rejected.append(Rejection(entity: id, reason: "no readable position", field: "geometry"))
            }
            let key = CityZoning.zone(of: point, zone: zone, city: city, sourceID: sourceID)
            var count = counts[key] ?? Counts()
            count.incidents += 1
            if ((properties["magnitudeOfDelay"] as? NSNumber)?.intValue ?? 0) >= 3 { count.major += 1 }
            if (properties["iconCategory"] as? NSNumber)?.intValue == 8 { count.closures += 1 }
            if let delay = (properties["delay"] as? NSNumber)?.doubleValue, delay.isFinite, delay > 0 {
                count.delay += min(delay, 86_400)
            }
            counts[key] = count
        }
        var measurements: [CityMeasurement] = []
        for (key, count) in counts.sorted(by: { $0.key < $1.key }) {
            func add(_ metric: String, _ value: Double, _ unit: String) {
                measurements.append(
                    CityMeasurement(
                        sourceID: sourceID, zone: key, metric: metric, value: value, unit: unit, observedAt: fetchedAt))
            }
            add("traffic_incidents", Double(count.incidents), "incidents")
            add("traffic_incidents_major", Double(count.major), "incidents")
            add("road_closures", Double(count.closures), "incidents")
            add("traffic_delay", count.delay, "s")
        }
        return Result(measurements: measurements, rejected: rejected, time: fetchedAt)
    }
}
