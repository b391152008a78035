/// `data_quality_check`: the checks of the seed pipeline's last task, each a result per source
/// with a severity, kept as a history (`QualityStore`).
///
/// The checks read what is stored: the run log of the last 24 hours, the latest stations, the
/// hourly rows of the last 12 hours and the latest city readings. A check that finds nothing
/// records a pass (count 0), so the history shows when a problem started and ended.
public struct DataQualityJob: Job {
    /// Checks, in the order results are listed.
    public enum Check: String, Sendable, CaseIterable {
        case runGaps = "run_gaps"
        case rejectedShare = "rejected_share"
        case overCapacity = "over_capacity"
        case frozenCounters = "frozen_counters"
        case outOfArea = "out_of_area"
        case futureObservations = "future_observations"
        case duplicates

        public var title: String {
            switch self {
            case .runGaps: "Gaps in the runs"
            case .rejectedShare: "Rejected entities"
            case .overCapacity: "Bikes + docks over capacity"
            case .frozenCounters: "Counters frozen while the feed advances"
            case .outOfArea: "Coordinates out of the system's area"
            case .futureObservations: "Observations from the future"
            case .duplicates: "Duplicates"
            }
        }
    }

    /// The window of the run-log checks.
    public static let windowMillis: Int64 = 24 * 3_600_000
    /// Run starts examined per source for gaps.
    public static let gapWindowMillis: Int64 = 6 * 3_600_000
    /// A station farther than this from its system's median position is out of its area.
    public static let areaRadiusMeters = 50_000.0
    /// An observation dated later than this after the check is from the future.
    public static let futureToleranceMillis: Int64 = 5 * 60_000
    /// Hours of unchanged counts, each with several observations, that make a station frozen.
    public static let frozenHours = 6
    /// Runs whose rejections are read for the reasons.
    public static let rejectionRunsLimit = 2_000

    public init() {}

    public var description: JobDescription {
        JobDescription(
            id: "data_quality_check", title: "Data quality",
            summary:
                "Per source: gaps in its runs, the share of entities rejected (by reason), stations whose bikes + docks exceed capacity, counters frozen while the feed advances, coordinates out of the system's area, observations from the future and duplicates. Each check records a result with a severity, also when it passes.",
            dependsOn: ["refresh_hourly"], timeoutMillis: 5 * 60_000, maxAttempts: 2, retryDelayMillis: 10_000)
    }

    public func run(_ context: JobContext) async throws -> JobResult {
        let store = context.store
        let now = context.now
        let at = context.cycle
        let totals = try await store.runTotals(since: now - Self.windowMillis)
        let rejectionRuns = try await store.runsWithRejections(
            since: now - Self.windowMillis, limit: Self.rejectionRunsLimit)
        let reasons = RejectionGroups(rejectionRuns)
        var results: [QualityResult] = []
        var read = rejectionRuns.count

        for source in totals {
            try Task.checkCancellation()
            let runs = try await store.taskRuns(
                TaskRunQuery(sourceID: source.sourceID, since: now - Self.gapWindowMillis, limit: 5_000))
            read += runs.count
            results.append(Self.runGaps(source.sourceID, runs: runs, now: now, at: at))
            results.append(Self.rejectedShare(source, reasons: reasons, at: at))

            let stations = try await store.stations(StationQuery(sourceID: source.sourceID, limit: 1_000_000))
            let measurements = try await store.latestMeasurements(sourceIDs: [source.sourceID], zone: nil)
            read += stations.count + measurements.count
            if !stations.isEmpty {
                let observations = stations.map(\.observation)
                results.append(Self.overCapacity(source.sourceID, observations, at: at))
                let hours = try await store.stationHours(
                    sourceID: source.sourceID, stationID: nil,
                    since: StationHours.hour(of: now) - Int64(Self.frozenHours) * StationHours.hourMillis, until: nil,
                    limit: 1_000_000)
                read += hours.count
                results.append(Self.frozenCounters(source.sourceID, hours: hours, at: at))
                results.append(Self.outOfArea(source.sourceID, observations, at: at))
            }
            if !stations.isEmpty || !measurements.isEmpty {
                let times =
                    stations.map { ($0.observation.stationID, $0.observation.observedAt) }
                    + measurements.map { ("\($0.value.zone)/\($0.value.metric)", $0.value.observedAt) }
                results.append(Self.future(source.sourceID, times, now: now, at: at))
            }
            results.append(
                Self.duplicates(
                    source.sourceID, stations.map(\.observation),
                    listedTwice: reasons.duplicates[source.sourceID] ?? [],
                    at: at))
        }
        try await store.recordQualityResults(results)
        let failing = results.filter { !$0.passed }
        let worst = failing.map(\.severity).max()
        var detail = "\(plural(results.count, "check result")) for \(plural(totals.count, "source"))"
        detail +=
            failing.isEmpty ? ", all passed" : ", \(failing.count) found problems (worst: \(worst?.rawValue ?? ""))"
        return JobResult(rowsRead: read, rowsWritten: results.count, detail: detail)
    }

