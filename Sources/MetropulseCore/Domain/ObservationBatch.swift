/// The normalized entities one fetch produced, one typed array per observation kind.
public struct ObservationBatch: Sendable, Hashable {
    public var stations: [StationObservation]
    public var departures: [Departure]
    public var vehicles: [VehiclePosition]
    public var disruptions: [Disruption]
    public var measurements: [CityMeasurement]
    /// The transit entities are the source's whole current state (a GTFS-Realtime
    /// `FULL_DATASET`): they replace what the source had, so a trip or alert that left the feed
    /// leaves the store. Otherwise they are upserted.
    public var transitSnapshot: Bool
    /// The feed's time for the transit entities, epoch ms: a snapshot older than the stored one
    /// does not replace it.
    public var transitObservedAt: Int64?

    public init(
        stations: [StationObservation] = [], departures: [Departure] = [], vehicles: [VehiclePosition] = [],
        disruptions: [Disruption] = [], measurements: [CityMeasurement] = [], transitSnapshot: Bool = false,
        transitObservedAt: Int64? = nil
    ) {
        self.stations = stations
        self.departures = departures
        self.vehicles = vehicles
        self.disruptions = disruptions
        self.measurements = measurements
        self.transitSnapshot = transitSnapshot
        self.transitObservedAt = transitObservedAt
    }

    /// Entities of every kind (`ObservationKind`).
    public var count: Int { ObservationKind.allCases.reduce(0) { $0 + count(of: $1) } }

    /// Whether there are transit entities to write, or a snapshot that clears them.
    public var hasTransit: Bool { has(.transit) }

    /// Attaches every reading that has a position to the city's zone for it (containing polygon,
    /// else nearest); readings without a position keep their zone.
    public mutating func attachZones(of city: City) {
        guard !city.zones.isEmpty else { return }
        for index in measurements.indices {
            if let location = measurements[index].location, let zone = city.zone(for: location) {
                measurements[index].zone = zone
            }
        }
    }

    /// Names each station by its public code where it has one (`StationKey.code`); the feed's id
    /// stays reachable as the code no longer is. Stations without a code keep their id.
    public mutating func keyStationsByCode() {
        for index in stations.indices {
            guard let code = stations[index].code, !code.isEmpty, code != stations[index].stationID else { continue }
            stations[index].code = stations[index].stationID
            stations[index].stationID = code
        }
    }
}
