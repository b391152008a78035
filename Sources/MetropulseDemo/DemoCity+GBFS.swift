public import Hummingbird

/// The demo city's bike-share system as GBFS v2.3 documents.
extension DemoCity {
    public struct File<Payload: Encodable & Sendable>: ResponseEncodable, Sendable {
        public var lastUpdated: Int64
        public var ttl: Int64
        public var version = "2.3"
        public var data: Payload

        enum CodingKeys: String, CodingKey {
            case lastUpdated = "last_updated"
            case ttl, version, data
        }
    }

    public struct Feed: Encodable, Sendable {
        public var name: String
        public var url: String
    }

    public struct Feeds: Encodable, Sendable {
        public var en: Language
        public struct Language: Encodable, Sendable { public var feeds: [Feed] }
    }

    public struct SystemInformation: Encodable, Sendable {
        var systemID = "demo-city"
        var language = "en"
        var name = "Demo City Bikes"
        var timezone = "Europe/Paris"

        enum CodingKeys: String, CodingKey {
            case systemID = "system_id"
            case language, name, timezone
        }
    }

    public struct StationInformation: Encodable, Sendable {
        public var stations: [Entry]

        public struct Entry: Encodable, Sendable {
            var stationID: String
            var name: String
            var shortName: String
            var lat: Double
            var lon: Double
            var capacity: Int

            enum CodingKeys: String, CodingKey {
                case stationID = "station_id"
                case shortName = "short_name"
                case name, lat, lon, capacity
            }
        }
    }

    public struct StationStatus: Encodable, Sendable {
        public var stations: [Entry]

        public struct Entry: Encodable, Sendable {
            var stationID: String
            var numBikesAvailable: Int
            var numDocksAvailable: Int
            var vehicleTypesAvailable: [TypeCount]
            var isInstalled: Bool
            var isRenting: Bool
            var isReturning: Bool
            var lastReported: Int64

            enum CodingKeys: String, CodingKey {
                case stationID = "station_id"
                case numBikesAvailable = "num_bikes_available"
                case numDocksAvailable = "num_docks_available"
                case vehicleTypesAvailable = "vehicle_types_available"
                case isInstalled = "is_installed"
                case isRenting = "is_renting"
                case isReturning = "is_returning"
                case lastReported = "last_reported"
            }
        }

        public struct TypeCount: Encodable, Sendable {
            var vehicleTypeID: String
            var count: Int

            enum CodingKeys: String, CodingKey {
                case vehicleTypeID = "vehicle_type_id"
                case count
            }
        }
    }

    public struct VehicleTypes: Encodable, Sendable {
        var vehicleTypes: [VehicleType]

        struct VehicleType: Encodable, Sendable {
            var vehicleTypeID: String
            var formFactor: String
            var propulsionType: String
            var name: String

            enum CodingKeys: String, CodingKey {
                case vehicleTypeID = "vehicle_type_id"
                case formFactor = "form_factor"
                case propulsionType = "propulsion_type"
                case name
            }
        }

        enum CodingKeys: String, CodingKey {
            case vehicleTypes = "vehicle_types"
        }
    }

    public func discovery(baseURL: String, nowMillis: Int64) -> File<Feeds> {
        let names = ["system_information", "station_information", "station_status", "vehicle_types"]
        return File(
            lastUpdated: Self.stepStart(nowMillis), ttl: 3600,
            data: Feeds(en: .init(feeds: names.map { Feed(name: $0, url: "\(baseURL)/\($0).json") })))
    }

    public func systemInformation(nowMillis: Int64) -> File<SystemInformation> {
        File(lastUpdated: Self.stepStart(nowMillis), ttl: 3600, data: SystemInformation())
    }

    public func stationInformation(nowMillis: Int64) -> File<StationInformation> {
        File(
            lastUpdated: Self.stepStart(nowMillis), ttl: 3600,
            data: StationInformation(
                stations: stations.map {
                    .init(
                        stationID: $0.id, name: $0.name, shortName: "D\($0.id)", lat: $0.latitude, lon: $0.longitude,
                        capacity: $0.capacity)
                }))
    }

    public func stationStatus(nowMillis: Int64) -> File<StationStatus> {
        let step = Self.stepStart(nowMillis)
        return File(
            lastUpdated: step, ttl: Self.stepSeconds,
            data: StationStatus(
                stations: stations.map { station in
                    let a = availability(of: station, atStep: step)
                    return .init(
                        stationID: station.id, numBikesAvailable: a.bikes, numDocksAvailable: a.docks,
                        vehicleTypesAvailable: [
                            .init(vehicleTypeID: "bike", count: a.mechanical),
                            .init(vehicleTypeID: "ebike", count: a.ebike),
                        ], isInstalled: a.isInstalled, isRenting: a.isRenting, isReturning: a.isReturning,
                        lastReported: lastReported(station, atStep: step))
                }))
    }

    public func vehicleTypes(nowMillis: Int64) -> File<VehicleTypes> {
        File(
            lastUpdated: Self.stepStart(nowMillis), ttl: 3600,
            data: VehicleTypes(vehicleTypes: [
                .init(vehicleTypeID: "bike", formFactor: "bicycle", propulsionType: "human", name: "Bike"),
                .init(vehicleTypeID: "ebike", formFactor: "bicycle", propulsionType: "electric_assist", name: "E-bike"),
            ]))
    }
}
