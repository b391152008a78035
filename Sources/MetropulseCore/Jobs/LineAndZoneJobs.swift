/// The hours of a gold table rebuilt from what changed since a watermark: the changes are found by
/// when they were recorded (less `lookbackMillis`, so a change committed a little after a later
/// one is not missed), and each hour they touch is rewritten from all of its input, so a re-run or
/// a late change gives the rows a full rebuild gives. The hour in progress is written too, and
/// rewritten as it fills.
enum HourlyRebuild {
    static let lookbackMillis: Int64 = 5 * 60_000

    static func run(
        _ context: JobContext, noun: String, touched: (Int64) async throws -> [HourTouch],
        rebuild: (_ sourceID: String, _ hours: [Int64], _ range: Range<Int64>) async throws -> (read: Int, written: Int)
    ) async throws -> JobResult {
        var since = Int64.min
        if let watermark = context.watermark, watermark > Int64.min + lookbackMillis {
            since = watermark - lookbackMillis
        }
        let touches = try await touched(since)
        var bySource: [String: Set<Int64>] = [:]
        for touch in touches { bySource[touch.sourceID, default: []].insert(touch.hour) }
        var (read, written, hours) = (0, 0, 0)
        for (sourceID, touchedHours) in bySource.sorted(by: { $0.key < $1.key }) {
            for chunk in RefreshHourlyJob.chunks(of: touchedHours) {
                try Task.checkCancellation()
                guard let first = chunk.first, let last = chunk.last else { continue }
                let (r, w) = try await rebuild(sourceID, chunk, first..<(last + StationHours.hourMillis))
                read += r
                written += w
                hours += chunk.count
            }
        }
        let detail =
            bySource.isEmpty
            ? "no hour to rewrite"
            : "rewrote \(plural(hours, "hour")) of \(plural(bySource.count, "source")): \(plural(written, noun))"
        return JobResult(
            rowsRead: read, rowsWritten: written, detail: detail,
            watermark: touches.map(\.newest).max() ?? context.watermark)
    }
}

/// `refresh_line_hours`: per line and hour, the departures seen (a departure is seen once its
/// time has come, with its last prediction), the mean and 90th-percentile delay and the share on
/// time (`LineHours`), incremental from when departures were seen.
public struct RefreshLineHoursJob: Job {
    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "refresh_line_hours", title: "Line punctuality",
            summary:
                "Per line and hour: departures seen, cancelled, mean and 90th-percentile delay, and the share on time (from 1 min early to under 5 min late). Reads only the departures seen since its watermark and rewrites the hours they touch.",
            dependsOn: ["check_store_health"], timeoutMillis: 15 * 60_000, maxAttempts: 3, retryDelayMillis: 10_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let store = context.store
        return try await HourlyRebuild.run(
            context, noun: "line-hour", touched: { try await store.departureHoursTouched(since: $0) },
            rebuild: { sourceID, hours, range in
                let seen = try await store.departuresSeen(
                    sourceID: sourceID, from: range.lowerBound, until: range.upperBound)
                let rows = LineHours.aggregate(seen, hours: Set(hours))
                try await store.replaceLineHours(sourceID: sourceID, hours: hours, rows: rows, writtenAt: context.now)
                return (seen.count, rows.count)
            })
    }
}

/// `refresh_zone_hours`: per zone, metric and hour, the mean, minimum and maximum of the city
/// readings (`ZoneHours`), incremental from when readings were fetched.
public struct RefreshZoneHoursJob: Job {
    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "refresh_zone_hours", title: "Zone statistics",
            summary:
                "Per zone, metric and hour: readings, mean, minimum and maximum. Reads only the readings fetched since its watermark and rewrites the hours they touch.",
            dependsOn: ["check_store_health"], timeoutMillis: 15 * 60_000, maxAttempts: 3, retryDelayMillis: 10_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let store = context.store
        return try await HourlyRebuild.run(
            context, noun: "zone-hour", touched: { try await store.measurementHoursTouched(since: $0) },
            rebuild: { sourceID, hours, range in
                let readings = try await store.measurements(
                    sourceID: sourceID, from: range.lowerBound, until: range.upperBound)
                let rows = ZoneHours.aggregate(readings, hours: Set(hours))
                try await store.replaceZoneHours(sourceID: sourceID, hours: hours, rows: rows, writtenAt: context.now)
                return (readings.count, rows.count)
            })
    }
}
