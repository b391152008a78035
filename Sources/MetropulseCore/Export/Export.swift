import Foundation

/// One value of an exported row.
public enum ExportValue: Sendable, Hashable {
    case null
    case int(Int64)
    case real(Double)
    case text(String)

    static func time(_ millis: Int64?) -> ExportValue { millis.map { .text(Timestamp.iso8601($0)) } ?? .null }
    static func number(_ value: Int?) -> ExportValue { value.map { .int(Int64($0)) } ?? .null }
    static func decimal(_ value: Double?) -> ExportValue { value.flatMap { $0.isFinite ? .real($0) : nil } ?? .null }
    static func string(_ value: String?) -> ExportValue { value.map { .text($0) } ?? .null }
}

/// A stored table read in the order of its key, a page at a time (`ExportStore`). The names are
/// constants of this file, never a caller's text.
public struct ExportTable: Sendable, Hashable {
    public enum ColumnType: Sendable, Hashable { case text, int, real }

    public struct Column: Sendable, Hashable {
        public var name: String
        public var type: ColumnType
    }

    public var name: String
    public var columns: [Column]
    /// The primary key's columns, in its order; each is one of `columns`.
    public var key: [String]
    /// The column `since` and `until` filter on (epoch ms).
    public var timeColumn: String
    public var sourceColumn: String = "source_id"

    /// Where each key column is in `columns`.
    public var keyPositions: [Int] { key.compactMap { k in columns.firstIndex { $0.name == k } } }

    init(_ name: String, _ columns: [(String, ColumnType)], key: [String], time: String) {
        self.name = name
        self.columns = columns.map { Column(name: $0.0, type: $0.1) }
        self.key = key
        self.timeColumn = time
    }
}

/// Which rows to export: one source's (or all), with `since <= time < until`.
public struct ExportFilter: Sendable, Hashable {
    public var sourceID: String?
    public var since: Int64?
    public var until: Int64?

    public init(sourceID: String? = nil, since: Int64? = nil, until: Int64? = nil) {
        self.sourceID = sourceID
        self.since = since
        self.until = until
    }

    func contains(_ time: Int64) -> Bool {
        (since.map { time >= $0 } ?? true) && (until.map { time < $0 } ?? true)
    }
}

/// Tables read page by page in key order, so an export of any size holds one page at a time
/// (`ExportConformanceTests`).
public protocol ExportStore: Sendable {
    /// At most `limit` rows of `table` matching `filter`, in key order, after the row whose key
    /// columns hold `after` (from the start when nil); each row has `table.columns`' values.
    func exportRows(_ table: ExportTable, filter: ExportFilter, after: [ExportValue]?, limit: Int) async throws
        -> [[ExportValue]]
    /// How many rows of `table` match `filter`.
    func exportCount(_ table: ExportTable, filter: ExportFilter) async throws -> Int
}

/// What can be exported: the raw history (station observations, vehicle positions, zone
/// readings), the current departures, and every table of the gold tier.
public enum ExportDataset: String, Sendable, CaseIterable {
    case stationObservations = "station_observations"
    case departures
    case vehiclePositions = "vehicle_positions"
    case zoneReadings = "zone_readings"
    case stationHours = "station_hours"
    case stationDays = "station_days"
    case stationRankings = "station_rankings"
    case lineHours = "line_hours"
    case zoneHours = "zone_hours"
    case qualityResults = "quality_results"

    public var summary: String {
        switch self {
        case .stationObservations: "every raw station observation (time: observed_at), in fetch order"
        case .departures: "the departures held now (current state; time: observed_at)"
        case .vehiclePositions: "every raw vehicle position (time: observed_at), by source and vehicle"
        case .zoneReadings: "every raw city reading (time: observed_at), by source, zone and metric"
        case .stationHours: "the hourly station aggregates (time: hour)"
        case .stationDays: "the daily station aggregates (time: day)"
        case .stationRankings: "the 24-hour station rankings (time: computed_at)"
        case .lineHours: "the hourly line punctuality (time: hour)"
        case .zoneHours: "the hourly zone statistics (time: hour)"
        case .qualityResults: "the data-quality results (time: at)"
        }
    }

