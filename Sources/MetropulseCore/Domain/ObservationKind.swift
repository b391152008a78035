/// Every kind of observation a fetch can produce, declared once. The batch, both store backends'
/// committers, the Kafka record codec and the conformance suites go over these cases with
/// exhaustive switches, so a new kind that one of them does not handle fails to compile there,
/// and the kind round-trip conformance test (every kind through every backend and the codec)
/// fails until it is stored and read back.
public enum ObservationKind: String, Sendable, Hashable, CaseIterable, Codable {
    case stations
    case departures
    case vehicles
    case disruptions
    case measurements

    /// The family a backend writes it with.
    public var family: ObservationFamily {
        switch self {
        case .stations: .stations
        case .departures, .vehicles, .disruptions: .transit
        case .measurements: .measurements
        }
    }
}

/// Kinds written together: a family has its raw and latest tables per backend, its writer in each
/// committer and its record topic on Kafka.
public enum ObservationFamily: String, Sendable, Hashable, CaseIterable, Codable {
    /// Bike-share stations: raw history, a latest tier with change detection.
    case stations
    /// City readings per zone and metric: raw history and latest values.
    case measurements
    /// Departures, vehicles and disruptions of a transit feed: one state per source, replaced by a
    /// snapshot or upserted.
    case transit

    public var kinds: [ObservationKind] { ObservationKind.allCases.filter { $0.family == self } }
}

extension ObservationBatch {
    /// How many entities of `kind` the batch holds.
    public func count(of kind: ObservationKind) -> Int {
        switch kind {
        case .stations: stations.count
        case .departures: departures.count
        case .vehicles: vehicles.count
        case .disruptions: disruptions.count
        case .measurements: measurements.count
        }
    }

    /// Whether there is anything of `family` to write (for transit, also a snapshot that clears
    /// the source's state).
    public func has(_ family: ObservationFamily) -> Bool {
        (family == .transit && transitSnapshot) || family.kinds.contains { count(of: $0) > 0 }
    }

    /// The families there is something of, in declaration order.
    public var families: [ObservationFamily] { ObservationFamily.allCases.filter(has) }

    /// Adds `other`'s entities of `family` to this batch (a snapshot flag and time stay this
    /// batch's).
    public mutating func append(_ other: ObservationBatch, family: ObservationFamily) {
        for kind in family.kinds {
            switch kind {
            case .stations: stations += other.stations
            case .departures: departures += other.departures
            case .vehicles: vehicles += other.vehicles
            case .disruptions: disruptions += other.disruptions
            case .measurements: measurements += other.measurements
            }
        }
    }
}
