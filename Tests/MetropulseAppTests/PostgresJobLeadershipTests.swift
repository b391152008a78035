import Foundation
import Logging
import MetropulseApp
import MetropulseCore
import MetropulsePostgres
import ServiceLifecycle
import Synchronization
import Testing

extension PostgresEndToEndTests {
    @Test("two schedulers with job runners: each cycle's job runs once, by the leader; the standby takes over")
    func jobsRunOnce() async throws {
        let pair = try await TwoSchedulers.make(intervalMillis: 60_000)
        let (backends, elections, schedulers) = (pair.backends, pair.elections, pair.schedulers)
        // Both runners' jobs append to one list: who ran, in order.
        let shared = CountingList()
        let runners = try (0..<2).map { i in
            try JobRunner(
                jobs: [shared.job(runner: i)], store: backends[i].store, queue: backends[i].queue, clock: .system,
                configuration: .init(intervalMillis: 1_000, pollMillis: 100), isLeader: { schedulers[i].isLeader },
                logger: quietLogger)
        }
        let pools = backends.map { (backend: StorageBackend) in
            ServiceGroup(services: backend.services, logger: quietLogger)
        }
        func scheduled() async throws -> [JobRun] {
            try await backends[1].store.jobRuns(JobRunQuery(jobID: "count", limit: 1_000)).filter {
                $0.trigger == .schedule
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { running in
            for pool in pools { running.addTask { try await pool.run() } }
            let first = [Task { try await schedulers[0].run() }, Task { try await runners[0].run() }]
            try await eventually("the first scheduler leads") { elections[0].isLeader }
            let second = [Task { try await schedulers[1].run() }, Task { try await runners[1].run() }]
            try await eventually("three cycles run", timeout: .seconds(20)) { try await scheduled().count >= 3 }
            let ran = shared.list
            #expect(!ran.isEmpty && ran.allSatisfy { $0.runner == 0 }, "only the leader's runner ran the job")
            #expect(Set(ran.map(\.cycle)).count == ran.count, "never a cycle twice")

            for task in first { task.cancel() }  // the leader dies
            for task in first { _ = try? await task.value }
            let cycles = try await scheduled().count
            try await eventually("the standby takes over", timeout: .seconds(15)) { elections[1].isLeader }
            try await eventually("the new leader's runner runs the job", timeout: .seconds(15)) {
                try await scheduled().count >= cycles + 2
            }
            let after = shared.list
            #expect(after.contains { $0.runner == 1 }, "the standby's runner ran it")
            #expect(Set(after.map(\.cycle)).count == after.count, "never a cycle twice, across the takeover")
            #expect(try await scheduled().allSatisfy { $0.status != .failed })

            for task in second { task.cancel() }
            for task in second { _ = try? await task.value }
            for pool in pools { await pool.triggerGracefulShutdown() }
            try await running.waitForAll()
        }
    }
}

/// One list of executions shared by the counting jobs of several runners: which runner, and the
/// cycle it ran for.
final class CountingList: Sendable {
    private let executions = Mutex<[(runner: Int, cycle: Int64)]>([])

    var list: [(runner: Int, cycle: Int64)] { executions.withLock { $0 } }

    func job(runner: Int) -> any Job { SharedCountingJob(runner: runner, list: self) }

    func append(_ runner: Int, cycle: Int64) { executions.withLock { $0.append((runner, cycle)) } }
}

struct SharedCountingJob: Job {
    let description = JobDescription(id: "count", title: "count", summary: "counts its runs", maxAttempts: 1)
    let runner: Int
    let list: CountingList

    func run(_ context: JobContext) async throws -> JobResult {
        list.append(runner, cycle: context.cycle)
        return JobResult(rowsWritten: 1)
    }
}
