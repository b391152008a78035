/// The GBFS files Metropulse reads, decoded permissively; `GBFSNormalizer` enforces the rules.

/// The header every GBFS file shares. Vélib' names the timestamp `lastUpdatedOther` and omits
/// `version`.
struct GBFSFile<Payload: Decodable & Sendable>: Decodable, Sendable {
    let lastUpdated: GBFSTime?
    let ttl: Int?
    let version: String?
    let data: Payload?

    private enum CodingKeys: String, CodingKey {
        case lastUpdated = "last_updated"
        case lastUpdatedOther
        case ttl
        case version
        case data
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lastUpdated =
            try container.decodeIfPresent(GBFSTime.self, forKey: .lastUpdated)
            ?? container.decodeIfPresent(GBFSTime.self, forKey: .lastUpdatedOther)
        ttl = try? container.decodeIfPresent(Int.self, forKey: .ttl)
        version = try? container.decodeIfPresent(String.self, forKey: .version)
        data = try container.decodeIfPresent(Payload.self, forKey: .data)
    }
}

/// `gbfs.json`: v3 lists `data.feeds`; v1/v2 list `data.<language>.feeds`.
struct GBFSDiscovery: Decodable, Sendable {
    struct Feed: Decodable, Sendable {
        let name: String
        let url: String
    }

    let feeds: [Feed]

    private struct Language: Decodable {
        let feeds: [Feed]?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: GBFSAnyKey.self)
        if let feeds = try container.decodeIfPresent([Feed].self, forKey: GBFSAnyKey(stringValue: "feeds")) {
            self.feeds = feeds
            return
        }
        let languages = container.allKeys.sorted { a, b in
            (a.stringValue.hasPrefix("en") ? 0 : 1, a.stringValue) < (
                b.stringValue.hasPrefix("en") ? 0 : 1, b.stringValue
            )
        }
        for key in languages {
            if let language = try? container.decode(Language.self, forKey: key), let feeds = language.feeds {
                self.feeds = feeds
                return
            }
        }
        feeds = []
    }
}

struct GBFSStationInformation: Decodable, Sendable {
    struct Station: Decodable, Sendable {
        let stationID: GBFSIdentifier?
        let name: GBFSText?
        let shortName: String?
        let stationCode: String?
        let lat: Double?
        let lon: Double?
        let capacity: Int?

        private enum CodingKeys: String, CodingKey {
            case stationID = "station_id"
            case name
            case shortName = "short_name"
            case stationCode
            case lat
            case lon
            case capacity
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            stationID = try c.decodeIfPresent(GBFSIdentifier.self, forKey: .stationID)
            name = try? c.decodeIfPresent(GBFSText.self, forKey: .name)
            shortName = try? c.decodeIfPresent(GBFSIdentifier.self, forKey: .shortName)?.text
            stationCode = try? c.decodeIfPresent(GBFSIdentifier.self, forKey: .stationCode)?.text
            lat = try c.decodeIfPresent(Double.self, forKey: .lat)
            lon = try c.decodeIfPresent(Double.self, forKey: .lon)
            capacity = try? c.decodeIfPresent(Int.self, forKey: .capacity)
        }
    }

    let stations: [Station]?
}

/// `vehicle_types.json`: only the propulsion matters, to split mechanical from electric bikes.
struct GBFSVehicleTypes: Decodable, Sendable {
    struct VehicleType: Decodable, Sendable {
        let vehicleTypeID: String
        let propulsionType: String?

        private enum CodingKeys: String, CodingKey {
            case vehicleTypeID = "vehicle_type_id"
            case propulsionType = "propulsion_type"
        }
    }

    let vehicleTypes: [VehicleType]?

    private enum CodingKeys: String, CodingKey {
        case vehicleTypes = "vehicle_types"
    }
}

/// `free_bike_status.json` (v1/v2, `bikes`) and `vehicle_status.json` (v3, `vehicles`).
struct GBFSVehicleStatus: Decodable, Sendable {
    struct Vehicle: Decodable, Sendable {
        let vehicleID: GBFSIdentifier?
        let lat: Double?
        let lon: Double?
        let isReserved: GBFSFlag?
        let isDisabled: GBFSFlag?
        let vehicleTypeID: String?
        let stationID: GBFSIdentifier?
        let lastReported: GBFSTime?

        private enum CodingKeys: String, CodingKey {
            case bikeID = "bike_id"
            case vehicleID = "vehicle_id"
            case lat, lon
            case isReserved = "is_reserved"
            case isDisabled = "is_disabled"
            case vehicleTypeID = "vehicle_type_id"
            case stationID = "station_id"
            case lastReported = "last_reported"
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            vehicleID =
                try c.decodeIfPresent(GBFSIdentifier.self, forKey: .vehicleID)
                ?? c.decodeIfPresent(GBFSIdentifier.self, forKey: .bikeID)
            lat = try c.decodeIfPresent(Double.self, forKey: .lat)
            lon = try c.decodeIfPresent(Double.self, forKey: .lon)
            isReserved = try c.decodeIfPresent(GBFSFlag.self, forKey: .isReserved)
            isDisabled = try c.decodeIfPresent(GBFSFlag.self, forKey: .isDisabled)
            vehicleTypeID = try? c.decodeIfPresent(String.self, forKey: .vehicleTypeID)
            stationID = try c.decodeIfPresent(GBFSIdentifier.self, forKey: .stationID)
            lastReported = try c.decodeIfPresent(GBFSTime.self, forKey: .lastReported)
        }
    }

    let vehicles: [Vehicle]?

    private enum CodingKeys: String, CodingKey {
        case bikes
        case vehicles
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        vehicles =
            try c.decodeIfPresent([Vehicle].self, forKey: .vehicles)
            ?? c.decodeIfPresent([Vehicle].self, forKey: .bikes)
    }
}

/// Any JSON object, contents ignored.
struct GBFSAnyObject: Decodable, Sendable {
    init(from decoder: any Decoder) throws {
        _ = try decoder.container(keyedBy: GBFSAnyKey.self)
    }
}

/// A coding key for objects whose keys are data (languages) or ignored.
struct GBFSAnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
