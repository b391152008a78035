import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseCore

/// `metropulse tasks replay`: past tasks run again through the normal queue.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "Work with the queue's tasks.", subcommands: [Replay.self])

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run past tasks again through the normal queue.",
            discussion: """
                Names the tasks by their job ids, or by --source and --since (optionally --status), as the \
                run records know them, and enqueues each again under a new job id (<job>~replay-<time>), \
                ahead of scheduled work, with its source's attempts. The worker fetches the source again \
                now: a feed's past cannot be fetched twice, so this recovers a failed or lost run, it does \
                not rebuild history. Writes stay idempotent. --dry-run lists what would be queued.
                """)

        @OptionGroup var options: RuntimeOptions

        @Argument(help: "Job ids of past tasks (as in the run records: source@slot, ...).")
        var jobs: [String] = []

        @Option(help: "Every task of this source that ran within --since.")
        var source: String?

        @Option(help: "How far back, with --source: 30m, 2h, 1d...")
        var since: String?

        @Option(help: "Only tasks whose last run ended so: succeeded, unchanged or failed.")
        var status: String?

        @Flag(help: "List what would be queued, and queue nothing.")
        var dryRun = false

        func validate() throws {
            if jobs.isEmpty && source == nil {
                throw ValidationError("name job ids, or --source with --since")
            }
            if !jobs.isEmpty && (source != nil || since != nil) {
                throw ValidationError("name job ids, or --source with --since, not both")
            }
            if source != nil && since == nil { throw ValidationError("--source needs --since (30m, 2h, 1d...)") }
            if let since, ConfigurationLoader.milliseconds(since) == nil {
                throw ValidationError("--since must be a duration like 30m, 2h or 1d")
            }
            if let status, TaskRunStatus(rawValue: status) == nil {
                let known = TaskRunStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("--status must be one of: \(known)")
            }
        }

        func run() async throws {
            let configuration = try options.load()
            let catalog = SourceCatalog(configuration.sources)
            let (jobs, source, status, dryRun) = (self.jobs, self.source, self.status, self.dryRun)
            let window = since.flatMap(ConfigurationLoader.milliseconds)
            let lines = try await JobsCommand.withBackend(options) { backend, _ -> [String] in
                let now = WallClock.system.nowMillis
                // The tasks, each once, in the order their runs ended.
                var found: [(jobID: String, sourceID: String)] = []
                var lines: [String] = []
                if jobs.isEmpty, let source, let window {
                    let runs = try await backend.store.taskRuns(
                        TaskRunQuery(
                            status: status.flatMap(TaskRunStatus.init(rawValue:)), sourceID: source,
                            since: now - window, limit: 100_000))
                    var seen: Set<String> = []
                    for run in runs.reversed() where seen.insert(run.jobID).inserted {
                        found.append((run.jobID, run.sourceID))
                    }
                } else {
                    for job in jobs {
                        guard let run = try await backend.store.taskRuns(TaskRunQuery(jobID: job, limit: 1)).first
                        else {
                            lines.append("no run of \(job) is on record (runs are kept for retention.task_runs)")
                            continue
                        }
                        found.append((job, run.sourceID))
                    }
                }
                var tasks: [NewTask] = []
                for (jobID, sourceID) in found {
                    guard let definition = catalog.source(id: sourceID) else {
                        lines.append("\(jobID): its source \(sourceID) is not in the configuration, skipped")
                        continue
                    }
                    let task = NewTask(
                        jobID: "\(jobID)~replay-\(now)", sourceID: sourceID, priority: definition.priority + 100,
                        runAt: now, maxAttempts: definition.maxAttempts)
                    tasks.append(task)
                    lines.append("\(dryRun ? "would queue" : "queued") \(task.jobID)")
                }
                if !dryRun && !tasks.isEmpty { _ = try await backend.queue.enqueue(tasks, now: now) }
                lines.append(
                    "\(tasks.count) task\(tasks.count == 1 ? "" : "s") \(dryRun ? "would be" : "") queued"
                        .replacingOccurrences(of: "  ", with: " "))
                return lines
            }
            print(lines.joined(separator: "\n"))
        }
    }
}
