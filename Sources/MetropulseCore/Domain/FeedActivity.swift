import Synchronization

/// How often a feed's data moves, learned per hour of the week from its run ledger, so that the
/// health of a feed that changes irregularly (a 311 feed: busy at noon, silent at 3 a.m.) judges
/// a silence by what is usual at that hour rather than by a fixed `stale_after`.
///
/// An *advance* is a successful run whose feed timestamp is newer than the previous success's
/// (or, for feeds without one, whose content hash differs). The rate of an hour of the week is
/// the advances seen in that hour divided by the number of times that hour was observed; with
/// less than two weeks of runs, the hour of the day is used instead (the advances of that hour of
/// any day). At least two days of runs are needed before a profile is used. The silence in
/// progress (since the last advance) is left out: it is what the profile judges.
public struct FeedActivity: Sendable, Hashable, Codable {
    public static let hour: Int64 = 3_600_000
    public static let day: Int64 = 86_400_000
    public static let week: Int64 = 7 * 86_400_000
    /// The runs looked at: the last four weeks.
    public static let lookback: Int64 = 28 * 86_400_000
    public static let minimumSpan: Int64 = 2 * 86_400_000
    /// A silence during which this many advances were expected makes the feed `stale`...
    public static let staleExpected = 3.0
    /// ... and this many `down`.
    public static let downExpected = 10.0

    /// `hour_of_week` (168 rates, hour 0 = Monday 00:00 UTC) or `hour_of_day` (24 rates, UTC).
    public var basis: String
    /// Expected advances per hour, by hour of the week or of the day.
    public var rates: [Double]
    /// How much history the rates come from, in days.
    public var days: Double
    public var advances: Int
    /// When it was learned, epoch ms.
    public var learnedAt: Int64

    /// The hour of the week (Monday 00:00 UTC = 0) of a time.
    static func hourOfWeek(_ t: Int64) -> Int {
        // 1970-01-01 was a Thursday: 3 days after a Monday.
        Int(((t / hour) + 3 * 24) % 168 + 168) % 168
    }

    func rate(at t: Int64) -> Double {
        basis == "hour_of_week" ? rates[Self.hourOfWeek(t)] : rates[Int(((t / Self.hour) % 24 + 24) % 24)]
    }

    /// Learns from `runs` (any order, of one source); nil with less than `minimumSpan` of runs.
    public static func learn(runs: [TaskRun], now: Int64) -> FeedActivity? {
        let successes = runs.filter { $0.status.isSuccess && $0.finishedAt >= now - lookback && $0.finishedAt <= now }
            .sorted { ($0.finishedAt, $0.id) < ($1.finishedAt, $1.id) }
        guard let first = successes.first, now - first.finishedAt >= minimumSpan else { return nil }
        var advanceTimes: [Int64] = []
        var lastStamp: Int64?
        var lastHash: String?
        for run in successes {
            if let stamp = run.feedTimestamp {
                if let previous = lastStamp, stamp > previous { advanceTimes.append(run.finishedAt) }
                lastStamp = max(lastStamp ?? stamp, stamp)
            } else if let hash = run.contentHash {
                if let previous = lastHash, hash != previous { advanceTimes.append(run.finishedAt) }
                lastHash = hash
            }
        }
        // The silence in progress is what gets judged: it is not learned from.
        let end = advanceTimes.last ?? now
        let span = end - first.finishedAt
        guard span >= minimumSpan else { return nil }
        let weekly = span >= 2 * week
        let buckets = weekly ? 168 : 24
        func bucket(_ t: Int64) -> Int { weekly ? hourOfWeek(t) : Int(((t / hour) % 24 + 24) % 24) }
        // How many times each bucket was observed: whole hours from the first run to now.
        var observed = [Double](repeating: 0, count: buckets)
        var t = first.finishedAt - first.finishedAt % hour
        while t < end {
            let covered = Double(min(end, t + hour) - max(first.finishedAt, t)) / Double(hour)
            observed[bucket(t)] += max(0, covered)
            t += hour
        }
        var counts = [Double](repeating: 0, count: buckets)
        for time in advanceTimes { counts[bucket(time)] += 1 }
        let rates = (0..<buckets).map { observed[$0] > 0 ? counts[$0] / observed[$0] : 0 }
        return FeedActivity(
            basis: weekly ? "hour_of_week" : "hour_of_day", rates: rates, days: Double(span) / Double(day),
            advances: advanceTimes.count, learnedAt: now)
    }

    /// The advances expected from `from` to `to` (partial hours prorated).
    public func expected(from: Int64, to: Int64) -> Double {
        guard to > from else { return 0 }
        var total = 0.0
        var t = from
        // Beyond a week the sum only grows: stop there (a week of silence is judged by a week).
        let end = min(to, from + Self.week)
        while t < end {
            let next = min(end, t - ((t % Self.hour) + Self.hour) % Self.hour + Self.hour)
            total += rate(at: t) * Double(next - t) / Double(Self.hour)
            t = next
        }
        return total
    }
}

/// The learned activity of each source that asks for it (`activity: learned`), kept for an hour.
public final class FeedActivityCache: Sendable {
    /// Each source's profile (nil without enough runs) and when it was learned.
    private let learned = Mutex<[String: (profile: FeedActivity?, at: Int64)]>([:])
    public static let refreshMillis: Int64 = 3_600_000

    public init() {}

    /// The source's profile, learned from the store's runs of the last four weeks when the cached
    /// one is older than an hour; nil for sources that do not learn theirs, or without enough runs.
    public func activity(of source: SourceDefinition, store: any RunLog, now: Int64) async throws -> FeedActivity? {
        guard source.learnsActivity else { return nil }
        if let cached = learned.withLock({ $0[source.id] }), now - cached.at < Self.refreshMillis, now >= cached.at {
            return cached.profile
        }
        let runs = try await store.taskRuns(
            TaskRunQuery(sourceID: source.id, since: now - FeedActivity.lookback, limit: 500_000))
        let profile = FeedActivity.learn(runs: runs, now: now)
        learned.withLock { $0[source.id] = (profile, now) }
        return profile
    }
}

extension FeedHealth {
    /// Reads `source`'s runs of the last day from `store` and assesses them, with its learned
    /// activity when it learns one; the runs too, for callers that show them.
    public static func assess(
        _ source: SourceDefinition, store: any RunLog, activity: FeedActivityCache, now: Int64
    ) async throws -> (health: FeedHealth, runs: [TaskRun]) {
        let runs = try await store.taskRuns(TaskRunQuery(sourceID: source.id, since: now - dayMillis, limit: 200_000))
        let profile = try await activity.activity(of: source, store: store, now: now)
        return (assess(source, runs: runs, now: now, activity: profile), runs)
    }
}
