import Foundation

/// The jobs every Metropulse runs, in the order of the pipeline they replace:
/// `check_queue_health`, `check_store_health`, then `refresh_hourly` (which needs the store), and
/// after it `refresh_daily`, `compute_station_ranking` and `data_quality_check`.
public enum BuiltinJobs {
    /// `catalog` names the cities `process_city` processes (none without it).
    public static func all(catalog: SourceCatalog? = nil) -> [any Job] {
        [
            QueueHealthJob(), StoreHealthJob(), RefreshHourlyJob(), RefreshLineHoursJob(), RefreshZoneHoursJob(),
            RefreshDailyJob(), StationRankingJob(), DataQualityJob(), ProcessCityJob(catalog: catalog),
        ]
    }

    public static var descriptions: [JobDescription] {
        (try? JobGraph.ordered(all().map(\.description))) ?? []
    }
}

/// "1 hour", "3 hours".
func plural(_ count: Int, _ noun: String) -> String {
    "\(count) \(noun)\(count == 1 ? "" : "s")"
}

/// `check_queue_health`: the queue answers, with its depth, dead tasks and oldest waiting age;
/// on Kafka, the lag of each partition.
public struct QueueHealthJob: Job {
    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "check_queue_health", title: "Queue health",
            summary:
                "Asks the queue for its depth, dead tasks and oldest waiting age (on Kafka, the broker and the consumer lag per partition); fails when it does not answer within 30 s.",
            timeoutMillis: 30_000, maxAttempts: 2, retryDelayMillis: 5_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let stats = try await context.queue.stats(now: context.now)
        var parts = [
            "\(stats.queued) queued", "\(stats.running) running", "\(stats.retrying) retrying", "\(stats.dead) dead",
        ]
        if let since = stats.oldestReadySince {
            parts.append("oldest waiting \(max(0, context.now - since) / 1000) s")
        }
        if let partitions = stats.partitions {
            let lag = partitions.reduce(Int64(0)) { $0 + max(0, $1.lag) }
            parts.append("Kafka lag \(lag) over \(partitions.count) partitions")
        }
        return JobResult(rowsRead: stats.queued + stats.running + stats.retrying, detail: parts.joined(separator: ", "))
    }
}

/// `check_store_health`: the store answers its bookkeeping reads.
public struct StoreHealthJob: Job {
    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "check_store_health", title: "Store health",
            summary:
                "Reads the sources' bookkeeping and the scheduler's record from the store; fails when it does not answer within 30 s. The aggregates wait for it.",
            timeoutMillis: 30_000, maxAttempts: 2, retryDelayMillis: 5_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let started = ContinuousClock.now
        let states = try await context.store.sourceStates()
        _ = try await context.store.leadership()
        let elapsed = ContinuousClock.now - started
        let millis = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        return JobResult(rowsRead: states.count, detail: "\(states.count) sources' states read in \(millis) ms")
    }
}