    // MARK: The checks

    /// A pause between two runs longer than three times the source's usual interval (the median
    /// of those of a second or more), and at least two minutes; the time since the last run counts
    /// as one.
    static func runGaps(_ sourceID: String, runs: [TaskRun], now: Int64, at: Int64) -> QualityResult {
        let starts = runs.map(\.startedAt).sorted()
        // Runs under a second apart are a burst (a backfill, a run asked for now, retries), not the
        // source's cadence.
        var intervals = zip(starts.dropFirst(), starts).map { $0 - $1 }.filter { $0 >= 1_000 }
        guard intervals.count >= 2 else {
            return QualityResult(
                check: Check.runGaps.rawValue, sourceID: sourceID, severity: .warning, count: 0, total: starts.count,
                detail: "too few runs in the last 6 hours to know the source's interval", at: at)
        }
        intervals.sort()
        let usual = intervals[intervals.count / 2]
        let limit = max(3 * usual, 120_000)
        var gaps: [(Int64, Int64)] = []
        for (later, earlier) in zip(starts.dropFirst(), starts) where later - earlier > limit {
            gaps.append((earlier, later))
        }
        if let last = starts.last, now - last > limit { gaps.append((last, now)) }
        let samples = gaps.suffix(QualityResult.sampleLimit).reversed().map { gap in
            "\((gap.1 - gap.0) / 60_000) min without a run after \(Timestamp.iso8601(gap.0))"
        }
        let detail =
            gaps.isEmpty
            ? "runs every \(usual / 1000) s as usual over the last 6 hours"
            : "\(plural(gaps.count, "gap")) longer than \(limit / 60_000) min (3 × the usual \(usual / 1000) s)"
        return QualityResult(
            check: Check.runGaps.rawValue, sourceID: sourceID, severity: .warning, count: gaps.count,
            total: starts.count, detail: detail, samples: samples, at: at)
    }

    /// The share of entities refused whole over 24 hours; warning above 1 %, critical above 10 %.
    static func rejectedShare(_ totals: SourceRunTotals, reasons: RejectionGroups, at: Int64) -> QualityResult {
        let examined = totals.entities + totals.rejected
        let share = examined == 0 ? 0 : Double(totals.rejected) / Double(examined)
        let severity: QualityResult.Severity = share > 0.10 ? .critical : (share > 0.01 ? .warning : .info)
        let groups = reasons.bySource[totals.sourceID] ?? []
        let percent = (share * 1000).rounded() / 10
        let detail =
            totals.rejected == 0
            ? "no entity rejected in \(plural(totals.runs, "run"))"
            : "\(totals.rejected) of \(examined) entities rejected (\(percent) %) in \(plural(totals.runs, "run"))"
        return QualityResult(
            check: Check.rejectedShare.rawValue, sourceID: totals.sourceID, severity: severity,
            count: totals.rejected, total: examined, detail: detail,
            samples: groups.map { "\($0.reason): \($0.count) (e.g. \($0.examples.first ?? "?"))" }, at: at)
    }