    /// The exported columns, in order.
    public var header: [String] {
        switch self {
        case .stationObservations:
            [
                "source", "station_id", "observed_at", "fetched_at", "bikes", "mechanical", "ebikes", "docks",
                "capacity", "status", "occupancy",
            ]
        case .departures:
            [
                "source", "stop_id", "stop_sequence", "route_id", "trip_id", "direction_id", "vehicle_id",
                "scheduled_at", "expected_at", "delay_seconds", "relationship", "observed_at", "fetched_at",
            ]
        case .vehiclePositions:
            [
                "source", "vehicle_id", "label", "route_id", "trip_id", "latitude", "longitude", "bearing", "speed",
                "stop_id", "current_status", "observed_at",
            ]
        case .zoneReadings: ["source", "zone", "metric", "observed_at", "value", "unit", "fetched_at"]
        case .stationHours, .stationDays:
            [
                "source", "station_id", self == .stationHours ? "hour" : "day", "observations", "bikes_mean",
                "bikes_min", "bikes_max", "ebikes_mean", "ebikes_min", "ebikes_max", "docks_mean", "docks_min",
                "docks_max", "occupancy_mean", "minutes_empty", "minutes_full", "minutes_closed", "bikes_taken",
                "bikes_returned",
            ]
        case .stationRankings:
            [
                "source", "station_id", "computed_at", "since", "minutes_empty", "minutes_full", "turnover",
                "rank_empty", "rank_full", "rank_turnover",
            ]
        case .lineHours:
            [
                "source", "route_id", "hour", "departures", "with_delay", "cancelled", "delay_mean_seconds",
                "delay_p90_seconds", "on_time_share",
            ]
        case .zoneHours: ["source", "zone", "metric", "hour", "readings", "mean", "min", "max", "unit"]
        case .qualityResults: ["at", "check", "source", "severity", "count", "total", "detail", "samples"]
        }
    }

    /// The table behind it (none for station observations, read from the raw blocks).
    var table: ExportTable? {
        switch self {
        case .stationObservations: nil
        case .departures:
            ExportTable(
                "departures",
                [
                    ("source_id", .text), ("trip_key", .text), ("stop_id", .text), ("sequence", .int),
                    ("fetched_at", .int), ("payload", .text),
                ], key: ["source_id", "trip_key", "stop_id", "sequence"], time: "observed_at")
        case .vehiclePositions:
            ExportTable(
                "vehicle_positions",
                [("source_id", .text), ("vehicle_id", .text), ("observed_at", .int), ("payload", .text)],
                key: ["source_id", "vehicle_id", "observed_at"], time: "observed_at")
        case .zoneReadings:
            ExportTable(
                "measurements",
                [
                    ("source_id", .text), ("zone", .text), ("metric", .text), ("observed_at", .int), ("value", .real),
                    ("unit", .text), ("fetched_at", .int),
                ], key: ["source_id", "zone", "metric", "observed_at"], time: "observed_at")
        case .stationHours, .stationDays:
            ExportTable(
                self == .stationHours ? "station_hours" : "station_days",
                [
                    ("source_id", .text), ("station_id", .text), (self == .stationHours ? "hour" : "day", .int),
                    ("observations", .int), ("bikes_mean", .real), ("bikes_min", .int), ("bikes_max", .int),
                    ("ebikes_mean", .real), ("ebikes_min", .int), ("ebikes_max", .int), ("docks_mean", .real),
                    ("docks_min", .int), ("docks_max", .int), ("occupancy_mean", .real), ("minutes_empty", .real),
                    ("minutes_full", .real), ("minutes_closed", .real), ("bikes_taken", .int),
                    ("bikes_returned", .int),
                ], key: ["source_id", "station_id", self == .stationHours ? "hour" : "day"],
                time: self == .stationHours ? "hour" : "day")
        case .stationRankings:
            ExportTable(
                "station_rankings",
                [
                    ("source_id", .text), ("station_id", .text), ("computed_at", .int), ("since", .int),
                    ("minutes_empty", .real), ("minutes_full", .real), ("turnover", .int), ("rank_empty", .int),
                    ("rank_full", .int), ("rank_turnover", .int),
                ], key: ["source_id", "station_id"], time: "computed_at")
        case .lineHours:
            ExportTable(
                "line_hours",
                [
                    ("source_id", .text), ("route_id", .text), ("hour", .int), ("departures", .int),
                    ("with_delay", .int), ("cancelled", .int), ("delay_mean", .real), ("delay_p90", .real),
                    ("on_time_share", .real),
                ], key: ["source_id", "route_id", "hour"], time: "hour")
        case .zoneHours:
            ExportTable(
                "zone_hours",
                [
                    ("source_id", .text), ("zone", .text), ("metric", .text), ("hour", .int), ("readings", .int),
                    ("mean", .real), ("min", .real), ("max", .real), ("unit", .text),
                ], key: ["source_id", "zone", "metric", "hour"], time: "hour")
        case .qualityResults:
            ExportTable(
                "quality_results",
                [
                    ("at", .int), ("check_name", .text), ("source_id", .text), ("severity", .text), ("count", .int),
                    ("total", .int), ("detail", .text), ("samples", .text),
                ], key: ["check_name", "source_id", "at"], time: "at")
        }
    }