/// `refresh_hourly`: the station hours of the gold tier (`StationHours`), incremental.
///
/// Each run reads the raw blocks fetched since its watermark (less `lookbackMillis`, so a block
/// committed a little after a later one is not missed; reading one twice costs only time),
/// finds the hours their observations can change, and rewrites those hours of each source from
/// the raw history. A re-run, or an observation arriving late, therefore gives the rows a full
/// rebuild would. Only hours that are over are written: the current hour's row appears once it
/// ended (the watermark waits before the blocks touching it, so they are read again then).
public struct RefreshHourlyJob: Job {
    public static let lookbackMillis: Int64 = 5 * 60_000
    /// Raw blocks per read.
    public static let pageSize = 1_000
    /// A block whose observations span more hours than this is decoded to find its hours.
    static let spanHoursLimit: Int64 = 48
    /// Hours recomputed per read of the raw history.
    public static let hoursPerChunk = 6
    /// A block fetched longer ago than this no longer holds the watermark back for an hour not
    /// over yet (an observation dated in the future): that hour is left out.
    public static let holdBackLimitMillis: Int64 = 2 * 3_600_000

    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "refresh_hourly", title: "Hourly aggregates",
            summary:
                "Per station and hour: mean, min and max of bikes, e-bikes and docks, occupancy, minutes empty, full and closed, bikes taken and returned, observations. Reads only the raw blocks fetched since its watermark and rewrites the hours they touch; an hour is written once it has ended.",
            dependsOn: ["check_store_health"], timeoutMillis: 30 * 60_000, maxAttempts: 3, retryDelayMillis: 10_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let store = context.store
        var position = StationBlockPosition.start
        if let watermark = context.watermark {
            position = StationBlockPosition(fetchedAt: watermark - Self.lookbackMillis, blockID: .min)
        }
        var touched: [String: Set<Int64>] = [:]
        var newest = context.watermark
        // Hours before this one are over; the current hour waits (its minutes would count time
        // still to come), and the watermark stays before the first block touching it.
        let currentHour = StationHours.hour(of: context.now)
        var holdBack: Int64?
        var read = 0
        func touch(_ hour: Int64, sourceID: String, fetchedAt: Int64) {
            if hour < currentHour {
                touched[sourceID, default: []].insert(hour)
            } else if context.now - fetchedAt < Self.holdBackLimitMillis {
                holdBack = min(holdBack ?? .max, fetchedAt)
            }
        }
        while true {
            try Task.checkCancellation()
            // Spans only: the blocks are decoded once, when their hours are recomputed.
            let spans = try await store.stationBlockSpans(after: position, limit: Self.pageSize)
            for span in spans {
                read += span.count
                let fetchedAt = span.position.fetchedAt
                let (last, overflow) = span.lastObservedAt.addingReportingOverflow(StationHours.maxHoldMillis)
                let first = StationHours.hour(of: span.firstObservedAt)
                let through = StationHours.hour(of: overflow ? span.lastObservedAt : last)
                let width = through.subtractingReportingOverflow(first)
                if !width.overflow, width.partialValue <= Self.spanHoursLimit * StationHours.hourMillis {
                    for hour in stride(from: first, through: through, by: Int(StationHours.hourMillis)) {
                        touch(hour, sourceID: span.sourceID, fetchedAt: fetchedAt)
                    }
                } else {
                    // A block spanning days (a station reporting a time long past): its own hours only.
                    let before = StationBlockPosition(fetchedAt: fetchedAt, blockID: span.position.blockID - 1)
                    for block in try await store.stationBlocks(after: before, limit: 1) {
                        for observation in block.observations {
                            for hour in StationHours.hoursTouched(by: observation.observedAt) {
                                touch(hour, sourceID: block.sourceID, fetchedAt: fetchedAt)
                            }
                        }
                    }
                }
                newest = max(newest ?? .min, fetchedAt)
            }
            guard let last = spans.last, spans.count == Self.pageSize else { break }
            position = last.position
        }
        var written = 0
        var hoursWritten = 0
        for (sourceID, hours) in touched.sorted(by: { $0.key < $1.key }) {
            for chunk in Self.chunks(of: hours) {
                try Task.checkCancellation()
                let range = StationHours.ranges(for: Set(chunk))
                var observations: [StationObservation] = []
                for part in range {
                    observations += try await store.stationObservations(
                        sourceID: sourceID, from: part.lowerBound, until: part.upperBound)
                }
                let rows = StationHours.aggregate(observations, hours: Set(chunk))
                try await store.replaceStationHours(
                    sourceID: sourceID, hours: chunk, rows: rows, writtenAt: context.now)
                written += rows.count
                hoursWritten += chunk.count
            }
        }
        var detail =
            touched.isEmpty
            ? "no hour to rewrite"
            : "rewrote \(plural(hoursWritten, "hour")) of \(plural(touched.count, "source")): \(plural(written, "station-hour"))"
        if holdBack != nil { detail += "; the hour in progress is written once it ends" }
        let watermark = holdBack.map { min($0, newest ?? $0) } ?? newest
        return JobResult(rowsRead: read, rowsWritten: written, detail: detail, watermark: watermark)
    }

    /// The hours in runs of consecutive hours, at most `hoursPerChunk` each.
    static func chunks(of hours: Set<Int64>) -> [[Int64]] {
        var chunks: [[Int64]] = []
        for hour in hours.sorted() {
            if let last = chunks.last?.last, hour - last == StationHours.hourMillis,
                chunks[chunks.count - 1].count < hoursPerChunk
            {
                chunks[chunks.count - 1].append(hour)
            } else {
                chunks.append([hour])
            }
        }
        return chunks
    }
}

