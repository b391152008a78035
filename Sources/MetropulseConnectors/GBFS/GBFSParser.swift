import Foundation
public import MetropulseCore

/// Parses and validates GBFS v1/v2/v3 files into the station model.
///
/// Tolerant of real deviations (Vélib' `lastUpdatedOther`, 0/1 flags, integer ids above 2^32,
/// array-of-object bike types, missing `version`); strict where a value would be wrong. A bad
/// station is rejected with its reason and counted; a file that cannot be read at all throws.
public enum GBFSParser {
    public static func discovery(_ body: [UInt8]) throws -> GBFSFeedList {
        let file = try decode(GBFSFile<GBFSDiscovery>.self, body, file: "gbfs.json")
        guard let data = file.data else {
            throw FetchError(.validation, "gbfs.json has no data object")
        }
        guard !data.feeds.isEmpty else {
            throw FetchError(.validation, "gbfs.json lists no feeds")
        }
        var feeds: [String: String] = [:]
        for feed in data.feeds where feeds[feed.name] == nil { feeds[feed.name] = feed.url }
        return GBFSFeedList(feeds: feeds, ttl: file.ttl, version: file.version, lastUpdated: file.lastUpdated?.millis)
    }

    /// The header every GBFS file has; throws when it is missing or impossible.
    public static func header(_ body: [UInt8]) throws -> GBFSHeader {
        let file = try decode(GBFSFile<GBFSAnyObject>.self, body, file: "GBFS file")
        guard file.data != nil else { throw FetchError(.validation, "GBFS file has no data object") }
        guard let lastUpdated = file.lastUpdated?.millis else {
            throw FetchError(.validation, "GBFS file has no last_updated")
        }
        guard lastUpdated >= 0 else { throw FetchError(.validation, "last_updated \(lastUpdated / 1000) is negative") }
        return GBFSHeader(lastUpdated: lastUpdated, ttl: file.ttl, version: file.version)
    }

    public static func stationInformation(_ body: [UInt8]) throws -> GBFSStationCatalog {
        let file = try decode(GBFSFile<GBFSStationInformation>.self, body, file: "station_information.json")
        guard let stations = file.data?.stations else {
            throw FetchError(.validation, "station_information.json has no data.stations array")
        }
        var details: [String: GBFSStationDetails] = [:]
        details.reserveCapacity(stations.count)
        for station in stations {
            guard let id = station.stationID?.text else { continue }
            details[id] = GBFSStationDetails(
                code: station.stationCode ?? station.shortName, name: station.name?.text, latitude: station.lat,
                longitude: station.lon, capacity: station.capacity)
        }
        return GBFSStationCatalog(stations: details, ttl: file.ttl, lastUpdated: file.lastUpdated?.millis)
    }

    /// `vehicle_types.json` → propulsion by vehicle type id.
    public static func vehicleTypes(_ body: [UInt8]) throws -> [String: String] {
        let file = try decode(GBFSFile<GBFSVehicleTypes>.self, body, file: "vehicle_types.json")
        var propulsion: [String: String] = [:]
        for type in file.data?.vehicleTypes ?? [] {
            propulsion[type.vehicleTypeID] = type.propulsionType ?? "human"
        }
        return propulsion
    }

