/// A city and its zones, declared in configuration (`cities:`). Readings that carry a position
/// are attached to a zone: the first polygon containing the point, else the nearest zone (by its
/// point, or its polygon's centre).
public struct City: Sendable, Hashable, Codable {
    public struct Zone: Sendable, Hashable, Codable {
        public var id: String
        public var point: GeoPoint?
        /// Vertices in order; the ring closes itself.
        public var polygon: [GeoPoint]?

        public init(id: String, point: GeoPoint? = nil, polygon: [GeoPoint]? = nil) {
            self.id = id
            self.point = point
            self.polygon = polygon
        }

        /// The point that stands for the zone when measuring distance.
        public var center: GeoPoint? {
            if let point { return point }
            guard let polygon, !polygon.isEmpty else { return nil }
            return GeoPoint(
                latitude: polygon.map(\.latitude).reduce(0, +) / Double(polygon.count),
                longitude: polygon.map(\.longitude).reduce(0, +) / Double(polygon.count))
        }

        /// Ray casting on latitude/longitude (zones are small enough for the plane).
        public func contains(_ p: GeoPoint) -> Bool {
            guard let polygon, polygon.count >= 3 else { return false }
            var inside = false
            var j = polygon.count - 1
            for i in polygon.indices {
                let a = polygon[i]
                let b = polygon[j]
                if (a.latitude > p.latitude) != (b.latitude > p.latitude),
                    p.longitude < (b.longitude - a.longitude) * (p.latitude - a.latitude) / (b.latitude - a.latitude)
                        + a.longitude
                {
                    inside.toggle()
                }
                j = i
            }
            return inside
        }
    }

    public var id: String
    public var zones: [Zone]

    public init(id: String, zones: [Zone]) {
        self.id = id
        self.zones = zones
    }

    /// The zone for a position: containing polygon first, else nearest.
    public func zone(for point: GeoPoint) -> String? {
        if let containing = zones.first(where: { $0.contains(point) }) { return containing.id }
        return zones.compactMap { zone in zone.center.map { (zone.id, $0.distance(to: point)) } }
            .min { $0.1 < $1.1 }?.0
    }
}
