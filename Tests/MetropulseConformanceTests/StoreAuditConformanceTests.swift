import MetropulseCore
import Testing

/// `metropulse audit` and the fault drills read the same invariants on every backend.
@Suite("Store audit conformance")
struct StoreAuditConformanceTests {
    typealias Store = StoreConformanceTests

    static func auditor(_ backend: ConformanceBackend) throws -> any StoreAuditing {
        try #require(backend.store as? any StoreAuditing)
    }

    /// A task claimed and committed with its observations: a sound store.
    static func committedJob(_ backend: ConformanceBackend, job: String = "job") async throws {
        try await backend.queue.enqueue([task(job, source: "bikes")], now: 0)
        let claimed = try #require(
            try await backend.queue.claim(owner: "w", limit: 1, leaseMillis: 1_000, now: 0).first)
        var result = Store.result("\(job)#1", at: 10, [Store.station("1", bikes: 1, at: 5)])
        result.run.jobID = job
        result.outcome = TaskOutcome(claimed, disposition: .succeeded, finishedAt: 10)
        let written = backend.store.runsWritten
        try await backend.committer.commit([result])
        // A commit of the workers moves the store's count of runs written, as a write does.
        #expect(backend.store.runsWritten > written)
    }

    @Test("a sound store: every invariant holds, counts by state and status", arguments: BackendFactory.all)
    func sound(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await Self.committedJob(backend)
        // A commit the store refused, recorded later: a failed run, not a second write.
        let refused = Store.result("job#0", at: 8, [Store.station("1", bikes: 1, at: 4)])
            .refused(by: StoreRefusal())
        try await backend.store.write([refused])
        let audit = try await Self.auditor(backend).audit(now: 20, graceMillis: 1_000)
        #expect(audit.problems.isEmpty, "\(audit.problems)")
        #expect(audit.tasks["succeeded"] == 1)
        #expect(audit.runs["succeeded"] == 1)
        #expect(audit.runs["failed"] == 1)
        #expect(audit.rawRows == 1)
        // SQLite runs its own check; PostgreSQL has none and says so rather than "ok".
        #expect(audit.integrity == (factory.name == "sqlite" ? "ok" : nil))
        let record = try #require(try await backend.store.taskRun(id: "job#0/refused"))
        #expect(record.errorKind == .storage)
        #expect(record.errorMessage?.contains("disk is full") == true)
    }

    @Test(
        "a slot written twice, raw rows of no run, a task nobody takes up",
        arguments: BackendFactory.all)
    func broken(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await Self.committedJob(backend)
        var twice = Store.result("job#2", at: 12, [Store.station("1", bikes: 2, at: 6)])
        twice.run.jobID = "job"
        try await backend.store.write([twice])
        try await backend.store.write([
            .observationsOnly(
                runID: "ghost", sourceID: "bikes", fetchedAt: 11,
                observations: ObservationBatch(stations: [Store.station("2", bikes: 3, at: 7)]))
        ])
        try await backend.queue.enqueue([task("late", source: "bikes", runAt: 0)], now: 0)

        let audit = try await Self.auditor(backend).audit(now: 100_000, graceMillis: 1_000)
        #expect(audit.slotsWrittenTwice == ["job"])
        #expect(audit.orphanRawRuns == ["ghost"])
        #expect(audit.stuckTasks == ["late"])
        #expect(audit.problems.count == 3)
    }
}

/// The error SQLite gives on a full disk, for the refused-commit record.
struct StoreRefusal: Error, CustomStringConvertible {
    var description: String { "database or disk is full" }
}