    public static func stationStatus(
        _ body: [UInt8], sourceID: String, catalog: GBFSStationCatalog?, propulsion: [String: String] = [:],
        fetchedAt: Int64
    ) throws -> GBFSStatusSnapshot {
        let file: GBFSStatusReader
        do {
            file = try GBFSStatusReader.read(body)
        } catch let error as JSONCursor.Failure {
            throw FetchError(.decode, "station_status.json: \(error)")
        }
        guard let stations = file.stations else {
            throw FetchError(.validation, "station_status.json has no data.stations array")
        }
        if let lastUpdated = file.lastUpdated, lastUpdated < 0 {
            throw FetchError(.validation, "station_status.json last_updated \(lastUpdated / 1000) is negative")
        }
        let feedTime = file.lastUpdated ?? fetchedAt
        var observations: [StationObservation] = []
        observations.reserveCapacity(stations.count)
        var rejected: [Rejection] = []
        for (index, station) in stations.enumerated() {
            switch normalize(
                station, index: index, sourceID: sourceID, catalog: catalog, propulsion: propulsion, feedTime: feedTime)
            {
            case .accepted(let observation, let notes):
                observations.append(observation)
                rejected += notes
            case .rejected(let rejection): rejected.append(rejection)
            }
        }
        return GBFSStatusSnapshot(
            stations: observations, rejected: rejected, lastUpdated: file.lastUpdated, ttl: file.ttl,
            version: file.version)
    }

    private static func normalize(
        _ s: GBFSStatusReader.Entry, index: Int, sourceID: String, catalog: GBFSStationCatalog?,
        propulsion: [String: String], feedTime: Int64
    ) -> Normalized {
        guard let id = s.stationID, !id.isEmpty else {
            return .rejected(Rejection(entity: "stations[\(index)]", reason: "station_id is missing"))
        }
        if let field = s.invalid {
            return .rejected(Rejection(entity: id, reason: "\(field) has an impossible value"))
        }
        guard let bikes = s.bikes ?? s.vehicles else {
            return .rejected(Rejection(entity: id, reason: "num_bikes_available is missing"))
        }
        guard bikes >= 0 else {
            return .rejected(Rejection(entity: id, reason: "num_bikes_available \(bikes) is negative"))
        }
        // A station whose counts are usable is kept without the field that is not; what was
        // dropped is said in the run's rejections.
        var notes: [Rejection] = []
        var docks = s.docks
        if let value = docks, value < 0 {
            notes.append(
                Rejection(entity: id, reason: "num_docks_available \(value) is negative", field: "num_docks_available"))
            docks = nil
        }
        let missing = [("is_installed", s.isInstalled), ("is_renting", s.isRenting), ("is_returning", s.isReturning)]
            .filter { $0.1 == nil }.map(\.0)
        if !missing.isEmpty {
            notes.append(
                Rejection(
                    entity: id, reason: "\(missing.joined(separator: ", ")) missing; taken as true",
                    field: missing.joined(separator: ",")))
        }
        let (installed, renting, returning) = (s.isInstalled ?? true, s.isRenting ?? true, s.isReturning ?? true)
        if let value = s.unreadableLastReported {
            notes.append(
                Rejection(
                    entity: id, reason: "last_reported \(value) is not a valid time; the feed's time is used",
                    field: "last_reported"))
        }
        var mechanical = s.mechanical
        var ebike = s.ebike
        if mechanical == nil, ebike == nil, let types = s.typeCounts, !propulsion.isEmpty {
            for (type, count) in types {
                guard let kind = propulsion[type] else { continue }
                if kind == "human" {
                    mechanical = (mechanical ?? 0) + count
                } else {
                    ebike = (ebike ?? 0) + count
                }
            }
        }
        let details = catalog?.stations[id]
        var observedAt = s.lastReported ?? feedTime
        if observedAt <= 0 { observedAt = feedTime }
        return .accepted(
            StationObservation(
                sourceID: sourceID, stationID: id, code: details?.code ?? s.stationCode, name: details?.name,
                latitude: details?.latitude, longitude: details?.longitude, capacity: details?.capacity,
                bikesAvailable: bikes, mechanicalAvailable: mechanical, ebikesAvailable: ebike,
                docksAvailable: docks, isInstalled: installed, isRenting: renting, isReturning: returning,
                observedAt: observedAt), notes)
    }

    private enum Normalized {
        /// Kept, with the fields dropped from it.
        case accepted(StationObservation, [Rejection])
        case rejected(Rejection)
    }

