import GTFSRealtimeBindings
import SwiftProtobuf

/// Snake-case names of the GTFS-Realtime enums (`NO_SERVICE` → `no_service`) by raw value, taken
/// once from the generated enums: both decoders name cases alike, and a lookup is an array index
/// (formatting a case by reflection on every entity cost more than decoding it).
enum GTFSRealtimeNames {
    struct Table: Sendable {
        private let names: [String?]

        init<E: SwiftProtobuf.Enum & CaseIterable>(_ type: E.Type) {
            var names = [String?](repeating: nil, count: (type.allCases.map(\.rawValue).max() ?? 0) + 1)
            for value in type.allCases where value.rawValue >= 0 {
                names[value.rawValue] = String(describing: value).snakeCased
            }
            self.names = names
        }

        /// Whether the specification lists this value (one it does not leaves the field unset).
        func has(_ raw: Int32) -> Bool {
            raw >= 0 && Int(raw) < names.count && names[Int(raw)] != nil
        }

        /// A wire value as the enum's raw value if the specification lists it, else nil (the
        /// field then keeps what it had).
        func listed(_ varint: UInt64) -> Int32? {
            let raw = Int32(truncatingIfNeeded: varint)
            return has(raw) ? raw : nil
        }

        func name(_ raw: Int32) -> String {
            has(raw) ? names[Int(raw)]! : "unknown_\(raw)"
        }

        func name<E: SwiftProtobuf.Enum>(_ value: E) -> String {
            name(Int32(truncatingIfNeeded: value.rawValue))
        }
    }

    static let cause = Table(TransitRealtime_Alert.Cause.self)
    static let effect = Table(TransitRealtime_Alert.Effect.self)
    static let severity = Table(TransitRealtime_Alert.SeverityLevel.self)
    static let tripRelationship = Table(TransitRealtime_TripDescriptor.ScheduleRelationship.self)
    static let stopRelationship = Table(TransitRealtime_TripUpdate.StopTimeUpdate.ScheduleRelationship.self)
    static let stopStatus = Table(TransitRealtime_VehiclePosition.VehicleStopStatus.self)
}