    static func overCapacity(_ sourceID: String, _ stations: [StationObservation], at: Int64) -> QualityResult {
        var found: [String] = []
        var examined = 0
        for s in stations {
            guard let capacity = s.capacity, capacity > 0 else { continue }
            examined += 1
            let sum = s.bikesAvailable + (s.docksAvailable ?? 0)
            if sum > capacity {
                found.append(
                    "\(s.stationID): \(s.bikesAvailable) bikes + \(s.docksAvailable ?? 0) docks, capacity \(capacity)")
            }
        }
        let detail =
            examined == 0
            ? "no station states its capacity"
            : "\(found.count) of \(plural(examined, "station")) with a capacity show more bikes + docks than it"
        return QualityResult(
            check: Check.overCapacity.rawValue, sourceID: sourceID, severity: .warning, count: found.count,
            total: examined, detail: detail, samples: found, at: at)
    }

    /// Stations whose bikes and docks stayed the same through `frozenHours` full hours, each with
    /// several observations, while other stations of the same feed changed.
    static func frozenCounters(_ sourceID: String, hours: [StationHour], at: Int64) -> QualityResult {
        var byStation: [String: [StationHour]] = [:]
        for row in hours { byStation[row.stationID, default: []].append(row) }
        var frozen: [String] = []
        var examined = 0
        var changing = 0
        for (stationID, rows) in byStation {
            guard rows.count >= Self.frozenHours, rows.allSatisfy({ $0.observations >= 2 }) else { continue }
            examined += 1
            let first = rows[0]
            let still = rows.allSatisfy {
                $0.bikesMin == $0.bikesMax && $0.bikesMin == first.bikesMin && $0.docksMin == $0.docksMax
                    && $0.docksMin == first.docksMin
            }
            if still {
                frozen.append(
                    "\(stationID): \(first.bikesMin) bikes, \(first.docksMin.map(String.init) ?? "?") docks for \(rows.count) h"
                )
            } else {
                changing += 1
            }
        }
        // A feed where nothing moves at all (night, a closed system) is not a frozen counter.
        if changing == 0 { frozen = [] }
        frozen.sort()
        let detail =
            examined == 0
            ? "no station with \(Self.frozenHours) observed hours yet"
            : "\(frozen.count) of \(plural(examined, "station")) unchanged for \(Self.frozenHours) h while \(changing) changed"
        return QualityResult(
            check: Check.frozenCounters.rawValue, sourceID: sourceID, severity: .warning, count: frozen.count,
            total: examined, detail: detail, samples: frozen, at: at)
    }

    /// Stations farther than `areaRadiusMeters` from the median position of their system.
    static func outOfArea(_ sourceID: String, _ stations: [StationObservation], at: Int64) -> QualityResult {
        let placed = stations.compactMap { s -> (String, GeoPoint)? in
            guard let lat = s.latitude, let lon = s.longitude else { return nil }
            return (s.stationID, GeoPoint(latitude: lat, longitude: lon))
        }
        guard placed.count >= 3 else {
            return QualityResult(
                check: Check.outOfArea.rawValue, sourceID: sourceID, severity: .warning, count: 0, total: placed.count,
                detail: "too few stations with a position to know the system's area", at: at)
        }
        let lats = placed.map(\.1.latitude).sorted()
        let lons = placed.map(\.1.longitude).sorted()
        let centre = GeoPoint(latitude: lats[lats.count / 2], longitude: lons[lons.count / 2])
        let far = placed.map { ($0.0, $0.1, centre.distance(to: $0.1)) }.filter { $0.2 > Self.areaRadiusMeters }
            .sorted { $0.2 > $1.2 }
        let samples = far.map {
            "\($0.0): \(Int($0.2 / 1000)) km from the system's centre (\($0.1.latitude), \($0.1.longitude))"
        }
        return QualityResult(
            check: Check.outOfArea.rawValue, sourceID: sourceID, severity: .warning, count: far.count,
            total: placed.count,
            detail:
                "\(far.count) of \(plural(placed.count, "station")) farther than \(Int(Self.areaRadiusMeters / 1000)) km from the median position",
            samples: samples, at: at)
    }

