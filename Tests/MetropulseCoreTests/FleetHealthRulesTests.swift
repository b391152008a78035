import Testing

@testable import MetropulseCore

@Suite("Fleet health: rules over a sliding window of heartbeats")
struct FleetHealthRulesTests {
    let rules = FleetHealthRules(heartbeatIntervalMillis: 10_000)

    func beat(_ id: String, seen: Int64, status: WorkerStatus = .running, processed: Int = 0) -> WorkerHeartbeat {
        WorkerHeartbeat(
            workerID: id, host: "h", pid: 1, status: status, concurrency: 4, inFlight: 4, processed: processed,
            failed: 0, fetchRate: 0, errorsLastMinute: 0, cpuSeconds: 0, memoryBytes: 0, startedAt: 0,
            lastSeenAt: seen)
    }

    /// Samples every 10 s over `seconds`: the backlog and each worker's processed count as functions of time.
    func window(seconds: Int, backlog: (Int) -> Int, processed: [String: (Int) -> Int]) -> [FleetSample] {
        stride(from: 0, through: seconds, by: 10).map { t in
            FleetSample(at: Int64(t) * 1_000, backlog: backlog(t), processed: processed.mapValues { $0(t) })
        }
    }

    @Test("down when stopped or silent for six periods; behind when late or stalled")
    func heartbeatRules() {
        let now: Int64 = 100_000
        #expect(rules.judge(beat("a", seen: now, status: .stopped), now: now, window: []).health == .down)
        #expect(rules.judge(beat("a", seen: now - 61_000), now: now, window: []).health == .down)
        let late = rules.judge(beat("a", seen: now - 26_000), now: now, window: [])
        #expect(late.health == .behind && late.reason == "heartbeat 26 s old")
        #expect(rules.judge(beat("a", seen: now, status: .stalled), now: now, window: []).health == .behind)
        #expect(
            rules.judge(beat("a", seen: now - 24_000), now: now, window: []) == .init(health: .healthy, reason: nil))
    }

    @Test("behind: the backlog grows while the worker finishes less than its share of what arrives")
    func slowerThanArrivals() throws {
        // Work arrives at 10/s; worker a finishes 7/s, b 1/s: the backlog grows by 2/s.
        let samples = window(
            seconds: 60, backlog: { 100 + 2 * $0 }, processed: ["a": { 7 * $0 }, "b": { $0 }])
        let b = rules.judge(beat("b", seen: 60_000), now: 60_000, window: samples)
        #expect(b.health == .behind)
        #expect(
            b.reason == "backlog grew 100 → 220 in 60 s while it finished 1.0 tasks/s of the 5.0/s arriving per worker")
        #expect(rules.judge(beat("a", seen: 60_000), now: 60_000, window: samples).health == .healthy)
    }

    @Test("healthy: a steady or shrinking backlog, a short window, or a worker paused on purpose")
    func notBehind() {
        let steady = window(seconds: 60, backlog: { _ in 100 }, processed: ["b": { $0 }])
        #expect(rules.judge(beat("b", seen: 60_000), now: 60_000, window: steady).health == .healthy)
        let draining = window(seconds: 60, backlog: { 500 - 5 * $0 }, processed: ["b": { $0 }])
        #expect(rules.judge(beat("b", seen: 60_000), now: 60_000, window: draining).health == .healthy)
        let short = window(seconds: 20, backlog: { 100 + 20 * $0 }, processed: ["b": { _ in 0 }])
        #expect(rules.judge(beat("b", seen: 20_000), now: 20_000, window: short).health == .healthy)
        let growing = window(seconds: 60, backlog: { 100 + 10 * $0 }, processed: ["b": { _ in 0 }])
        #expect(rules.judge(beat("b", seen: 60_000, status: .paused), now: 60_000, window: growing).health == .healthy)
        #expect(rules.judge(beat("b", seen: 60_000), now: 60_000, window: growing).health == .behind)
        // A spike that went back down in the window's second half is not growth.
        let spike = window(seconds: 60, backlog: { $0 == 20 ? 400 : ($0 == 60 ? 130 : 100) }, processed: ["b": { $0 }])
        #expect(rules.judge(beat("b", seen: 60_000), now: 60_000, window: spike).health == .healthy)
    }

    @Test("the window keeps samples at its spacing and drops the old ones")
    func windowSpacing() {
        let fleet = FleetWindow(spanMillis: 60_000, spacingMillis: 5_000)
        for t in stride(from: Int64(0), through: 100_000, by: 1_000) {
            fleet.observe(FleetSample(at: t, backlog: 0, processed: [:]))
        }
        let kept = fleet.current.map(\.at)
        #expect(kept.first == 40_000 && kept.last == 100_000)
        #expect(zip(kept, kept.dropFirst()).allSatisfy { $1 - $0 == 5_000 })
    }
}