    /// A stored row as exported: times as ISO 8601, JSON payloads as their fields.
    func output(_ row: [ExportValue]) -> [ExportValue] {
        func int(_ i: Int) -> Int64? { if case .int(let v) = row[i] { v } else { nil } }
        func text(_ i: Int) -> String? { if case .text(let v) = row[i] { v } else { nil } }
        switch self {
        case .stationObservations: return row
        case .departures:
            guard let payload = text(5), let d = try? TransitRows.decode(Departure.self, payload) else {
                return [row[0], row[2], row[3]] + Array(repeating: .null, count: 9) + [.time(int(4))]
            }
            return [
                .text(d.sourceID), .text(d.stopID), .number(d.stopSequence), .string(d.routeID), .string(d.tripID),
                .number(d.directionID), .string(d.vehicleID), .time(d.scheduledAt), .time(d.expectedAt),
                .number(d.delaySeconds), .text(d.relationship), .time(d.observedAt), .time(int(4)),
            ]
        case .vehiclePositions:
            guard let payload = text(3), let v = try? TransitRows.decode(VehiclePosition.self, payload) else {
                return [row[0], row[1]] + Array(repeating: .null, count: 9) + [.time(int(2))]
            }
            return [
                .text(v.sourceID), .text(v.vehicleID), .string(v.label), .string(v.routeID), .string(v.tripID),
                .decimal(v.latitude), .decimal(v.longitude), .decimal(v.bearing), .decimal(v.speed), .string(v.stopID),
                .string(v.currentStatus), .time(v.observedAt),
            ]
        case .zoneReadings:
            return [row[0], row[1], row[2], .time(int(3)), row[4], row[5], .time(int(6))]
        case .stationHours, .stationDays, .lineHours:
            var out = row
            out[2] = .time(int(2))
            return out
        case .zoneHours:
            var out = row
            out[3] = .time(int(3))
            return out
        case .stationRankings:
            var out = row
            out[2] = .time(int(2))
            out[3] = .time(int(3))
            return out
        case .qualityResults:
            var out = row
            out[0] = .time(int(0))
            return out
        }
    }

    static func stationRow(_ o: StationObservation, fetchedAt: Int64) -> [ExportValue] {
        [
            .text(o.sourceID), .text(o.stationID), .time(o.observedAt), .time(fetchedAt), .int(Int64(o.bikesAvailable)),
            .number(o.mechanicalAvailable), .number(o.ebikesAvailable), .number(o.docksAvailable), .number(o.capacity),
            .text(o.status.rawValue), .decimal(o.occupancyRate),
        ]
    }
}

/// Streams a dataset a page at a time: memory holds one page (and, for station observations,
/// one raw block), whatever the size of the export.
public struct Exporter: Sendable {
    public let store: any Store
    public var pageSize: Int

    public init(store: any Store, pageSize: Int = 2_000) {
        self.store = store
        self.pageSize = max(1, pageSize)
    }

    /// Calls `page` with each page of rows (never empty), in order, until the dataset is done.
    public func export(
        _ dataset: ExportDataset, filter: ExportFilter, page: (_ rows: [[ExportValue]]) async throws -> Void
    ) async throws {
        guard let table = dataset.table else {
            return try await stationObservations(filter, page: page)
        }
        let keys = table.keyPositions
        var after: [ExportValue]?
        while true {
            try Task.checkCancellation()
            let rows = try await store.exportRows(table, filter: filter, after: after, limit: pageSize)
            guard let last = rows.last else { return }
            try await page(rows.map(dataset.output))
            guard rows.count == pageSize else { return }
            after = keys.map { last[$0] }
        }
    }

