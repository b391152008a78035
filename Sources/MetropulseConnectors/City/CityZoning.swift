import Foundation
import MetropulseCore

/// What the city API formats share: which zone a reading belongs to, which zones get a count even
/// when nothing happened in them, and the first checks of a JSON answer.
enum CityZoning {
    /// The source's `zone` tag when it has one; else the zone of the city holding `point`; else
    /// the source id.
    static func zone(of point: GeoPoint?, zone: String?, city: City?, sourceID: String) -> String {
        if let zone { return zone }
        if let point, let city, let found = city.zone(for: point) { return found }
        return sourceID
    }

    /// The zones whose counts are reported even at zero: the source's zone, else every zone of its
    /// city, else the source id. Counts for other zones (positions outside every zone) are added.
    static func countedZones(zone: String?, city: City?, sourceID: String) -> [String] {
        if let zone { return [zone] }
        let zones = city?.zones.map(\.id) ?? []
        return zones.isEmpty ? [sourceID] : zones
    }

    /// The answer parsed as JSON, or a decode error naming the format.
    static func json(_ body: [UInt8], _ name: String) throws -> Any {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) else {
            throw FetchError(.decode, "\(name): not JSON")
        }
        return object
    }

    /// The answer as a JSON object, or an error naming the format.
    static func object(_ body: [UInt8], _ name: String) throws -> [String: Any] {
        guard let root = try json(body, name) as? [String: Any] else {
            throw FetchError(.validation, "\(name): not a JSON object")
        }
        return root
    }
}
