/// The truth about one feed, computed from its run ledger (`task_runs`): how often it answered
/// over the last hour and day, how fast, its last error, and whether its content still moves.
///
/// States, the first that applies:
/// - `unknown`: no run yet;
/// - `down`: the last 3 runs failed, or the last run failed and no run succeeded within
///   `staleAfterMillis`;
/// - `stale`: the feed answers but its data does not move: the content hash (or, for `304` and
///   ttl answers, the copy already held) has not changed for longer than `staleAfterMillis`, or the
///   feed's own timestamp is older than that, or no run at all finished within it. For a source
///   that learns its activity (`FeedActivity`), a silence is `stale` when 3 changes were usual
///   during it, and `down` when 10 were, whatever `staleAfterMillis` says;
/// - `degraded`: the last run failed, or fewer than 90 % of the last hour's runs succeeded, or the
///   last hour's p95 latency is above 80 % of the source's timeout;
/// - `live`: otherwise.
public struct FeedHealth: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case live, degraded, stale, down, unknown
    }

    /// Runs in a window and the share that succeeded (`unchanged` counts as success).
    public struct Window: Sendable, Hashable, Codable {
        public var runs: Int
        public var successes: Int
        /// successes / runs; nil without runs.
        public var uptime: Double? { runs == 0 ? nil : Double(successes) / Double(runs) }
    }

    public struct Latency: Sendable, Hashable, Codable {
        public var p50Millis: Int64
        public var p95Millis: Int64
        public var p99Millis: Int64
        public var maxMillis: Int64

        public init(p50Millis: Int64, p95Millis: Int64, p99Millis: Int64, maxMillis: Int64) {
            self.p50Millis = p50Millis
            self.p95Millis = p95Millis
            self.p99Millis = p99Millis
            self.maxMillis = maxMillis
        }
    }

    public struct LastError: Sendable, Hashable, Codable {
        public var at: Int64
        public var kind: FetchErrorKind?
        public var message: String?
        public var httpStatus: Int?
    }

    public var sourceID: String
    public var state: State
    /// Why the state is what it is, in words.
    public var reason: String
    public var lastHour: Window
    public var lastDay: Window
    /// Over the last hour's successful runs; nil without any.
    public var latency: Latency?
    public var lastRunAt: Int64?
    public var lastRunStatus: TaskRunStatus?
    public var lastSuccessAt: Int64?
    public var consecutiveFailures: Int
    public var lastError: LastError?
    /// The content hash of the newest successful run.
    public var contentHash: String?
    /// When the current content was first seen (within the last day's runs).
    public var contentSince: Int64?
    /// The feed's own timestamp (GBFS `last_updated`) of the newest successful run.
    public var feedTimestamp: Int64?
    public var staleAfterMillis: Int64

    public static let hourMillis: Int64 = 3_600_000
    public static let dayMillis: Int64 = 86_400_000

    /// The stale threshold of a source: its `staleAfterMillis`, or five intervals and at least
    /// five minutes.
    public static func staleAfterMillis(_ source: SourceDefinition) -> Int64 {
        source.staleAfterMillis ?? max(5 * source.intervalMillis, 300_000)
    }

    /// Assesses `source` at `now` from its runs of the last day, in any order. With the source's
    /// learned `activity` (`FeedActivity`), a feed whose data has not moved is judged by the
    /// changes usual for the hours of its silence instead of by `staleAfterMillis`.
    public static func assess(
        _ source: SourceDefinition, runs: [TaskRun], now: Int64, activity: FeedActivity? = nil
    ) -> FeedHealth {
        let staleAfter = staleAfterMillis(source)
        let runs =
            runs
            .filter { $0.sourceID == source.id && $0.errorKind != .leaseLost && $0.finishedAt >= now - dayMillis }
            .sorted { ($0.finishedAt, $0.id) > ($1.finishedAt, $1.id) }  // newest first
        let hour = runs.filter { $0.finishedAt >= now - hourMillis }
        var health = FeedHealth(
            sourceID: source.id, state: .unknown, reason: "no run yet",
            lastHour: Window(runs: hour.count, successes: hour.count { $0.status.isSuccess }),
            lastDay: Window(runs: runs.count, successes: runs.count { $0.status.isSuccess }),
            latency: latency(hour.filter { $0.status.isSuccess }.map(\.durationMillis)),
            lastRunAt: runs.first?.finishedAt, lastRunStatus: runs.first?.status,
            lastSuccessAt: runs.first { $0.status.isSuccess }?.finishedAt,
            consecutiveFailures: runs.prefix { $0.status == .failed }.count,
            lastError: runs.first { $0.status == .failed }.map {
                LastError(at: $0.finishedAt, kind: $0.errorKind, message: $0.errorMessage, httpStatus: $0.httpStatus)
            },
            contentHash: nil, contentSince: nil, feedTimestamp: nil, staleAfterMillis: staleAfter)

        let successes = runs.filter { $0.status.isSuccess }
        if let newest = successes.first {
            health.contentHash = newest.contentHash
            health.feedTimestamp = successes.lazy.compactMap(\.feedTimestamp).first
            // The current content began with the oldest run of the newest unbroken stretch that
            // carried the same hash.
            let same = successes.prefix { $0.contentHash == newest.contentHash && newest.contentHash != nil }
            health.contentSince = same.last?.finishedAt
        }
        guard let lastRun = runs.first else { return health }

        func seconds(_ millis: Int64) -> String { "\(millis / 1000) s" }
        if health.consecutiveFailures >= 3 {
            health.state = .down
            health.reason = "the last \(health.consecutiveFailures) runs failed"
        } else if lastRun.status == .failed && (health.lastSuccessAt.map { now - $0 > staleAfter } ?? true) {
            health.state = .down
            health.reason =
                health.lastSuccessAt == nil
                ? "the last run failed and no run succeeded today"
                : "the last run failed and no run succeeded for \(seconds(now - health.lastSuccessAt!))"
        } else if now - lastRun.finishedAt > staleAfter {
            health.state = .stale
            health.reason = "no run finished for \(seconds(now - lastRun.finishedAt))"
        } else if let activity, let moved = health.feedTimestamp ?? health.contentSince,
            activity.expected(from: moved, to: now) >= FeedActivity.staleExpected
        {
            let expected = activity.expected(from: moved, to: now)
            health.state = expected >= FeedActivity.downExpected ? .down : .stale
            health.reason =
                "no new data for \(duration(now - moved)) where \(rounded(expected)) changes are usual at these hours (learned from \(rounded(activity.days)) days)"
        } else if activity == nil, let since = health.contentSince, now - since > staleAfter,
            health.lastSuccessAt != since
        {
            health.state = .stale
            health.reason = "the content has not changed for \(seconds(now - since)) (limit \(seconds(staleAfter)))"
        } else if activity == nil, let feed = health.feedTimestamp, now - feed > staleAfter {
            health.state = .stale
            health.reason = "the feed's own timestamp is \(seconds(now - feed)) old (limit \(seconds(staleAfter)))"
        } else if lastRun.status == .failed {
            health.state = .degraded
            health.reason = "the last run failed"
        } else if let uptime = health.lastHour.uptime, uptime < 0.9 {
            health.state = .degraded
            health.reason = "\(Int((uptime * 100).rounded())) % of the last hour's runs succeeded"
        } else if let latency = health.latency, latency.p95Millis * 10 > source.timeoutMillis * 8 {
            health.state = .degraded
            health.reason = "p95 latency \(latency.p95Millis) ms is close to the \(source.timeoutMillis) ms timeout"
        } else if let activity, let moved = health.feedTimestamp ?? health.contentSince, now - moved > staleAfter {
            health.state = .live
            health.reason =
                "quiet for \(duration(now - moved)), as usual at these hours (\(rounded(activity.expected(from: moved, to: now))) changes expected)"
        } else {
            health.state = .live
            health.reason = "answering, content moving"
        }
        return health
    }

    /// `2 h 5 min`, `14 min`, `40 s`.
    static func duration(_ millis: Int64) -> String {
        let seconds = max(0, millis / 1000)
        if seconds < 60 { return "\(seconds) s" }
        if seconds < 3600 { return "\(seconds / 60) min" }
        return "\(seconds / 3600) h \(seconds % 3600 / 60) min"
    }

    static func rounded(_ x: Double) -> String {
        let tenth = (x * 10).rounded() / 10
        return tenth == tenth.rounded() ? String(Int(tenth)) : String(tenth)
    }

    /// Nearest-rank percentiles; nil for no values.
    static func latency(_ values: [Int64]) -> Latency? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        func rank(_ p: Double) -> Int64 {
            sorted[min(sorted.count - 1, max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
        return Latency(p50Millis: rank(0.5), p95Millis: rank(0.95), p99Millis: rank(0.99), maxMillis: sorted.last!)
    }
}