    /// `free_bike_status.json` / `vehicle_status.json`.
    public static func vehicleStatus(_ body: [UInt8]) throws -> GBFSVehicleSnapshot {
        let file = try decode(GBFSFile<GBFSVehicleStatus>.self, body, file: "vehicle_status.json")
        guard let vehicles = file.data?.vehicles else {
            throw FetchError(.validation, "vehicle status has no data.bikes or data.vehicles array")
        }
        var accepted: [GBFSVehicle] = []
        var rejected: [Rejection] = []
        for (index, v) in vehicles.enumerated() {
            guard let id = v.vehicleID?.text else {
                rejected.append(Rejection(entity: "vehicles[\(index)]", reason: "bike_id / vehicle_id is missing"))
                continue
            }
            // A vehicle is kept without a time or a position that cannot be true.
            var reported = v.lastReported?.millis
            if let value = reported, value < 0 {
                rejected.append(
                    Rejection(
                        entity: id, reason: "last_reported \(value / 1000) is not a valid time", field: "last_reported")
                )
                reported = nil
            }
            var (lat, lon) = (v.lat, v.lon)
            if let value = lat, !(-90...90).contains(value) {
                rejected.append(Rejection(entity: id, reason: "lat \(value) is out of range", field: "lat,lon"))
                (lat, lon) = (nil, nil)
            } else if let value = lon, !(-180...180).contains(value) {
                rejected.append(Rejection(entity: id, reason: "lon \(value) is out of range", field: "lat,lon"))
                (lat, lon) = (nil, nil)
            }
            accepted.append(
                GBFSVehicle(
                    vehicleID: id, latitude: lat, longitude: lon, isReserved: v.isReserved?.value ?? false,
                    isDisabled: v.isDisabled?.value ?? false, vehicleTypeID: v.vehicleTypeID,
                    stationID: v.stationID?.text, lastReported: reported))
        }
        return GBFSVehicleSnapshot(vehicles: accepted, rejected: rejected, lastUpdated: file.lastUpdated?.millis)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], file: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            throw FetchError(.decode, "\(file): \(describe(error))")
        } catch {
            throw FetchError(.decode, "\(file): \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "" : "at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys): "
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return path(context) + context.debugDescription
        case .keyNotFound(let key, let context):
            return path(context) + "missing key \(key.stringValue)"
        case .typeMismatch(let type, let context):
            return path(context) + "expected \(type)"
        case .valueNotFound(let type, let context):
            return path(context) + "expected \(type), found null"
        @unknown default:
            return "\(error)"
        }
    }
}

public struct GBFSHeader: Sendable, Hashable {
    public var lastUpdated: Int64
    public var ttl: Int?
    public var version: String?
}

/// The feeds a `gbfs.json` lists, by name.
public struct GBFSFeedList: Sendable, Hashable {
    public var feeds: [String: String]
    public var ttl: Int?
    public var version: String?
    public var lastUpdated: Int64?
}

public struct GBFSStationDetails: Sendable, Hashable {
    public var code: String?
    public var name: String?
    public var latitude: Double?
    public var longitude: Double?
    public var capacity: Int?
}

/// `station_information.json`, by station id.
public struct GBFSStationCatalog: Sendable {
    public var stations: [String: GBFSStationDetails]
    public var ttl: Int?
    public var lastUpdated: Int64?
}

public struct GBFSStatusSnapshot: Sendable {
    public var stations: [StationObservation]
    public var rejected: [Rejection]
    public var lastUpdated: Int64?
    public var ttl: Int?
    public var version: String?
}

public struct GBFSVehicle: Sendable, Hashable {
    public var vehicleID: String
    public var latitude: Double?
    public var longitude: Double?
    public var isReserved: Bool
    public var isDisabled: Bool
    public var vehicleTypeID: String?
    public var stationID: String?
    public var lastReported: Int64?
}

public struct GBFSVehicleSnapshot: Sendable {
    public var vehicles: [GBFSVehicle]
    public var rejected: [Rejection]
    public var lastUpdated: Int64?
}
