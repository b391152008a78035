import Foundation
public import MetropulseCore

/// Reads 311 service requests, from a Socrata dataset (`format: socrata-311`, NYC's
/// `erm2-nwe9` columns: `unique_key`, `created_date`, `complaint_type`, `status`, `latitude`,
/// `longitude` or a GeoJSON `location`) or an Open311 GeoReport v2 `requests.json`
/// (`format: open311`: `service_request_id`, `requested_datetime`, `service_name`, `status`,
/// `lat`, `long`), and counts them per zone as readings:
/// - `requests_311`: requests created in the hour before the window's end;
/// - `requests_311.<category>`: the same, by category (`requests_311.noise_residential`);
/// - `requests_311_open`: requests the document lists as not closed.
///
/// The window ends at the fetch, unless the newest request is more than two hours older (a
/// dataset published with a delay, as NYC's is): then at the newest request, so the counts
/// describe the publisher's last hour rather than reading zero. Every zone of the source's city
/// gets its counts, zero included, so a quiet zone reads 0 rather than its last busy hour.
///
/// A request's zone is the city zone of its position; without a position (or at 0,0), the
/// source's `zone` tag, else the source id. Socrata's timestamps have no zone: they are read in
/// the source's `timezone` tag (`+01:00`, `-05:00` or an IANA name), UTC by default.
public enum ServiceRequestParser {
    public enum Shape: Sendable { case socrata, open311 }

    public struct Request: Sendable, Equatable {
        public var id: String?
        public var category: String
        public var isOpen: Bool
        public var createdAt: Int64
        public var location: GeoPoint?
    }

    public struct Result: Sendable {
        public var requests: [Request]
        public var measurements: [CityMeasurement]
        public var rejected: [Rejection]
        /// The end of the counting window, epoch ms.
        public var windowEnd: Int64?
    }

    static let window: Int64 = 3_600_000
    static let delayedAfter: Int64 = 2 * 3_600_000

