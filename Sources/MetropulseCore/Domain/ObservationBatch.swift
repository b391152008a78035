/// The normalized entities one fetch produced, one typed array per observation kind.
public struct ObservationBatch: Sendable, Hashable {
    public var stations: [StationObservation]

    public init(stations: [StationObservation] = []) {
        self.stations = stations
    }

    public var count: Int { stations.count }
}
