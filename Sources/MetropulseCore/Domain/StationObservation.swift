/// One observation of a bike-share station: availability plus the station's descriptive fields.
public struct StationObservation: Sendable, Hashable, Codable {
    public var sourceID: String
    /// The feed's station identifier, converted exactly to text (Vélib' ids exceed 2^32).
    public var stationID: String
    /// A second, human-facing code when the feed has one (Vélib' `stationCode`, GBFS `short_name`).
    public var code: String?
    public var name: String?
    public var latitude: Double?
    public var longitude: Double?
    public var capacity: Int?
    public var bikesAvailable: Int
    public var mechanicalAvailable: Int?
    public var ebikesAvailable: Int?
    public var docksAvailable: Int?
    public var isInstalled: Bool
    public var isRenting: Bool
    public var isReturning: Bool
    public var status: StationStatus
    /// Bikes over usable places (bikes + free docks), 0...1; nil when the station has no places.
    public var occupancyRate: Double?
    /// The feed's own time for this station (`last_reported`, else the file's `last_updated`).
    public var observedAt: Int64

    public init(
        sourceID: String,
        stationID: String,
        code: String? = nil,
        name: String? = nil,
        latitude: Double? = nil,
        longitude: Double? = nil,
        capacity: Int? = nil,
        bikesAvailable: Int,
        mechanicalAvailable: Int? = nil,
        ebikesAvailable: Int? = nil,
        docksAvailable: Int?,
        isInstalled: Bool,
        isRenting: Bool,
        isReturning: Bool,
        observedAt: Int64
    ) {
        self.sourceID = sourceID
        self.stationID = stationID
        self.code = code
        self.name = name
        self.latitude = latitude
        self.longitude = longitude
        self.capacity = capacity
        self.bikesAvailable = bikesAvailable
        self.mechanicalAvailable = mechanicalAvailable
        self.ebikesAvailable = ebikesAvailable
        self.docksAvailable = docksAvailable
        self.isInstalled = isInstalled
        self.isRenting = isRenting
        self.isReturning = isReturning
        self.observedAt = observedAt
        self.status = StationStatus(isInstalled: isInstalled, isRenting: isRenting, isReturning: isReturning)
        self.occupancyRate = Self.occupancy(bikes: bikesAvailable, docks: docksAvailable, capacity: capacity)
    }

    static func occupancy(bikes: Int, docks: Int?, capacity: Int?) -> Double? {
        let places =
            docks.map { bikes.addingReportingOverflow($0) }.map { $0.overflow ? Int.max : $0.partialValue }
            ?? capacity ?? 0
        guard places > 0, bikes >= 0 else { return nil }
        return min(1, Double(bikes) / Double(places))
    }
}

/// Whether a station can be used, derived from the feed's installed / renting / returning flags.
public enum StationStatus: String, Sendable, Hashable, Codable {
    /// Installed and renting or accepting returns.
    case inService = "in_service"
    /// Installed but neither renting nor accepting returns.
    case closed
    /// Not installed.
    case outOfService = "out_of_service"

    public init(isInstalled: Bool, isRenting: Bool, isReturning: Bool) {
        if !isInstalled {
            self = .outOfService
        } else if isRenting || isReturning {
            self = .inService
        } else {
            self = .closed
        }
    }
}
