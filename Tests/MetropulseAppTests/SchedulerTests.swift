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
}
