/// A predicted passage of a trip at a stop (GTFS-Realtime trip update, SIRI monitored call).
public struct Departure: Sendable, Hashable, Codable {
    public var sourceID: String
    /// The stop's id; a stop known only by its place in the trip is `#<stop_sequence>`.
    public var stopID: String
    public var stopSequence: Int?
    public var routeID: String?
    public var tripID: String?
    public var directionID: Int?
    public var vehicleID: String?
    /// Timetable time, epoch ms (expected − delay when the feed gives only those).
    public var scheduledAt: Int64?
    /// Predicted time, epoch ms.
    public var expectedAt: Int64?
    public var delaySeconds: Int?
    /// `scheduled`, `skipped`, `no_data`, `unscheduled`, `added`, `canceled`, `replacement`,
    /// `duplicated`, `deleted` (trip-level relationships apply to every stop of the trip).
    public var relationship: String
    /// The feed's time for this prediction, epoch ms.
    public var observedAt: Int64

    public init(
        sourceID: String, stopID: String, stopSequence: Int? = nil, routeID: String? = nil, tripID: String? = nil,
        directionID: Int? = nil, vehicleID: String? = nil, scheduledAt: Int64? = nil, expectedAt: Int64? = nil,
        delaySeconds: Int? = nil, relationship: String = "scheduled", observedAt: Int64
    ) {
        self.sourceID = sourceID
        self.stopID = stopID
        self.stopSequence = stopSequence
        self.routeID = routeID
        self.tripID = tripID
        self.directionID = directionID
        self.vehicleID = vehicleID
        self.scheduledAt = scheduledAt
        self.expectedAt = expectedAt
        self.delaySeconds = delaySeconds
        self.relationship = relationship
        self.observedAt = observedAt
    }

    /// When the passage happens as best known: expected, else scheduled.
    public var at: Int64? { expectedAt ?? scheduledAt }
}

/// Where a vehicle is (GTFS-Realtime vehicle position).
public struct VehiclePosition: Sendable, Hashable, Codable {
    public var sourceID: String
    public var vehicleID: String
    public var label: String?
    public var routeID: String?
    public var tripID: String?
    public var latitude: Double
    public var longitude: Double
    public var bearing: Double?
    /// Metres per second.
    public var speed: Double?
    public var stopID: String?
    /// `incoming_at`, `stopped_at` or `in_transit_to`.
    public var currentStatus: String?
    public var observedAt: Int64

    public init(
        sourceID: String, vehicleID: String, label: String? = nil, routeID: String? = nil, tripID: String? = nil,
        latitude: Double, longitude: Double, bearing: Double? = nil, speed: Double? = nil, stopID: String? = nil,
        currentStatus: String? = nil, observedAt: Int64
    ) {
        self.sourceID = sourceID
        self.vehicleID = vehicleID
        self.label = label
        self.routeID = routeID
        self.tripID = tripID
        self.latitude = latitude
        self.longitude = longitude
        self.bearing = bearing
        self.speed = speed
        self.stopID = stopID
        self.currentStatus = currentStatus
        self.observedAt = observedAt
    }
}

/// A service alert (GTFS-Realtime alert, SIRI situation): what, where, when.
public struct Disruption: Sendable, Hashable, Codable {
    public struct Period: Sendable, Hashable, Codable {
        /// Epoch ms; nil is open-ended.
        public var start: Int64?
        public var end: Int64?

        public init(start: Int64?, end: Int64?) {
            self.start = start
            self.end = end
        }

        public func contains(_ time: Int64) -> Bool {
            (start.map { $0 <= time } ?? true) && (end.map { time < $0 } ?? true)
        }
    }

    /// One entity the alert informs about; any field may be absent.
    public struct Entity: Sendable, Hashable, Codable {
        public var agencyID: String?
        public var routeID: String?
        public var stopID: String?
        public var tripID: String?

        public init(agencyID: String? = nil, routeID: String? = nil, stopID: String? = nil, tripID: String? = nil) {
            self.agencyID = agencyID
            self.routeID = routeID
            self.stopID = stopID
            self.tripID = tripID
        }
    }

    public var sourceID: String
    public var id: String
    /// GTFS-RT cause, lower case (`strike`, `maintenance`, ...).
    public var cause: String?
    /// GTFS-RT effect, lower case (`no_service`, `reduced_service`, `significant_delays`, ...).
    public var effect: String?
    public var severity: String?
    public var header: String?
    public var details: String?
    public var url: String?
    public var periods: [Period]
    public var entities: [Entity]
    public var observedAt: Int64

    public init(
        sourceID: String, id: String, cause: String? = nil, effect: String? = nil, severity: String? = nil,
        header: String? = nil, details: String? = nil, url: String? = nil, periods: [Period] = [],
        entities: [Entity] = [], observedAt: Int64
    ) {
        self.sourceID = sourceID
        self.id = id
        self.cause = cause
        self.effect = effect
        self.severity = severity
        self.header = header
        self.details = details
        self.url = url
        self.periods = periods
        self.entities = entities
        self.observedAt = observedAt
    }

    /// Active at `time`: no period means always.
    public func isActive(at time: Int64) -> Bool {
        periods.isEmpty || periods.contains { $0.contains(time) }
    }

    /// The routes this alert names.
    public var routeIDs: [String] { Array(Set(entities.compactMap(\.routeID))).sorted() }
}
