import ArgumentParser
import Foundation
import Logging
import MetropulseApp
import MetropulseCore
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `metropulse supervise`: the roles as child processes on one machine, and the commands that
/// talk to a running supervisor (the `serve.sh up / down / logs / scale` of the seeds).
struct SuperviseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervise",
        abstract: "Run a scheduler, N worker processes and an API as children; restart them; scale; stop.",
        discussion: """
            The children share work through PostgreSQL (METROPULSE_DATABASE_URL or --database-url), and \
            Kafka when configured. Their output goes to <state-dir>/<child>.log. A child that exits is \
            started again after 1 s, doubling to 30 s. POST /api/system/workers/scale on the API child \
            starts or stops worker processes here.
            """,
        subcommands: [Up.self, Status.self, Logs.self, Scale.self, Down.self],
        defaultSubcommand: Up.self)

    struct StateOption: ParsableArguments {
        @Option(help: "The supervisor's folder: the children's logs and its control endpoint (supervise.json).")
        var stateDir = ".metropulse"
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "up", abstract: "Start the supervisor and its children (the default); SIGTERM stops them all.")

        @OptionGroup var state: StateOption

        @Option(help: "Worker processes to start.")
        var workers = 2

        @Option(help: "Task slots of each worker process. Env: METROPULSE_WORKERS_CONCURRENCY.")
        var concurrency: Int?

        @Option(help: "YAML configuration file every child reads. Env: METROPULSE_CONFIG.")
        var config: String?

        @Option(help: "PostgreSQL: postgres://user:password@host:port/database. Env: METROPULSE_DATABASE_URL.")
        var databaseURL: String?

        @Option(help: "The API child's port. Env: METROPULSE_API_PORT.")
        var port: Int?

        @Option(help: "store or kafka (adds a sink child). Env: METROPULSE_DATA_PATH.")
        var dataPath: String?

        @Option(help: "trace, debug, info, notice, warning, error. Env: METROPULSE_LOG_LEVEL.")
        var logLevel: String?

        func run() async throws {
            guard (0...Supervisor.maxWorkers).contains(workers) else {
                throw ValidationError("--workers must be 0 to \(Supervisor.maxWorkers)")
            }
            var arguments: [String] = []
            if let config { arguments += ["--config", config] }
            if let databaseURL { arguments += ["--database-url", databaseURL] }
            if let port { arguments += ["--port", String(port)] }
            if let concurrency {
                guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
                arguments += ["--workers", String(concurrency)]
            }
            if let dataPath { arguments += ["--data-path", dataPath] }
            if let logLevel { arguments += ["--log-level", logLevel] }
            // The children parse the same options: a mistake shows here, once, not in N logs.
            let options = try RuntimeOptions.parse(arguments)
            let configuration = try options.load()
            guard configuration.database.url != nil else {
                throw ValidationError(
                    "supervise runs the roles as separate processes, which share work through PostgreSQL: set METROPULSE_DATABASE_URL or --database-url (or run everything in one process with metropulse serve)"
                )
            }
            let logger = options.bootstrapLogging(configuration)
            let supervisor = Supervisor(
                configuration: .init(
                    binary: Self.binary, arguments: arguments, workers: workers,
                    sink: configuration.dataPath == .kafka, stateDirectory: state.stateDir),
                logger: logger)
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup)],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }

        /// This binary, so the children run the same build.
        static var binary: String {
            let linked = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            return FileManager.default.isExecutableFile(atPath: linked) ? linked : CommandLine.arguments[0]
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The children of the running supervisor.")

        @OptionGroup var state: StateOption

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let status = try await SupervisorClient(stateDirectory: state.stateDir).status()
            if json {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print(
                "supervisor pid \(status.pid): \(status.workers) worker processes wanted\(status.stopping ? ", stopping" : "")"
            )
            let now = WallClock.system.nowMillis
            for child in status.children {
                let state =
                    child.running
                    ? "up \(Self.duration(now - child.startedAt))"
                    : "exited \(child.exitStatus.map(String.init) ?? "?")"
                print(
                    "  \(child.name.padding(toLength: 12, withPad: " ", startingAt: 0)) pid \(child.pid.map(String.init) ?? "-")  \(state)  restarts \(child.restarts)  \(child.log)"
                )
            }
        }

        static func duration(_ millis: Int64) -> String {
            let seconds = max(0, millis / 1000)
            return seconds < 120 ? "\(seconds) s" : seconds < 7_200 ? "\(seconds / 60) min" : "\(seconds / 3_600) h"
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a child's log: a name (worker-2) or a role (worker: every worker's).")

        @OptionGroup var state: StateOption

        @Argument(help: "scheduler, api, sink, worker, or one child (worker-1, ...).")
        var child: String

        @Option(help: "Lines from the end of each log.")
        var lines = 50

        @Flag(name: .shortAndLong, help: "Keep printing new lines until interrupted.")
        var follow = false

        func run() async throws {
            let folder = state.stateDir
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { $0.hasSuffix(".log") }.map { String($0.dropLast(4)) }
                .filter { $0 == child || $0.hasPrefix(child + "-") }.sorted()
            guard !names.isEmpty else {
                throw ValidationError("no log of '\(child)' in \(folder) (children: scheduler, api, sink, worker-N)")
            }
            let prefix = names.count > 1
            var offsets: [String: UInt64] = [:]
            var out = ""
            for name in names {
                let path = "\(folder)/\(name).log"
                let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
                for line in text.split(separator: "\n").suffix(max(0, lines)) {
                    out += (prefix ? "\(name) | \(line)" : String(line)) + "\n"
                }
                offsets[name] = UInt64(text.utf8.count)
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            while follow {
                try await Task.sleep(for: .milliseconds(300))
                for name in names {
                    guard let handle = FileHandle(forReadingAtPath: "\(folder)/\(name).log") else { continue }
                    defer { try? handle.close() }
                    try handle.seek(toOffset: offsets[name] ?? 0)
                    let data = handle.readDataToEndOfFile()
                    guard !data.isEmpty else { continue }
                    offsets[name, default: 0] += UInt64(data.count)
                    var text = ""
                    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                        text += (prefix ? "\(name) | \(line)" : String(line)) + "\n"
                    }
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
        }
    }

    struct Scale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set the number of worker processes (or change it with --delta).")

        @OptionGroup var state: StateOption

        @Argument(help: "Worker processes wanted.")
        var count: Int?

        @Option(name: .customLong("workers"), help: "The same as the count (as serve.sh scale --workers N).")
        var workers: Int?

        @Option(help: "Add (or, negative, remove) this many worker processes.")
        var delta: Int?

        func run() async throws {
            let count = self.count ?? workers
            guard (count == nil) != (delta == nil) else { throw ValidationError("give a count or --delta, not both") }
            let (before, after) = try await SupervisorClient(stateDirectory: state.stateDir).scale(
                count: count, delta: delta)
            print("worker processes: \(before) → \(after)")
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop every child (workers finish their tasks) and the supervisor; waits until it exits.")

        @OptionGroup var state: StateOption

        func run() async throws {
            let client = try SupervisorClient(stateDirectory: state.stateDir)
            let status = try await client.down()
            let deadline = ContinuousClock.now + .seconds(120)
            while kill(status.pid, 0) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            guard kill(status.pid, 0) != 0 else { throw ValidationError("the supervisor did not exit within 120 s") }
            print("stopped: the supervisor (pid \(status.pid)) and its \(status.children.count) children")
        }
    }
}
