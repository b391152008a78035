/// The normalized entities one fetch produced, one typed array per observation kind.
public struct ObservationBatch: Sendable, Hashable {
    public var stations: [StationObservation]

    public init(stations: [StationObservation] = []) {
        self.stations = stations
    }

    public var count: Int { stations.count }

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
