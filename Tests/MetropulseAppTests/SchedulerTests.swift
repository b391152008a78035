import MetropulseCore
import MetropulseSQLite
import Testing

@Suite("Scheduler on the embedded backend")
struct SchedulerTests {
    static let source = SourceDefinition(
        id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:9/x"], intervalMillis: 60_000)

    @Test("a restarted scheduler does not enqueue a slot twice and skips missed slots")
    func restart() async throws {
        let backend = try SQLiteBackend(path: try temporaryFolder() + "/s.sqlite")
        let catalog = SourceCatalog([Self.source])
        let phase = SchedulePlanner.phase(sourceID: "bikes", intervalMillis: 60_000)
        let start = 1_000 * 60_000 + phase + 1

        let first = Scheduler(catalog: catalog, queue: backend, store: backend, logger: quietLogger)
        try await first.tick(now: start)
        try await first.tick(now: start + 30_000)
        #expect(try await backend.stats(now: start + 30_000).queued == 1)

        // A new scheduler (after a restart) in the same slot: nothing new.
        let second = Scheduler(catalog: catalog, queue: backend, store: backend, logger: quietLogger)
        try await second.tick(now: start + 40_000)
        #expect(try await backend.tasks(state: nil, limit: 10).count == 1)

        // Two hours later: only the current slot, not the 120 missed ones.
        let later = start + 7_200_000
        let next = try await second.tick(now: later)
        let tasks = try await backend.tasks(state: nil, limit: 200)
        #expect(tasks.count == 2)
        let slot = SchedulePlanner.slotStart(containing: later, intervalMillis: 60_000, phase: phase)
        #expect(tasks.first?.jobID == "bikes@\(slot)")
        #expect(next > later && next <= slot + 60_000)
        let state = try #require(try await backend.sourceStates().first)
        #expect(state.lastSlotAt == slot)
        #expect(state.nextRunAt == slot + 60_000)
        try backend.close()
    }

    @Test("retention clean-up runs once per interval")
    func maintenance() async throws {
        let backend = try SQLiteBackend(path: try temporaryFolder() + "/s.sqlite")
        let scheduler = Scheduler(
            catalog: SourceCatalog([]), queue: backend, store: backend,
            configuration: .init(
                taskRetentionMillis: 1_000, runRetentionMillis: 1_000, heartbeatRetentionMillis: 1_000),
            logger: quietLogger)
        try await backend.enqueue([NewTask(jobID: "j", sourceID: "bikes", runAt: 0)], now: 0)
        let claimed = try await backend.claim(owner: "w", limit: 1, leaseMillis: 100, now: 0)
        try await backend.finish(
            claimed.map { .init($0, disposition: .succeeded, finishedAt: 10) })
        #expect(try await scheduler.maintainIfDue(now: 5_000_000) == 1)
        #expect(try await backend.stats(now: 5_000_000).succeeded == 0)
        #expect(try await scheduler.maintainIfDue(now: 5_000_001) == 0)
        try backend.close()
    }

    @Test(
        "two thousand sources: each slot enqueued once, at its start, only due sources touched; reloads planned again")
    func manySources() async throws {
        let backend = try SQLiteBackend(path: try temporaryFolder() + "/many.sqlite")
        let sources = (1...2_000).map { index in
            SourceDefinition(id: "s\(index)", kind: .gbfs, urls: ["http://127.0.0.1:9/x"], intervalMillis: 60_000)
        }
        let catalog = SourceCatalog(sources)
        let scheduler = Scheduler(
            catalog: catalog, queue: backend, store: backend, configuration: .init(jitterFraction: 0),
            logger: quietLogger)
        let start: Int64 = 1_000 * 60_000
        // The first tick enqueues every source's current slot; then two minutes in 100 ms ticks.
        var now = start
        var lateWakes = 0
        while now <= start + 120_000 {
            let wake = try await scheduler.tick(now: now)
            if wake <= now || wake > now + 1_000 { lateWakes += 1 }
            now += 100
        }
        let tasks = try await backend.tasks(state: nil, limit: 100_000)
        // Each source: the slot containing the start, then the two that start within two minutes.
        let perSource = Dictionary(grouping: tasks, by: \.sourceID).mapValues(\.count)
        #expect(perSource.count == 2_000)
        #expect(perSource.values.allSatisfy { $0 == 3 })
        #expect(Set(tasks.map(\.jobID)).count == tasks.count)
        for task in tasks where task.enqueuedAt > start {
            let slot = Int64(task.jobID.split(separator: "@").last!)!
            // Enqueued within one tick of its slot's start, due at its start (no jitter here).
            #expect(task.enqueuedAt >= slot && task.enqueuedAt < slot + 100)
            #expect(task.runAt == task.enqueuedAt)
        }
        #expect(lateWakes == 0, "the next wake is after now and within the longest sleep")

        // A reload: one source gone, one new; the new one is scheduled at once, the gone one not.
        catalog.replace(
            with: Array(sources.dropFirst())
                + [SourceDefinition(id: "new", kind: .gbfs, urls: ["http://127.0.0.1:9/x"], intervalMillis: 60_000)])
        let later = start + 240_000
        try await scheduler.tick(now: later)
        let after = try await backend.tasks(state: nil, limit: 100_000)
        #expect(after.contains { $0.sourceID == "new" })
        #expect(after.filter { $0.sourceID == "s1" }.count == perSource["s1"])
        #expect(after.filter { $0.sourceID == "s2" }.count == perSource["s2"]! + 1)
        try backend.close()
    }
}
