import MetropulseCore
import Testing

/// The store semantics every backend must keep.
@Suite("Store conformance")
struct StoreConformanceTests {
    static func station(_ id: String, bikes: Int, at observedAt: Int64, lat: Double = 48.85, lon: Double = 2.35)
        -> StationObservation
    {
        StationObservation(
            sourceID: "bikes", stationID: id, code: "C\(id)", name: "Station \(id)", latitude: lat, longitude: lon,
            capacity: 20, bikesAvailable: bikes, mechanicalAvailable: bikes, ebikesAvailable: 0,
            docksAvailable: 20 - bikes, isInstalled: true, isRenting: true, isReturning: true, observedAt: observedAt)
    }

    static func result(
        _ runID: String, at time: Int64, _ stations: [StationObservation], status: TaskRunStatus = .succeeded
    )
        -> RunResult
    {
        RunResult(
            run: TaskRun(
                id: runID, jobID: runID, taskID: nil, sourceID: "bikes", attempt: 1, workerID: "w", status: status,
                startedAt: time - 5, finishedAt: time, entityCount: stations.count,
                errorKind: status == .failed ? .timeout : nil, errorMessage: status == .failed ? "slow" : nil),
            observations: ObservationBatch(stations: stations), outcome: nil)
    }

    @Test("raw writes are idempotent on (source, station, observed_at)", arguments: BackendFactory.all)
    func idempotentRaw(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let first = Self.result(
            "r1", at: 100, [Self.station("1", bikes: 3, at: 50), Self.station("2", bikes: 4, at: 50)])
        try await backend.store.write([first])
        try await backend.store.write([first])
        try await backend.store.write([
            Self.result("r2", at: 200, [Self.station("1", bikes: 3, at: 50), Self.station("2", bikes: 5, at: 150)])
        ])
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 3)
        #expect(try await backend.store.rawStationObservationCount(sourceID: nil) == 3)
        let history = try await backend.store.stationHistory(
            sourceID: "bikes", stationID: "2", since: nil, until: nil, limit: 10)
        #expect(history.map(\.observation.bikesAvailable) == [5, 4])
        #expect(history.map(\.runID) == ["r2", "r1"])
    }

    @Test(
        "observations written apart from their run: stored under its id, no run record", arguments: BackendFactory.all)
    func observationsOnly(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let loose = RunResult.observationsOnly(
            runID: "r9", sourceID: "bikes", fetchedAt: 900,
            observations: ObservationBatch(stations: [Self.station("1", bikes: 7, at: 850)]))
        try await backend.store.write([loose, loose])
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 1)
        let latest = try #require(try await backend.store.station(sourceID: "bikes", stationID: "1"))
        #expect(latest.runID == "r9")
        #expect(latest.fetchedAt == 900)
        #expect(try await backend.store.taskRuns(TaskRunQuery(limit: 10)).isEmpty)
        #expect(try await backend.store.sourceStates().isEmpty)
        // The run record arrives on its own later.
        try await backend.store.write([Self.result("r9", at: 900, [])])
        #expect(try await backend.store.taskRuns(TaskRunQuery(limit: 10)).map(\.id) == ["r9"])
    }

    @Test("latest moves forward only, with fetch time and run", arguments: BackendFactory.all)
    func latestUpsert(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.write([Self.result("new", at: 300, [Self.station("1", bikes: 9, at: 250)])])
        try await backend.store.write([Self.result("late-old", at: 400, [Self.station("1", bikes: 1, at: 100)])])
        let latest = try #require(try await backend.store.station(sourceID: "bikes", stationID: "1"))
        #expect(latest.observation.bikesAvailable == 9)
        #expect(latest.runID == "new")
        #expect(latest.fetchedAt == 300)
        #expect(latest.observation.name == "Station 1")
        #expect(try await backend.store.station(sourceID: "bikes", stationID: "C1")?.observation.stationID == "1")
        #expect(try await backend.store.station(sourceID: "bikes", stationID: "nope") == nil)
        try await backend.store.write([Self.result("newer", at: 500, [Self.station("1", bikes: 2, at: 450)])])
        #expect(try await backend.store.station(sourceID: "bikes", stationID: "1")?.observation.bikesAvailable == 2)
    }

    @Test("stations near a point within a radius, nearest first", arguments: BackendFactory.all)
    func nearQuery(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.write([
            Self.result(
                "r", at: 10,
                [
                    Self.station("far", bikes: 1, at: 5, lat: 48.90, lon: 2.35),
                    Self.station("near", bikes: 1, at: 5, lat: 48.8505, lon: 2.35),
                    Self.station("nearest", bikes: 1, at: 5, lat: 48.8501, lon: 2.35),
                ])
        ])
        let found = try await backend.store.stations(
            StationQuery(sourceID: "bikes", near: GeoPoint(latitude: 48.85, longitude: 2.35), radiusMeters: 1_000))
        #expect(found.map(\.observation.stationID) == ["nearest", "near"])
        let all = try await backend.store.stations(StationQuery(sourceID: "bikes"))
        #expect(all.count == 3)
        #expect(try await backend.store.stations(StationQuery(sourceID: "other")).isEmpty)
    }

    @Test("history honours since and until", arguments: BackendFactory.all)
    func historyWindow(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        for t in stride(from: Int64(100), through: 500, by: 100) {
            try await backend.store.write([
                Self.result("r\(t)", at: t + 1, [Self.station("1", bikes: Int(t / 100), at: t)])
            ])
        }
        let window = try await backend.store.stationHistory(
            sourceID: "bikes", stationID: "1", since: 200, until: 400, limit: 100)
        #expect(window.map(\.observation.observedAt) == [400, 300, 200])
        let limited = try await backend.store.stationHistory(
            sourceID: "bikes", stationID: "1", since: nil, until: nil, limit: 2)
        #expect(limited.map(\.observation.observedAt) == [500, 400])
    }

    @Test("task runs are recorded and filtered; source state follows them", arguments: BackendFactory.all)
    func runsAndSourceState(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.recordScheduled([ScheduledSlot(sourceID: "bikes", slotAt: 1_000, nextRunAt: 2_000)])
        let written = backend.store.runsWritten
        try await backend.store.write([Self.result("ok", at: 1_100, [Self.station("1", bikes: 1, at: 1_000)])])
        // Each write of runs moves the count at once (the API's kept answers look at it).
        let afterOne = backend.store.runsWritten
        #expect(afterOne > written)
        try await backend.store.write([Self.result("bad", at: 1_200, [], status: .failed)])
        #expect(backend.store.runsWritten > afterOne)
        let failed = try await backend.store.taskRuns(TaskRunQuery(status: .failed))
        #expect(failed.map(\.id) == ["bad"])
        #expect(failed.first?.errorKind == .timeout)
        #expect(try await backend.store.taskRuns(TaskRunQuery(sourceID: "bikes")).map(\.id) == ["bad", "ok"])
        #expect(try await backend.store.taskRuns(TaskRunQuery(limit: 1)).count == 1)
        #expect(try await backend.store.taskRuns(TaskRunQuery(jobID: "ok")).map(\.id) == ["ok"])
        #expect(try await backend.store.taskRuns(TaskRunQuery(jobID: "missing")).isEmpty)
        #expect(try await backend.store.taskRun(id: "ok")?.entityCount == 1)
        let state = try #require(try await backend.store.sourceStates().first)
        #expect(state.lastSlotAt == 1_000)
        #expect(state.nextRunAt == 2_000)
        #expect(state.lastRunAt == 1_200)
        #expect(state.lastRunStatus == .failed)
        #expect(state.lastSuccessAt == 1_100)
        #expect(state.lastError == "timeout: slow")
    }

    @Test("heartbeats are upserted per worker", arguments: BackendFactory.all)
    func heartbeats(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        func beat(_ id: String, processed: Int, at time: Int64) -> WorkerHeartbeat {
            WorkerHeartbeat(
                workerID: id, host: "h", pid: 1, status: .running, concurrency: 4, inFlight: 1, processed: processed,
                failed: 0, fetchRate: 0.5, errorsLastMinute: 0, cpuSeconds: 1, memoryBytes: 1 << 20, startedAt: 0,
                lastSeenAt: time)
        }
        try await backend.store.upsertHeartbeat(beat("a", processed: 1, at: 10))
        try await backend.store.upsertHeartbeat(beat("b", processed: 1, at: 20))
        try await backend.store.upsertHeartbeat(beat("a", processed: 5, at: 30))
        let beats = try await backend.store.heartbeats()
        #expect(beats.map(\.workerID) == ["a", "b"])
        #expect(beats.first?.processed == 5)
    }

    @Test("one leadership record, replaced by whoever leads", arguments: BackendFactory.all)
    func leadership(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        #expect(try await backend.store.leadership() == nil)
        let first = SchedulerLeadership(schedulerID: "s1", host: "h1", pid: 11, since: 100, renewedAt: 100)
        try await backend.store.recordLeadership(first)
        try await backend.store.recordLeadership(
            SchedulerLeadership(schedulerID: "s1", host: "h1", pid: 11, since: 100, renewedAt: 5_100))
        #expect(try await backend.store.leadership()?.renewedAt == 5_100)
        let second = SchedulerLeadership(schedulerID: "s2", host: "h2", pid: 22, since: 9_000, renewedAt: 9_000)
        try await backend.store.recordLeadership(second)
        #expect(try await backend.store.leadership() == second)
    }

    @Test("a run's observations, record and task outcome commit together", arguments: BackendFactory.all)
    func commitWithOutcome(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue([task("job", source: "bikes")], now: 0)
        let claimed = try #require(
            try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 1_000, now: 0).first)
        var result = Self.result("job#1", at: 10, [Self.station("1", bikes: 1, at: 5)])
        result.outcome = TaskOutcome(claimed, disposition: .succeeded, finishedAt: 10)
        let withOutcome = result
        // Concurrent commits are coalesced; each still lands exactly once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await backend.committer.commit([withOutcome]) }
            for i in 0..<20 {
                group.addTask {
                    try await backend.committer.commit([
                        Self.result("extra\(i)", at: 20, [Self.station("x\(i)", bikes: 1, at: 5)])
                    ])
                }
            }
            try await group.waitForAll()
        }
        let stats = try await backend.queue.stats(now: 20)
        #expect(stats.succeeded == 1)
        #expect(stats.running == 0)
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 21)
        #expect(try await backend.store.taskRuns(TaskRunQuery(limit: 100)).count == 21)
    }
}

