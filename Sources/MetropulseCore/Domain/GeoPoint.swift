import Foundation

/// A WGS84 position.
public struct GeoPoint: Sendable, Hashable, Codable {
    public var latitude: Double
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }

    /// Great-circle distance in meters (haversine).
    public func distance(to other: GeoPoint) -> Double {
        let r = 6_371_008.8
        let toRad = Double.pi / 180
        let dLat = (other.latitude - latitude) * toRad
        let dLon = (other.longitude - longitude) * toRad
        let a =
            Foundation.sin(dLat / 2) * Foundation.sin(dLat / 2) + Foundation.cos(latitude * toRad)
            * Foundation.cos(other.latitude * toRad) * Foundation.sin(dLon / 2) * Foundation.sin(dLon / 2)
        return 2 * r * Foundation.atan2(a.squareRoot(), (1 - a).squareRoot())
    }

    /// A latitude/longitude box that contains every point within `meters`.
    public func boundingBox(meters: Double) -> (minLat: Double, maxLat: Double, minLon: Double, maxLon: Double) {
        let dLat = meters / 111_320
        let cosLat = max(0.01, Foundation.cos(latitude * Double.pi / 180))
        let dLon = meters / (111_320 * cosLat)
        return (latitude - dLat, latitude + dLat, longitude - dLon, longitude + dLon)
    }
}
