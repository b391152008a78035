import MetropulseCore
import Testing

@Suite("Feed health ledger")
struct FeedHealthTests {
    static let source = SourceDefinition(
        id: "s", kind: .gbfs, urls: ["http://x"], intervalMillis: 60_000, timeoutMillis: 10_000)
    static let minute: Int64 = 60_000
    static let now: Int64 = 100 * 86_400_000

    /// A run finishing `minutesAgo` before `now`, taking `ms`.
    static func run(
        _ minutesAgo: Int64, _ status: TaskRunStatus = .succeeded, hash: String? = nil, feed: Int64? = nil,
        ms: Int64 = 100, error: FetchErrorKind? = nil
    ) -> TaskRun {
        let finished = now - minutesAgo * minute
        return TaskRun(
            id: "r\(minutesAgo)", jobID: "s@\(finished)", taskID: 1, sourceID: "s", attempt: 1, workerID: "w",
            status: status, startedAt: finished - ms, finishedAt: finished, httpStatus: status == .failed ? 500 : 200,
            contentHash: status == .failed ? nil : (hash ?? "h\(minutesAgo)"), feedTimestamp: feed,
            errorKind: status == .failed ? (error ?? .httpStatus) : nil,
            errorMessage: status == .failed ? "boom \(minutesAgo)" : nil)
    }

    static func assess(_ runs: [TaskRun]) -> FeedHealth { FeedHealth.assess(source, runs: runs, now: now) }

    @Test("no runs: unknown")
    func unknown() {
        let health = Self.assess([])
        #expect(health.state == .unknown && health.lastHour.uptime == nil && health.latency == nil)
    }

    @Test("content moving, all succeeded: live, with uptime and latency percentiles")
    func live() {
        let runs = (0..<100).map { Self.run(Int64($0) / 2, ms: Int64($0 + 1)) }
        let health = Self.assess(runs)
        #expect(health.state == .live, "\(health.reason)")
        #expect(health.lastHour.runs == 100 && health.lastHour.uptime == 1)
        #expect(health.latency == FeedHealth.Latency(p50Millis: 50, p95Millis: 95, p99Millis: 99, maxMillis: 100))
    }

    @Test("the same hash for longer than the limit: stale, with when the content began")
    func staleByHash() {
        let runs = (0..<10).map { Self.run(Int64($0), hash: "same") } + [Self.run(12, hash: "older")]
        let health = Self.assess(runs)
        #expect(health.state == .stale && health.reason.contains("content has not changed"), "\(health.reason)")
        #expect(health.contentSince == Self.now - 9 * Self.minute)
        // Unchanged (304) runs carry the held hash and keep the content frozen too.
        let unchanged = [Self.run(0, .unchanged, hash: "same"), Self.run(6, hash: "same"), Self.run(7, hash: "x")]
        #expect(Self.assess(unchanged).state == .stale)
        // Within the limit the content may stay the same.
        #expect(Self.assess([Self.run(0, hash: "same"), Self.run(3, hash: "same")]).state == .live)
    }

    @Test("a feed timestamp older than the limit: stale")
    func staleByFeedTime() {
        let health = Self.assess([Self.run(0, feed: Self.now - 20 * Self.minute), Self.run(1)])
        #expect(health.state == .stale && health.reason.contains("timestamp"), "\(health.reason)")
    }

    @Test("no run for longer than the limit: stale")
    func noRecentRun() {
        #expect(Self.assess([Self.run(30), Self.run(31)]).state == .stale)
    }

    @Test("one or two failures after successes: degraded; three: down; failing since long ago: down")
    func failures() {
        let ok = (3..<20).map { Self.run(Int64($0)) }
        #expect(Self.assess([Self.run(0, .failed)] + ok).state == .degraded)
        #expect(Self.assess([Self.run(0, .failed), Self.run(1, .failed)] + ok).state == .degraded)
        let down = Self.assess(
            [Self.run(0, .failed, error: .timeout), Self.run(1, .failed), Self.run(2, .failed)] + ok)
        #expect(down.state == .down && down.consecutiveFailures == 3)
        #expect(down.lastError?.kind == .timeout && down.lastError?.message == "boom 0")
        #expect(Self.assess([Self.run(0, .failed), Self.run(30)]).state == .down)
        #expect(Self.assess([Self.run(0, .failed)]).state == .down)
    }

    @Test("a poor hour or slow answers: degraded")
    func degraded() {
        let mixed = (0..<20).map { Self.run(Int64($0), $0 % 4 == 1 ? .failed : .succeeded) }
        let health = Self.assess(mixed)
        #expect(health.state == .degraded && health.lastHour.uptime == 0.75, "\(health.reason)")
        let slow = (0..<10).map { Self.run(Int64($0), ms: 9_000) }
        #expect(Self.assess(slow).state == .degraded)
    }

    @Test("superseded attempts and other sources' runs are ignored; older than a day is out of the window")
    func ignored() {
        var lost = Self.run(0, .failed, error: .leaseLost)
        lost.id = "lost"
        var other = Self.run(0, .failed)
        other.sourceID = "other"
        let health = Self.assess([lost, other, Self.run(1), Self.run(2 * 24 * 60)])
        #expect(health.state == .live && health.lastDay.runs == 1)
    }
}