    /// About how many rows `export` gives (for a progress bar): exact for a table; for station
    /// observations, those of the raw blocks whose time span meets the window.
    public func estimate(_ dataset: ExportDataset, filter: ExportFilter) async throws -> Int {
        if let table = dataset.table { return try await store.exportCount(table, filter: filter) }
        var total = 0
        try await matchingSpans(filter) { total += $0.count }
        return total
    }

    /// Each raw block's span that may hold observations for `filter`, in fetch order.
    private func matchingSpans(_ filter: ExportFilter, _ body: (StationBlockSpan) async throws -> Void) async throws {
        var position = StationBlockPosition.start
        if let since = filter.since, since > Int64.min + 3_600_000 {
            position = StationBlockPosition(fetchedAt: since - 3_600_000, blockID: .min)
        }
        let spanPage = 500
        while true {
            try Task.checkCancellation()
            let spans = try await store.stationBlockSpans(after: position, limit: spanPage)
            for span in spans {
                if let source = filter.sourceID, span.sourceID != source { continue }
                if let since = filter.since, span.lastObservedAt < since { continue }
                if let until = filter.until, span.firstObservedAt >= until { continue }
                try await body(span)
            }
            guard let last = spans.last, spans.count == spanPage else { return }
            position = last.position
        }
    }

    /// The raw blocks in fetch order: their spans say which to decode (the source, and
    /// observation times meeting the window); an observation is fetched after it is observed,
    /// so the blocks fetched more than an hour before `since` are not read.
    private func stationObservations(
        _ filter: ExportFilter, page: (_ rows: [[ExportValue]]) async throws -> Void
    ) async throws {
        var rows: [[ExportValue]] = []
        rows.reserveCapacity(pageSize)
        try await matchingSpans(filter) { span in
            let before = StationBlockPosition(fetchedAt: span.position.fetchedAt, blockID: span.position.blockID - 1)
            for block in try await store.stationBlocks(after: before, limit: 1) where block.position == span.position {
                for observation in block.observations where filter.contains(observation.observedAt) {
                    rows.append(ExportDataset.stationRow(observation, fetchedAt: span.position.fetchedAt))
                    if rows.count == pageSize {
                        try await page(rows)
                        rows.removeAll(keepingCapacity: true)
                    }
                }
            }
        }
        if !rows.isEmpty { try await page(rows) }
    }
}

/// CSV (RFC 4180, a header row) and NDJSON (one JSON object a line) of exported rows.
public enum ExportFormat: String, Sendable, CaseIterable {
    case csv, ndjson

    public var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .ndjson: "application/x-ndjson"
        }
    }

    /// What comes before the rows: the header row for CSV.
    public func header(_ columns: [String]) -> String {
        switch self {
        case .csv: columns.map(Self.csvField).joined(separator: ",") + "\r\n"
        case .ndjson: ""
        }
    }

    /// Rows, each ending its line.
    public func encode(_ rows: [[ExportValue]], columns: [String], into out: inout [UInt8]) {
        for row in rows {
            switch self {
            case .csv:
                for (index, value) in row.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    switch value {
                    case .null: break
                    case .int(let v): out.append(contentsOf: String(v).utf8)
                    case .real(let v): out.append(contentsOf: String(v).utf8)
                    case .text(let v): out.append(contentsOf: Self.csvField(v).utf8)
                    }
                }
                out.append(contentsOf: [13, 10])
            case .ndjson:
                out.append(UInt8(ascii: "{"))
                for (index, value) in row.enumerated() where index < columns.count {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    Self.jsonString(columns[index], into: &out)
                    out.append(UInt8(ascii: ":"))
                    switch value {
                    case .null: out.append(contentsOf: "null".utf8)
                    case .int(let v): out.append(contentsOf: String(v).utf8)
                    case .real(let v): out.append(contentsOf: String(v).utf8)
                    case .text(let v): Self.jsonString(v, into: &out)
                    }
                }
                out.append(contentsOf: [UInt8(ascii: "}"), 10])
            }
        }
    }

    /// A field quoted when it holds a comma, a quote or a line break (quotes doubled); a field
    /// a spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading quote mark.
    public static func csvField(_ text: String) -> String {
        var text = text
        if let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first),
            Double(text) == nil
        {
            text = "'" + text
        }
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func jsonString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case 92: out.append(contentsOf: [92, 92])
            case 10: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 13: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 9: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
