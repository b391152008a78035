import MetropulseCore
import Yams

/// Reads the `cities:` list: each city's zones as a point `[lat, lon]` or a polygon
/// `[[lat, lon], ...]`, collecting errors with their line and key.
struct CityReader {
    private(set) var errors: [ConfigurationError] = []

    mutating func read(_ node: Node) -> [City] {
        guard let list = node.sequence else {
            fail(node.line, "cities", "expected a list of cities with id and zones")
            return []
        }
        var cities: [City] = []
        for (index, item) in list.enumerated() {
            let prefix = "cities[\(index)]"
            guard let mapping = item.mapping, let id = mapping["id"]?.string, !id.isEmpty else {
                fail(item.line, "\(prefix).id", "missing")
                continue
            }
            guard let zonesNode = mapping["zones"], let zoneList = zonesNode.sequence else {
                fail(item.line, "\(prefix).zones", "expected a list of zones")
                continue
            }
            var zones: [City.Zone] = []
            for (zoneIndex, zoneNode) in zoneList.enumerated() {
                let key = "\(prefix).zones[\(zoneIndex)]"
                guard let zone = zoneNode.mapping, let zoneID = zone["id"]?.string, !zoneID.isEmpty else {
                    fail(zoneNode.line, "\(key).id", "missing")
                    continue
                }
                if let pointNode = zone["point"] {
                    if let point = Self.point(pointNode) {
                        zones.append(City.Zone(id: zoneID, point: point))
                    } else {
                        fail(pointNode.line, "\(key).point", "expected [latitude, longitude]")
                    }
                } else if let polygonNode = zone["polygon"] {
                    let points = polygonNode.sequence?.compactMap(Self.point) ?? []
                    if points.count >= 3 && points.count == polygonNode.sequence?.count {
                        zones.append(City.Zone(id: zoneID, polygon: points))
                    } else {
                        fail(polygonNode.line, "\(key).polygon", "expected at least three [latitude, longitude] points")
                    }
                } else {
                    fail(zoneNode.line, "\(key)", "give a point or a polygon")
                }
            }
            cities.append(City(id: id, zones: zones))
        }
        return cities
    }

    private static func point(_ node: Node) -> GeoPoint? {
        guard let pair = node.sequence, pair.count == 2, let latitude = pair[0].float, let longitude = pair[1].float,
            (-90...90).contains(latitude), (-180...180).contains(longitude)
        else { return nil }
        return GeoPoint(latitude: latitude, longitude: longitude)
    }

    private mutating func fail(_ line: Int, _ key: String, _ message: String) {
        errors.append(ConfigurationError(line: line, key: key, message: message))
    }
}
