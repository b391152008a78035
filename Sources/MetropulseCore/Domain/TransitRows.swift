public import Foundation

/// The rows both SQL backends write for transit entities: key and filter columns, plus the
/// entity itself as JSON (`payload`), so the backends share one encoding and one decoding.
public enum TransitRows {
    public struct DepartureRow: Sendable {
        public var sourceID: String
        /// The trip id, or '' for a stop-level prediction without one.
        public var tripKey: String
        public var stopID: String
        /// The stop sequence, or -1.
        public var sequence: Int
        public var routeID: String?
        public var at: Int64?
        public var observedAt: Int64
        public var payload: String
    }

    public struct VehicleRow: Sendable {
        public var sourceID: String
        public var vehicleID: String
        public var routeID: String?
        public var observedAt: Int64
        public var payload: String
    }

    public struct DisruptionRow: Sendable {
        public var sourceID: String
        public var id: String
        public var observedAt: Int64
        public var payload: String
    }

    public static func departures(_ departures: [Departure]) throws -> [DepartureRow] {
        let encoder = JSONEncoder()
        // One row per key: the last prediction for a (trip, stop, sequence) wins.
        var rows: [String: DepartureRow] = [:]
        var order: [String] = []
        for d in departures {
            let row = DepartureRow(
                sourceID: d.sourceID, tripKey: d.tripID ?? "", stopID: d.stopID, sequence: d.stopSequence ?? -1,
                routeID: d.routeID, at: d.at, observedAt: d.observedAt,
                payload: String(decoding: try encoder.encode(d), as: UTF8.self))
            let key = "\(row.tripKey)\u{1}\(row.stopID)\u{1}\(row.sequence)"
            if rows.updateValue(row, forKey: key) == nil { order.append(key) }
        }
        return order.compactMap { rows[$0] }
    }

    public static func vehicles(_ vehicles: [VehiclePosition]) throws -> [VehicleRow] {
        let encoder = JSONEncoder()
        var rows: [String: VehicleRow] = [:]
        for v in vehicles {
            rows[v.vehicleID] = VehicleRow(
                sourceID: v.sourceID, vehicleID: v.vehicleID, routeID: v.routeID, observedAt: v.observedAt,
                payload: String(decoding: try encoder.encode(v), as: UTF8.self))
        }
        return rows.values.sorted { $0.vehicleID < $1.vehicleID }
    }

    public static func disruptions(_ disruptions: [Disruption]) throws -> [DisruptionRow] {
        let encoder = JSONEncoder()
        var rows: [String: DisruptionRow] = [:]
        for d in disruptions {
            rows[d.id] = DisruptionRow(
                sourceID: d.sourceID, id: d.id, observedAt: d.observedAt,
                payload: String(decoding: try encoder.encode(d), as: UTF8.self))
        }
        return rows.values.sorted { $0.id < $1.id }
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ payload: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(payload.utf8))
    }
}

/// A transit entity as stored, with when it was fetched.
public struct StoredValue<Value: Sendable & Hashable>: Sendable, Hashable {
    public var value: Value
    public var fetchedAt: Int64
    public var runID: String

    public init(value: Value, fetchedAt: Int64, runID: String) {
        self.value = value
        self.fetchedAt = fetchedAt
        self.runID = runID
    }
}

public struct DepartureQuery: Sendable, Hashable {
    public var sourceIDs: [String]?
    public var routeID: String?
    public var stopID: String?
    /// Only passages at or after this time (epoch ms); those without a time are kept.
    public var from: Int64?
    public var limit: Int

    public init(
        sourceIDs: [String]? = nil, routeID: String? = nil, stopID: String? = nil, from: Int64? = nil,
        limit: Int = 1_000
    ) {
        self.sourceIDs = sourceIDs
        self.routeID = routeID
        self.stopID = stopID
        self.from = from
        self.limit = limit
    }
}
