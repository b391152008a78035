import MetropulseCore

/// Reads `station_status.json` with `JSONCursor`: the hot file of every bike-share source, read on
/// every run. Accepts the same deviations as the rest of the GBFS parser; a field of the wrong type
/// rejects its station, not the file.
struct GBFSStatusReader {
    struct Entry {
        var stationID: String?
        var stationCode: String?
        var bikes: Int?
        var vehicles: Int?
        var docks: Int?
        var mechanical: Int?
        var ebike: Int?
        var typeCounts: [(String, Int)]?
        var isInstalled: Bool?
        var isRenting: Bool?
        var isReturning: Bool?
        var lastReported: Int64?
        /// `last_reported` was there but not a time (negative, out of range, unreadable).
        var unreadableLastReported: String?
        /// The first field that had an impossible type.
        var invalid: String?
    }

    var lastUpdated: Int64?
    var ttl: Int?
    var version: String?
    var stations: [Entry]?
    var hasData = false

    static func read(_ body: [UInt8]) throws -> GBFSStatusReader {
        try body.withUnsafeBufferPointer { buffer in
            var cursor = JSONCursor(buffer)
            var reader = GBFSStatusReader()
            guard try cursor.isNext(UInt8(ascii: "{")) else {
                throw JSONCursor.Failure(offset: 0, reason: "expected an object")
            }
            try cursor.forEachField { cursor, key in
                if key.equals("last_updated") || key.equals("lastUpdatedOther") {
                    let time = Self.time(try cursor.scalar())
                    if reader.lastUpdated == nil || key.equals("last_updated") { reader.lastUpdated = time }
                } else if key.equals("ttl") {
                    reader.ttl = Self.int(try cursor.scalar())
                } else if key.equals("version") {
                    if case .string(let version) = try cursor.scalar() { reader.version = version }
                } else if key.equals("data") {
                    reader.hasData = true
                    try reader.readData(&cursor)
                } else {
                    try cursor.skipValue()
                }
            }
            guard cursor.atEnd() else { throw JSONCursor.Failure(offset: cursor.index, reason: "trailing characters") }
            return reader
        }
    }

    private mutating func readData(_ cursor: inout JSONCursor) throws {
        guard try cursor.isNext(UInt8(ascii: "{")) else { return try cursor.skipValue() }
        try cursor.forEachField { cursor, key in
            guard key.equals("stations"), try cursor.isNext(UInt8(ascii: "[")) else { return try cursor.skipValue() }
            var entries: [Entry] = []
            entries.reserveCapacity(2048)
            try cursor.forEachElement { cursor, _ in
                guard try cursor.isNext(UInt8(ascii: "{")) else {
                    try cursor.skipValue()
                    entries.append(Entry(invalid: "station"))
                    return
                }
                entries.append(try Self.entry(&cursor))
            }
            stations = entries
        }
    }