    /// `+01:00`, `-0500`, `Z` or an IANA name, as seconds east of UTC at `instant`.
    public static func offsetSeconds(_ tag: String?, at instant: Int64) -> Int? {
        guard let tag, !tag.isEmpty else { return 0 }
        if tag == "Z" || tag == "UTC" { return 0 }
        if let sign = tag.first, sign == "+" || sign == "-" {
            let digits = tag.dropFirst().filter(\.isNumber)
            guard digits.count == 4 || digits.count == 2, let value = Int(digits) else { return nil }
            let (hours, minutes) = digits.count == 4 ? (value / 100, value % 100) : (value, 0)
            guard hours <= 18, minutes < 60 else { return nil }
            return (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
        }
        return TimeZone(identifier: tag)?.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant) / 1000))
    }

    public static func parse(
        _ body: [UInt8], shape: Shape, sourceID: String, zone: String?, city: City?, timezone: String? = nil,
        fetchedAt: Int64
    ) throws -> Result {
        let name = shape == .socrata ? "Socrata 311" : "Open311"
        let object = try CityZoning.json(body, name)
        guard let rows = object as? [Any] else {
            if let error = object as? [String: Any] {
                let text = error["message"] ?? error["description"] ?? error["error"] ?? "no message"
                throw FetchError(.validation, "\(name) answered an error: \(text)")
            }
            throw FetchError(.validation, "\(name): not an array of requests")
        }
        guard let baseOffset = offsetSeconds(timezone, at: fetchedAt) else {
            throw FetchError(.configuration, "\(name): timezone '\(timezone ?? "")' is not an offset or a zone name")
        }
        var result = Result(requests: [], measurements: [], rejected: [], windowEnd: nil)
        var seen = Set<String>()
        for (index, item) in rows.enumerated() {
            guard let row = item as? [String: Any] else {
                result.rejected.append(Rejection(entity: "[\(index)]", reason: "not an object"))
                continue
            }
            let id = shape == .socrata ? text(row["unique_key"]) : text(row["service_request_id"])
            let entity = id ?? "[\(index)]"
            let createdText = text(shape == .socrata ? row["created_date"] : row["requested_datetime"])
            guard let createdText, var created = Timestamp.parse(createdText) else {
                result.rejected.append(
                    Rejection(
                        entity: entity,
                        reason: "no readable \(shape == .socrata ? "created_date" : "requested_datetime")"))
                continue
            }
            // Socrata's floating timestamps are local time.
            if shape == .socrata, !hasZone(createdText) {
                let offset = Int64(offsetSeconds(timezone, at: created) ?? baseOffset) * 1000
                created -= offset
            }
            guard Timestamp.feedRange.contains(created) else {
                result.rejected.append(Rejection(entity: entity, reason: "creation time out of range"))
                continue
            }
            if let id, !seen.insert(id).inserted {
                result.rejected.append(Rejection(entity: entity, reason: "duplicate request (listed twice)"))
                continue
            }
            let category =
                text(shape == .socrata ? row["complaint_type"] : row["service_name"])
                ?? text(row["service_code"]) ?? "other"
            let status = (text(row["status"]) ?? "open").lowercased()
            var location = position(row, shape: shape)
            if location != nil, location!.latitude == 0, location!.longitude == 0 {
                result.rejected.append(Rejection(entity: entity, reason: "position 0,0", field: "location"))
                location = nil
            }
            result.requests.append(
                Request(
                    id: id, category: category, isOpen: !status.hasPrefix("closed"), createdAt: created,
                    location: location))
        }
        let newest = result.requests.map(\.createdAt).max()
        let end = newest.map { fetchedAt - $0 > delayedAfter ? $0 : fetchedAt } ?? fetchedAt
        result.windowEnd = end
        result.measurements = counts(result.requests, sourceID: sourceID, zone: zone, city: city, windowEnd: end)
        return result
    }

    /// The readings for `requests`, per zone, for the hour before `windowEnd`.
    static func counts(_ requests: [Request], sourceID: String, zone: String?, city: City?, windowEnd: Int64)
        -> [CityMeasurement]
    {
        func zoneOf(_ request: Request) -> String {
            CityZoning.zone(of: request.location, zone: zone, city: city, sourceID: sourceID)
        }
        var zones = Set(CityZoning.countedZones(zone: zone, city: city, sourceID: sourceID))
        var recent: [String: Int] = [:]
        var open: [String: Int] = [:]
        var byCategory: [String: [String: Int]] = [:]
        let categories = Set(requests.map { MetricSlug.make($0.category) })
        for request in requests {
            let zone = zoneOf(request)
            zones.insert(zone)
            if request.isOpen { open[zone, default: 0] += 1 }
            if request.createdAt > windowEnd - window, request.createdAt <= windowEnd {
                recent[zone, default: 0] += 1
                byCategory[zone, default: [:]][MetricSlug.make(request.category), default: 0] += 1
            }
        }
        var measurements: [CityMeasurement] = []
        for zone in zones.sorted() {
            func add(_ metric: String, _ count: Int) {
                measurements.append(
                    CityMeasurement(
                        sourceID: sourceID, zone: zone, metric: metric, value: Double(count), unit: "requests",
                        observedAt: windowEnd))
            }
            add("requests_311", recent[zone] ?? 0)
            add("requests_311_open", open[zone] ?? 0)
            for category in categories.sorted() { add("requests_311.\(category)", byCategory[zone]?[category] ?? 0) }
        }
        return measurements
    }

    static func text(_ value: Any?) -> String? {
        if let string = value as? String {
            let trimmed = string.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
        if let number = value as? NSNumber { return number.stringValue }
        return nil
    }

    static func hasZone(_ text: String) -> Bool {
        guard let t = text.firstIndex(of: "T") else { return false }
        let time = text[t...]
        return time.hasSuffix("Z") || time.contains("+") || time.contains("-")
    }

    static func position(_ row: [String: Any], shape: Shape) -> GeoPoint? {
        func number(_ value: Any?) -> Double? { value.flatMap(JSONMappingParser.number) }
        var latitude = number(shape == .socrata ? row["latitude"] : row["lat"])
        var longitude = number(shape == .socrata ? row["longitude"] : row["long"])
        if latitude == nil || longitude == nil, let location = row["location"] as? [String: Any] {
            if let coordinates = location["coordinates"] as? [Any], coordinates.count >= 2 {
                longitude = number(coordinates[0])
                latitude = number(coordinates[1])
            } else {
                latitude = number(location["latitude"])
                longitude = number(location["longitude"])
            }
        }
        guard let latitude, let longitude, (-90...90).contains(latitude), (-180...180).contains(longitude) else {
            return nil
        }
        return GeoPoint(latitude: latitude, longitude: longitude)
    }
}
