/// A departure whose time came, with its last prediction (`departures_seen`): the input of the
/// line hours.
public struct DepartureSeen: Sendable, Hashable {
    public var sourceID: String
    public var routeID: String?
    public var tripKey: String
    public var stopID: String
    /// When it left as last predicted (expected, else scheduled), epoch ms.
    public var at: Int64
    public var scheduledAt: Int64?
    public var delaySeconds: Int?
    public var relationship: String?

    public init(
        sourceID: String, routeID: String?, tripKey: String, stopID: String, at: Int64, scheduledAt: Int64?,
        delaySeconds: Int?, relationship: String?
    ) {
        self.sourceID = sourceID
        self.routeID = routeID
        self.tripKey = tripKey
        self.stopID = stopID
        self.at = at
        self.scheduledAt = scheduledAt
        self.delaySeconds = delaySeconds
        self.relationship = relationship
    }

    /// Cancelled, skipped or deleted: not a departure that happened.
    public var isCancelled: Bool {
        guard let relationship else { return false }
        return ["canceled", "cancelled", "skipped", "deleted"].contains(relationship.lowercased())
    }
}

/// One line's hour (`line_hours`): departures seen, their delays and the share on time.
public struct LineHour: Sendable, Hashable, Codable {
    public var sourceID: String
    public var routeID: String
    /// The hour's start, epoch ms (UTC).
    public var hour: Int64
    /// Departures whose time fell in the hour, cancelled ones included.
    public var departures: Int
    /// Those with a known delay (not cancelled).
    public var withDelay: Int
    public var cancelled: Int
    public var delayMean: Double?
    /// The 90th percentile of the delays (nearest rank), seconds.
    public var delayP90: Double?
    /// Share of the departures with a delay that left on time (`LineHours.onTime`).
    public var onTimeShare: Double?

    public init(
        sourceID: String, routeID: String, hour: Int64, departures: Int, withDelay: Int, cancelled: Int,
        delayMean: Double?, delayP90: Double?, onTimeShare: Double?
    ) {
        self.sourceID = sourceID
        self.routeID = routeID
        self.hour = hour
        self.departures = departures
        self.withDelay = withDelay
        self.cancelled = cancelled
        self.delayMean = delayMean
        self.delayP90 = delayP90
        self.onTimeShare = onTimeShare
    }
}

/// One zone's metric over an hour (`zone_hours`).
public struct ZoneHour: Sendable, Hashable, Codable {
    public var sourceID: String
    public var zone: String
    public var metric: String
    public var hour: Int64
    public var readings: Int
    public var mean: Double
    public var min: Double
    public var max: Double
    public var unit: String?

    public init(
        sourceID: String, zone: String, metric: String, hour: Int64, readings: Int, mean: Double, min: Double,
        max: Double, unit: String?
    ) {
        self.sourceID = sourceID
        self.zone = zone
        self.metric = metric
        self.hour = hour
        self.readings = readings
        self.mean = mean
        self.min = min
        self.max = max
        self.unit = unit
    }
}

/// A (source, hour) whose input changed, and the newest change seen in it.
public struct HourTouch: Sendable, Hashable {
    public var sourceID: String
    public var hour: Int64
    public var newest: Int64

    public init(sourceID: String, hour: Int64, newest: Int64) {
        self.sourceID = sourceID
        self.hour = hour
        self.newest = newest
    }
}

public enum LineHours {
    /// On time: from one minute early to under five minutes late.
    public static let onTime: Range<Int> = -60..<300

    /// The rows of `hours` from the departures seen in them (those without a line are left out).
    public static func aggregate(_ seen: [DepartureSeen], hours: Set<Int64>) -> [LineHour] {
        struct Key: Hashable {
            var source: String
            var route: String
            var hour: Int64
        }
        var groups: [Key: [DepartureSeen]] = [:]
        for departure in seen {
            guard let route = departure.routeID, !route.isEmpty else { continue }
            let hour = StationHours.hour(of: departure.at)
            guard hours.contains(hour) else { continue }
            groups[Key(source: departure.sourceID, route: route, hour: hour), default: []].append(departure)
        }
        return groups.map { key, departures in
            let cancelled = departures.count(where: \.isCancelled)
            let delays = departures.filter { !$0.isCancelled }.compactMap(\.delaySeconds).sorted()
            let mean = delays.isEmpty ? nil : Double(delays.reduce(0, +)) / Double(delays.count)
            let p90 = delays.isEmpty ? nil : Double(delays[Swift.max(0, (delays.count * 9 + 9) / 10 - 1)])
            let share =
                delays.isEmpty ? nil : Double(delays.count(where: Self.onTime.contains)) / Double(delays.count)
            return LineHour(
                sourceID: key.source, routeID: key.route, hour: key.hour, departures: departures.count,
                withDelay: delays.count, cancelled: cancelled, delayMean: mean, delayP90: p90, onTimeShare: share)
        }.sorted { ($0.sourceID, $0.routeID, $0.hour) < ($1.sourceID, $1.routeID, $1.hour) }
    }
}

public enum ZoneHours {
    /// The rows of `hours` from the readings in them.
    public static func aggregate(_ readings: [CityMeasurement], hours: Set<Int64>) -> [ZoneHour] {
        struct Key: Hashable {
            var source: String
            var zone: String
            var metric: String
            var hour: Int64
        }
        var groups: [Key: [CityMeasurement]] = [:]
        for reading in readings {
            let hour = StationHours.hour(of: reading.observedAt)
            guard hours.contains(hour), reading.value.isFinite else { continue }
            groups[
                Key(source: reading.sourceID, zone: reading.zone, metric: reading.metric, hour: hour), default: []
            ].append(reading)
        }
        return groups.map { key, readings in
            let values = readings.map(\.value)
            return ZoneHour(
                sourceID: key.source, zone: key.zone, metric: key.metric, hour: key.hour, readings: values.count,
                mean: values.reduce(0, +) / Double(values.count), min: values.min() ?? 0, max: values.max() ?? 0,
                unit: readings.max { $0.observedAt < $1.observedAt }?.unit)
        }.sorted { ($0.sourceID, $0.zone, $0.metric, $0.hour) < ($1.sourceID, $1.zone, $1.metric, $1.hour) }
    }
}
