import MetropulseCore
import Testing

@Suite("Feed activity learned per hour: quiet is not always down")
struct FeedActivityTests {
    static let minute: Int64 = 60_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000
    /// Monday 2026-11-02 00:00 UTC.
    static let start: Int64 = 1_762_041_600_000

    static let source = SourceDefinition(
        id: "311", kind: .city, urls: ["http://127.0.0.1:1/311.json"], intervalMillis: 10 * minute,
        format: "socrata-311")

    /// A 311 feed polled every 10 minutes: a new request arrives before every run from 07:00 to
    /// 22:00 UTC, none at night. Runs up to `until`; the feed's newest request stops at `quietFrom`.
    static func runs(until: Int64, quietFrom: Int64? = nil) -> [TaskRun] {
        var runs: [TaskRun] = []
        var newest = start
        var t = start
        while t <= until {
            let hourOfDay = (t % day) / hour
            if hourOfDay >= 7 && hourOfDay < 22, quietFrom.map({ t < $0 }) ?? true { newest = t - minute }
            runs.append(
                TaskRun(
                    id: "r\(t)", jobID: "311@\(t)", taskID: 1, sourceID: "311", attempt: 1, workerID: "w",
                    status: .succeeded, startedAt: t - 100, finishedAt: t, httpStatus: 200,
                    contentHash: "h\(newest)", feedTimestamp: newest))
            t += 10 * minute
        }
        return runs
    }

    @Test("learned from 16 days: by the hour of the week, busy by day, silent at night")
    func learn() throws {
        let now = Self.start + 16 * Self.day
        let activity = try #require(FeedActivity.learn(runs: Self.runs(until: now), now: now))
        #expect(activity.basis == "hour_of_week" && activity.rates.count == 168)
        // Six new requests an hour by day (one before each run), none at night.
        #expect(abs(activity.rates[12] - 6) < 0.01 && activity.rates[3] == 0)
        #expect(activity.expected(from: now + 2 * Self.hour, to: now + 5 * Self.hour) == 0)
        #expect(
            abs(activity.expected(from: now + 12 * Self.hour, to: now + 12 * Self.hour + 30 * Self.minute) - 3) < 0.01)
        // Two days: by the hour of the day. Less: nothing learned.
        let short = try #require(
            FeedActivity.learn(runs: Self.runs(until: Self.start + 3 * Self.day), now: Self.start + 3 * Self.day))
        #expect(short.basis == "hour_of_day" && short.rates.count == 24)
        #expect(FeedActivity.learn(runs: Self.runs(until: Self.start + Self.day), now: Self.start + Self.day) == nil)
    }

    @Test("silent at 3 a.m. is live; the same silence at noon is stale, then down; without learning, stale")
    func health() throws {
        // 03:30 on day 16: the last request came at 21:59 the evening before.
        let night = Self.start + 16 * Self.day + 3 * Self.hour + 30 * Self.minute
        let learned = try #require(FeedActivity.learn(runs: Self.runs(until: night), now: night))
        let quietNight = FeedHealth.assess(Self.source, runs: Self.runs(until: night), now: night, activity: learned)
        #expect(quietNight.state == .live)
        #expect(quietNight.reason.contains("as usual at these hours"))
        // The fixed rule (50 minutes) would call it stale.
        #expect(FeedHealth.assess(Self.source, runs: Self.runs(until: night), now: night).state == .stale)

        // Noon on day 16, the feed silent since 11:00: 6 requests were due → stale.
        let quietFrom = Self.start + 16 * Self.day + 11 * Self.hour
        let noon = quietFrom + Self.hour
        let runs = Self.runs(until: noon, quietFrom: quietFrom)
        let activity = try #require(FeedActivity.learn(runs: runs, now: noon))
        let stale = FeedHealth.assess(Self.source, runs: runs, now: noon, activity: activity)
        #expect(stale.state == .stale)
        #expect(stale.reason.contains("changes are usual at these hours"))
        // At 13:00, 12 were due → down.
        let later = quietFrom + 2 * Self.hour
        let laterRuns = Self.runs(until: later, quietFrom: quietFrom)
        let down = FeedHealth.assess(
            Self.source, runs: laterRuns, now: later, activity: FeedActivity.learn(runs: laterRuns, now: later))
        #expect(down.state == .down)
        // A 311 format learns by default; any source may ask, or refuse.
        #expect(Self.source.learnsActivity)
        var steady = Self.source
        steady.activity = "steady"
        #expect(!steady.learnsActivity)
    }
}