    private static func entry(_ cursor: inout JSONCursor) throws -> Entry {
        var e = Entry()
        func invalid(_ field: String) { if e.invalid == nil { e.invalid = field } }
        try cursor.forEachField { cursor, key in
            switch key.count {
            case 10 where key.equals("station_id"):
                e.stationID = id(try cursor.scalar())
                if e.stationID == nil { invalid("station_id") }
            case 11 where key.equals("stationCode"):
                e.stationCode = id(try cursor.scalar())
            case 19 where key.equals("num_bikes_available"):
                e.bikes = int(try cursor.scalar())
                if e.bikes == nil { invalid("num_bikes_available") }
            case 22 where key.equals("num_vehicles_available"):
                e.vehicles = int(try cursor.scalar())
            case 19 where key.equals("num_docks_available"):
                e.docks = int(try cursor.scalar())
                if e.docks == nil { invalid("num_docks_available") }
            case 12 where key.equals("is_installed"):
                e.isInstalled = flag(try cursor.scalar())
                if e.isInstalled == nil { invalid("is_installed") }
            case 10 where key.equals("is_renting"):
                e.isRenting = flag(try cursor.scalar())
                if e.isRenting == nil { invalid("is_renting") }
            case 12 where key.equals("is_returning"):
                e.isReturning = flag(try cursor.scalar())
                if e.isReturning == nil { invalid("is_returning") }
            case 13 where key.equals("last_reported"):
                let scalar = try cursor.scalar()
                e.lastReported = time(scalar)
                if e.lastReported == nil && scalar != .null { e.unreadableLastReported = Self.text(scalar) }
            case 25 where key.equals("num_bikes_available_types"):
                guard try cursor.isNext(UInt8(ascii: "[")) else { return try cursor.skipValue() }
                try cursor.forEachElement { cursor, _ in
                    guard try cursor.isNext(UInt8(ascii: "{")) else { return try cursor.skipValue() }
                    try cursor.forEachField { cursor, kind in
                        let count = int(try cursor.scalar())
                        if kind.equals("mechanical") { e.mechanical = (e.mechanical ?? 0) + (count ?? 0) }
                        if kind.equals("ebike") { e.ebike = (e.ebike ?? 0) + (count ?? 0) }
                    }
                }
            case 23 where key.equals("vehicle_types_available"):
                guard try cursor.isNext(UInt8(ascii: "[")) else { return try cursor.skipValue() }
                var counts: [(String, Int)] = []
                try cursor.forEachElement { cursor, _ in
                    guard try cursor.isNext(UInt8(ascii: "{")) else { return try cursor.skipValue() }
                    var type: String?
                    var count: Int?
                    try cursor.forEachField { cursor, field in
                        if field.equals("vehicle_type_id") {
                            type = id(try cursor.scalar())
                        } else if field.equals("count") {
                            count = int(try cursor.scalar())
                        } else {
                            try cursor.skipValue()
                        }
                    }
                    if let type, let count { counts.append((type, count)) }
                }
                e.typeCounts = counts
            default:
                try cursor.skipValue()
            }
        }
        return e
    }

    static func id(_ scalar: JSONCursor.Scalar) -> String? {
        switch scalar {
        case .string(let text): return text
        case .integer(let value): return String(value)
        case .integerText(let text): return text
        default: return nil
        }
    }

    /// A count: a whole number within ±`countLimit` (a larger one is no count a station can have,
    /// and summing such values could overflow).
    static func int(_ scalar: JSONCursor.Scalar) -> Int? {
        let value: Int?
        switch scalar {
        case .integer(let integer): value = Int(exactly: integer)
        case .number(let number): value = number.rounded() == number ? Int(exactly: number) : nil
        default: value = nil
        }
        return value.flatMap { abs($0) <= countLimit ? $0 : nil }
    }

    static let countLimit = 1_000_000_000

    static func flag(_ scalar: JSONCursor.Scalar) -> Bool? {
        switch scalar {
        case .bool(let value): return value
        case .integer(0), .string("0"), .string("false"): return false
        case .integer(1), .string("1"), .string("true"): return true
        default: return nil
        }
    }

    /// POSIX seconds (v1/v2) or ISO 8601 (v3), in milliseconds.
    /// A scalar as the feed wrote it, for a message (cut at 64 characters).
    static func text(_ scalar: JSONCursor.Scalar) -> String {
        let text: String
        switch scalar {
        case .string(let value): text = "\"\(value)\""
        case .integer(let value): text = "\(value)"
        case .integerText(let value): text = value
        case .number(let value): text = "\(value)"
        case .bool(let value): text = "\(value)"
        case .null: text = "null"
        }
        return String(text.prefix(64))
    }

    static func time(_ scalar: JSONCursor.Scalar) -> Int64? {
        switch scalar {
        case .integer(let seconds): return Timestamp.millis(seconds: seconds)
        case .number(let seconds): return Timestamp.millis(seconds: seconds)
        case .string(let text): return Timestamp.parse(text).flatMap { Timestamp.feedRange.contains($0) ? $0 : nil }
        default: return nil
        }
    }
}
