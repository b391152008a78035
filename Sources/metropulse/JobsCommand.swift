import ArgumentParser
import Foundation
import Logging
import MetropulseApp
import MetropulseCore

/// `metropulse jobs`: the job runner's jobs and runs from the command line, and run now, pause
/// and resume (the same store records the API's POSTs write).
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "The job runner's jobs: list, runs, run now, pause, resume.",
        subcommands: [List.self, Runs.self, Run.self, Pause.self, Resume.self])

    static func job(_ id: String, catalog: SourceCatalog? = nil) throws -> any Job {
        guard let job = BuiltinJobs.all(catalog: catalog).first(where: { $0.description.id == id }) else {
            let known = BuiltinJobs.descriptions.map(\.id).joined(separator: ", ")
            throw ValidationError("unknown job '\(id)'; known: \(known)")
        }
        return job
    }

    /// Opens the configured store, runs `body`, closes it.
    static func withBackend<T: Sendable>(
        _ options: RuntimeOptions, _ body: @escaping @Sendable (StorageBackend, Logger) async throws -> T
    ) async throws -> T {
        let configuration = try options.load()
        let logger = options.bootstrapLogging(configuration, toStandardError: true)
        // The configured queue too (Kafka when set), so a task or a check reaches the real one.
        let backend = try StorageBackend.make(configuration, clientID: "metropulse-cli", logger: logger)
        defer { try? backend.close() }
        try await backend.prepare()
        return try await backend.whileRunning { backend in try await body(backend, logger) }
    }

    static func line(_ run: JobRun) -> String {
        let duration = run.durationMillis.map { "\($0) ms" } ?? "running"
        var text =
            "\(Timestamp.iso8601(run.startedAt))  \(run.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) "
            + "\(run.trigger.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) attempt \(run.attempt)  \(duration)"
        if let detail = run.detail { text += "  \(detail)" }
        if let error = run.error { text += "  error: \(error)" }
        return text
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each job with its state and last run.")
        @OptionGroup var options: RuntimeOptions

        func run() async throws {
            let lines = try await JobsCommand.withBackend(options) { backend, _ in
                let states = try await backend.store.jobStates()
                var lines: [String] = []
                for job in BuiltinJobs.descriptions {
                    let state = states.first { $0.jobID == job.id }
                    let last = try await backend.store.jobRuns(JobRunQuery(jobID: job.id, limit: 1)).first
                    var head = job.id
                    if !job.dependsOn.isEmpty { head += " (after \(job.dependsOn.joined(separator: ", ")))" }
                    if state?.paused == true { head += "  PAUSED" }
                    if let at = state?.requestedAt { head += "  run asked at \(Timestamp.iso8601(at))" }
                    lines.append(head)
                    lines.append("  " + (last.map(JobsCommand.line) ?? "never run"))
                }
                return lines
            }
            print(lines.joined(separator: "\n"))
        }
    }

    struct Runs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A job's runs, newest first.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The job's id.") var job: String
        @Option(help: "At most this many runs.") var limit: Int = 20

        func run() async throws {
            _ = try JobsCommand.job(job)
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 10000") }
            let (job, limit) = (self.job, self.limit)
            let runs = try await JobsCommand.withBackend(options) { backend, _ in
                try await backend.store.jobRuns(JobRunQuery(jobID: job, limit: limit))
            }
            print(runs.isEmpty ? "no run of \(job) is kept" : runs.map(JobsCommand.line).joined(separator: "\n"))
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a job now.",
            discussion: """
                By default the run is asked of the scheduler's leader (as the API's POST does), which \
                starts it within a few seconds; --wait waits for its outcome. With --here the job runs \
                in this process instead, with its timeout and retries (for a deployment with no \
                scheduler running).
                """)
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The job's id.") var job: String
        @Flag(help: "Run it in this process.") var here = false
        @Flag(help: "Wait for the run asked of the scheduler to end (at most 10 minutes).") var wait = false

        func run() async throws {
            let configuration = try options.load()
            let catalog = SourceCatalog(configuration.sources, cities: configuration.cities)
            let job = try JobsCommand.job(self.job, catalog: catalog)
            let (here, wait) = (self.here, self.wait)
            let run = try await JobsCommand.withBackend(options) { backend, logger -> JobRun? in
                let now = WallClock.system.nowMillis
                if here {
                    // Every job in the runner: a job's dependencies must be known to it (they are not run).
                    let runner = try JobRunner(
                        jobs: BuiltinJobs.all(catalog: catalog), store: backend.store, queue: backend.queue,
                        clock: .system,
                        logger: logger)
                    return await runner.execute(job, cycle: now, trigger: .manual, requestedBy: "command line")
                }
                try await backend.store.requestJobRun(job.description.id, at: now, by: "command line")
                guard wait else { return nil }
                let deadline = ContinuousClock.now + .seconds(600)
                while ContinuousClock.now < deadline {
                    let runs = try await backend.store.jobRuns(
                        JobRunQuery(jobID: job.description.id, since: now, limit: 10))
                    if let done = runs.first(where: { $0.trigger == .manual && $0.status != .running }) { return done }
                    try await Task.sleep(for: .seconds(1))
                }
                throw ValidationError("no run ended within 10 minutes: is a scheduler running?")
            }
            guard let run else {
                print("asked: the scheduler's leader starts \(job.description.id) within a few seconds")
                return
            }
            print(JobsCommand.line(run))
            if run.status != .succeeded { throw ExitCode(1) }
        }
    }

    /// Pauses or resumes a job and says so.
    static func setPaused(_ options: RuntimeOptions, _ job: String, _ paused: Bool) async throws {
        let id = try JobsCommand.job(job).description.id
        try await withBackend(options) { backend, _ in try await backend.store.setJobPaused(id, paused: paused) }
        print("\(id) \(paused ? "paused" : "resumed")")
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a job: its scheduled runs are skipped, and so are the jobs that need it.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The job's id.") var job: String

        func run() async throws { try await JobsCommand.setPaused(options, job, true) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused job.")
        @OptionGroup var options: RuntimeOptions
        @Argument(help: "The job's id.") var job: String

        func run() async throws { try await JobsCommand.setPaused(options, job, false) }
    }
}
