import Foundation
import Logging
import MetropulseCore
import Synchronization
import Testing

/// The job runner over a real store: dependencies, retries, timeouts, pause, manual runs and
/// watermarks.
@Suite("Job runner")
struct JobRunnerTests {
    /// A job whose attempts behave as told: `.fail`, `.hang` or `.succeed` (the last one repeats).
    final class ScriptedJob: Job {
        enum Step: Sendable { case fail, hang, succeed }
        let description: JobDescription
        let steps: [Step]
        let calls = Mutex<Int>(0)

        init(_ id: String, dependsOn: [String] = [], timeoutMillis: Int64 = 5_000, maxAttempts: Int = 2, steps: [Step])
        {
            description = JobDescription(
                id: id, title: id, summary: id, dependsOn: dependsOn, timeoutMillis: timeoutMillis,
                maxAttempts: maxAttempts, retryDelayMillis: 10)
            self.steps = steps
        }

        var count: Int { calls.withLock { $0 } }

        func run(_ context: JobContext) async throws -> JobResult {
            let call = calls.withLock { count in
                count += 1
                return count
            }
            switch steps[min(call, steps.count) - 1] {
            case .fail: throw JobFailure("step \(call) fails")
            case .hang: try await Task.sleep(for: .seconds(3_600))
            case .succeed: break
            }
            return JobResult(rowsRead: call, rowsWritten: 1, detail: "call \(call)", watermark: context.now)
        }
    }

    static func runner(_ jobs: [any Job], _ backend: ConformanceBackend, now: Int64 = 1_000_000) throws -> JobRunner {
        try JobRunner(
            jobs: jobs, store: backend.store, queue: backend.queue, clock: WallClock { now },
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    @Test(
        "dependency order; a failed upstream, after its retries, skips its dependants and says why",
        arguments: BackendFactory.all)
    func upstreamFailure(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let dependant = ScriptedJob("b", dependsOn: ["a"], steps: [.succeed])
        let failing = ScriptedJob("a", steps: [.fail])
        let independent = ScriptedJob("c", steps: [.succeed])
        let runner = try Self.runner([dependant, failing, independent], backend)
        #expect(runner.jobs.map(\.description.id) == ["a", "b", "c"])
        let ended = await runner.runCycle(900_000)
        #expect(failing.count == 2 && dependant.count == 0 && independent.count == 1)
        #expect(ended["a"]?.status == .failed && ended["a"]?.attempt == 2)
        #expect(ended["b"]?.status == .skipped && ended["b"]?.error == "upstream a failed in this cycle")
        #expect(ended["c"]?.status == .succeeded)
        let runs = try await backend.store.jobRuns(JobRunQuery(jobID: "a"))
        #expect(runs.map(\.attempt) == [2, 1] && runs.allSatisfy { $0.error == "step \($0.attempt) fails" })
        #expect(runs.allSatisfy { $0.cycle == 900_000 && $0.trigger == .schedule })
        // The failed job's watermark did not move; the successful one's did.
        let states = try await backend.store.jobStates()
        #expect(states.first { $0.jobID == "a" }?.watermark == nil)
        #expect(states.first { $0.jobID == "c" }?.watermark == 1_000_000)
    }

    @Test("a job that hangs is abandoned at its timeout and retried", arguments: BackendFactory.all)
    func timeout(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let job = ScriptedJob("slow", timeoutMillis: 200, steps: [.hang, .succeed])
        let runner = try Self.runner([job], backend)
        let run = await runner.execute(job, cycle: 1, trigger: .schedule, requestedBy: nil)
        #expect(run.status == .succeeded && run.attempt == 2 && run.detail == "call 2")
        let runs = try await backend.store.jobRuns(JobRunQuery(jobID: "slow"))
        #expect(runs.map(\.status) == [.succeeded, .failed])
        #expect(runs.last?.error == "timed out after 200 ms")
    }

    @Test("a paused job is skipped with its dependants; a manual request runs it alone", arguments: BackendFactory.all)
    func pausedAndManual(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let upstream = ScriptedJob("a", steps: [.succeed])
        let dependant = ScriptedJob("b", dependsOn: ["a"], steps: [.succeed])
        let runner = try Self.runner([upstream, dependant], backend)
        try await backend.store.setJobPaused("a", paused: true)
        let ended = await runner.runCycle(600_000)
        #expect(ended["a"]?.status == .skipped && ended["a"]?.error == "paused by an operator")
        #expect(ended["b"]?.error == "upstream a skipped in this cycle")
        #expect(upstream.count == 0)
        try await backend.store.requestJobRun("a", at: 700_000, by: "ops")
        try await runner.runRequested()
        #expect(upstream.count == 1 && dependant.count == 0)
        let manual = try await backend.store.jobRuns(JobRunQuery(jobID: "a", limit: 1)).first
        #expect(manual?.trigger == .manual && manual?.status == .succeeded && manual?.requestedBy == "ops")
        #expect(manual?.cycle == 700_000)
        #expect(try await backend.store.jobStates().first { $0.jobID == "a" }?.requestedAt == nil)
        try await runner.runRequested()  // the request was taken once
        #expect(upstream.count == 1)
    }

    @Test("a graph with a cycle, a duplicate or an unknown dependency is refused by name")
    func graphErrors() {
        func job(_ id: String, _ dependsOn: [String]) -> JobDescription {
            JobDescription(id: id, title: id, summary: id, dependsOn: dependsOn)
        }
        #expect(throws: JobGraph.GraphError.cycle(["a", "b", "a"])) {
            try JobGraph.ordered([job("a", ["b"]), job("b", ["a"])])
        }
        #expect(throws: JobGraph.GraphError.duplicate("a")) { try JobGraph.ordered([job("a", []), job("a", [])]) }
        #expect(throws: JobGraph.GraphError.unknownDependency(job: "a", dependency: "z")) {
            try JobGraph.ordered([job("a", ["z"])])
        }
        #expect(
            BuiltinJobs.descriptions.map(\.id) == [
                "check_queue_health", "check_store_health", "refresh_hourly", "refresh_line_hours",
                "refresh_zone_hours", "refresh_daily", "compute_station_ranking", "data_quality_check", "process_city",
            ])
    }
}