    static func future(_ sourceID: String, _ times: [(String, Int64)], now: Int64, at: Int64) -> QualityResult {
        let ahead = times.filter { $0.1 > now + Self.futureToleranceMillis }.sorted { $0.1 > $1.1 }
        return QualityResult(
            check: Check.futureObservations.rawValue, sourceID: sourceID, severity: .warning, count: ahead.count,
            total: times.count,
            detail: "\(ahead.count) of \(plural(times.count, "latest value")) dated more than 5 min after the check",
            samples: ahead.map { "\($0.0): \(Timestamp.iso8601($0.1))" }, at: at)
    }

    /// Entities a document listed twice (refused at ingest), and distinct stations at the very
    /// same position.
    static func duplicates(
        _ sourceID: String, _ stations: [StationObservation], listedTwice: [String], at: Int64
    ) -> QualityResult {
        var byPosition: [String: [String]] = [:]
        for s in stations {
            guard let lat = s.latitude, let lon = s.longitude else { continue }
            byPosition["\(lat),\(lon)", default: []].append(s.stationID)
        }
        let shared = byPosition.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        let samples =
            listedTwice.map { "\($0): listed twice in one document" }
            + shared.map { "\($0.value.sorted().joined(separator: ", ")): same position \($0.key)" }
        let count = listedTwice.count + shared.reduce(0) { $0 + $1.value.count - 1 }
        return QualityResult(
            check: Check.duplicates.rawValue, sourceID: sourceID, severity: .info, count: count,
            total: stations.count,
            detail:
                "\(listedTwice.count) listed twice in one document (24 h), \(shared.count) positions shared by several stations",
            samples: samples, at: at)
    }
}

/// Rejections of recent runs grouped per source by reason, the numbers in a reason blanked
/// ("num_bikes_available # is negative"), most frequent first.
public struct RejectionGroups: Sendable {
    public struct Group: Sendable, Hashable, Codable {
        public var sourceID: String
        public var reason: String
        /// Entities refused whole, or kept without a field (`kept`).
        public var kept: Bool
        public var count: Int
        /// A few of the entities.
        public var examples: [String]
    }

    public private(set) var bySource: [String: [Group]] = [:]
    /// Per source, entities a document listed twice.
    public private(set) var duplicates: [String: [String]] = [:]

    public init(_ runs: [TaskRun]) {
        var groups: [String: [String: Group]] = [:]
        for run in runs {
            for rejection in run.rejections {
                if rejection.reason == Rejection.duplicateReason {
                    if (duplicates[run.sourceID]?.count ?? 0) < QualityResult.sampleLimit,
                        duplicates[run.sourceID]?.contains(rejection.entity) != true
                    {
                        duplicates[run.sourceID, default: []].append(rejection.entity)
                    }
                }
                let reason = Self.pattern(rejection.reason)
                var group =
                    groups[run.sourceID]?[reason]
                    ?? Group(
                        sourceID: run.sourceID, reason: reason, kept: !rejection.isEntityRejected, count: 0,
                        examples: [])
                group.count += 1
                if group.examples.count < 3, !group.examples.contains(rejection.entity) {
                    group.examples.append(rejection.entity)
                }
                groups[run.sourceID, default: [:]][reason] = group
            }
        }
        bySource = groups.mapValues { $0.values.sorted { ($0.count, $1.reason) > ($1.count, $0.reason) } }
    }

    public var all: [Group] {
        bySource.keys.sorted().flatMap { bySource[$0] ?? [] }
    }

    /// The reason with each number replaced by `#`.
    static func pattern(_ reason: String) -> String {
        let chars = Array(reason)
        var out = ""
        var index = 0
        func isDigit(_ i: Int) -> Bool { i < chars.count && chars[i].isASCII && chars[i].isNumber }
        while index < chars.count {
            let startsNumber = isDigit(index) || (chars[index] == "-" && isDigit(index + 1))
            guard startsNumber else {
                out.append(chars[index])
                index += 1
                continue
            }
            index += 1
            while isDigit(index) || (chars[index...].first == "." && isDigit(index + 1)) { index += 1 }
            out.append("#")
        }
        return out
    }
}