extension StoreConformanceTests {
    @Test(
        "an attempt that commits after the same worker took its task again writes only a lease_lost record",
        arguments: BackendFactory.all)
    func supersededAttempt(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue([task("job", source: "bikes")], now: 0)
        let first = try #require(try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 0).first)
        // The commit stalls past the lease; the same worker claims the task again.
        let second = try #require(
            try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 200).first)
        #expect(second.attempt == 2)
        var late = Self.result("job#1", at: 250, [Self.station("1", bikes: 1, at: 5)])
        late.outcome = TaskOutcome(first, disposition: .succeeded, finishedAt: 250)
        try await backend.committer.commit([late])
        #expect(try await backend.queue.stats(now: 250).running == 1)
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 0)
        let lost = try #require(try await backend.store.taskRun(id: "job#1"))
        #expect(lost.status == .failed)
        #expect(lost.errorKind == .leaseLost)
        #expect(try await backend.store.sourceStates().first?.lastRunStatus == nil)

        var current = Self.result("job#2", at: 260, [Self.station("1", bikes: 2, at: 6)])
        current.outcome = TaskOutcome(second, disposition: .succeeded, finishedAt: 260)
        try await backend.committer.commit([current])
        #expect(try await backend.queue.stats(now: 260).succeeded == 1)
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 1)
        #expect(try await backend.store.taskRuns(TaskRunQuery(status: .succeeded, limit: 10)).map(\.id) == ["job#2"])
    }

    @Test(
        "a late attempt and the current one committed together: only the current one counts",
        arguments: BackendFactory.all)
    func supersededInOneBatch(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.queue.enqueue([task("job", source: "bikes")], now: 0)
        let first = try #require(try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 0).first)
        let second = try #require(
            try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 100, now: 200).first)
        var late = Self.result("job#1", at: 250, [Self.station("1", bikes: 1, at: 5)])
        late.outcome = TaskOutcome(first, disposition: .succeeded, finishedAt: 250)
        var current = Self.result("job#2", at: 260, [Self.station("1", bikes: 2, at: 6)])
        current.outcome = TaskOutcome(second, disposition: .succeeded, finishedAt: 260)
        try await backend.committer.commit([late, current])
        #expect(try await backend.queue.stats(now: 260).succeeded == 1)
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 1)
        #expect(try await backend.store.taskRuns(TaskRunQuery(status: .succeeded, limit: 10)).map(\.id) == ["job#2"])
        #expect(try await backend.store.taskRun(id: "job#1")?.errorKind == .leaseLost)
    }

    @Test("old run records and stale heartbeats are pruned; observations stay", arguments: BackendFactory.all)
    func prune(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.write([Self.result("old", at: 100, [Self.station("1", bikes: 1, at: 50)])])
        try await backend.store.write([Self.result("new", at: 900, [Self.station("1", bikes: 2, at: 850)])])
        for (id, seen) in [("gone", Int64(100)), ("alive", 900)] {
            try await backend.store.upsertHeartbeat(
                WorkerHeartbeat(
                    workerID: id, host: "h", pid: 1, status: .running, concurrency: 1, inFlight: 0, processed: 0,
                    failed: 0, fetchRate: 0, errorsLastMinute: 0, cpuSeconds: 0, memoryBytes: 0, startedAt: 0,
                    lastSeenAt: seen))
        }
        #expect(try await backend.store.prune(runsBefore: 500, heartbeatsBefore: 500) == 2)
        #expect(try await backend.store.taskRuns(TaskRunQuery()).map(\.id) == ["new"])
        #expect(try await backend.store.heartbeats().map(\.workerID) == ["alive"])
        #expect(try await backend.store.rawStationObservationCount(sourceID: "bikes") == 2)
    }
}