/// `refresh_daily`: the station days of the gold tier (`StationDays`), from the hourly rows
/// `refresh_hourly` wrote since its watermark: each day they belong to is rebuilt from all of
/// that day's hours.
public struct RefreshDailyJob: Job {
    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "refresh_daily", title: "Daily aggregates",
            summary:
                "Per station and UTC day, from the hourly rows: means weighted by observations, min and max, minutes empty, full and closed, bikes taken and returned, observations. Rebuilds the days whose hours were rewritten since its watermark.",
            dependsOn: ["refresh_hourly"], timeoutMillis: 30 * 60_000, maxAttempts: 3, retryDelayMillis: 10_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let store = context.store
        let since = context.watermark.map { $0 - RefreshHourlyJob.lookbackMillis } ?? .min
        let written = try await store.stationHoursWritten(since: since)
        var days: [String: Set<Int64>] = [:]
        var newest = context.watermark
        for change in written {
            days[change.sourceID, default: []].insert(StationDays.day(of: change.hour))
            newest = max(newest ?? .min, change.writtenAt)
        }
        var read = 0
        var rowsWritten = 0
        for (sourceID, list) in days.sorted(by: { $0.key < $1.key }) {
            for day in list.sorted() {
                try Task.checkCancellation()
                let hours = try await store.stationHours(
                    sourceID: sourceID, stationID: nil, since: day, until: day + StationDays.dayMillis - 1,
                    limit: .max)
                read += hours.count
                let rows = StationDays.aggregate(hours)
                try await store.replaceStationDays(sourceID: sourceID, days: [day], rows: rows)
                rowsWritten += rows.count
            }
        }
        let dayCount = days.values.reduce(0) { $0 + $1.count }
        let detail =
            days.isEmpty
            ? "no hour rewritten since the last run"
            : "rebuilt \(plural(dayCount, "day")) of \(plural(days.count, "source")): \(plural(rowsWritten, "station-day"))"
        return JobResult(rowsRead: read, rowsWritten: rowsWritten, detail: detail, watermark: newest)
    }
}

/// `compute_station_ranking`: each source's stations over the last 24 hours of hourly rows,
/// ranked by minutes empty, minutes full and turnover (bikes taken plus returned).
public struct StationRankingJob: Job {
    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "compute_station_ranking", title: "Station ranking",
            summary:
                "Over the last 24 hours of hourly rows, per source: each station's minutes empty, minutes full and turnover (bikes taken and returned, from successive observations), and its rank by each.",
            dependsOn: ["refresh_hourly"], timeoutMillis: 10 * 60_000, maxAttempts: 3, retryDelayMillis: 10_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let store = context.store
        let until = StationHours.hour(of: context.now)
        let since = until - 24 * StationHours.hourMillis
        var read = 0
        var written = 0
        let sources = try await store.sourceStates().map(\.sourceID)
        for sourceID in sources.sorted() {
            try Task.checkCancellation()
            let hours = try await store.stationHours(
                sourceID: sourceID, stationID: nil, since: since, until: until - 1, limit: .max)
            if hours.isEmpty { continue }
            read += hours.count
            let ranks = StationRanking.rank(hours, sourceID: sourceID, computedAt: context.now, since: since)
            try await store.replaceStationRanking(sourceID: sourceID, rows: ranks)
            written += ranks.count
        }
        return JobResult(
            rowsRead: read, rowsWritten: written,
            detail: written == 0 ? "no hourly rows in the last 24 hours" : "ranked \(plural(written, "station"))")
    }
}
