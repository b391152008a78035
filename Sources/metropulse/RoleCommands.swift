import ArgumentParser
import MetropulseApp

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run everything in one process: scheduler, worker pool, API (and the demo city by default).")

    @OptionGroup var options: RuntimeOptions

    func run() async throws { try await options.run(roles: .all) }
}

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Run only the scheduler (one per database).")

    @OptionGroup var options: RuntimeOptions

    func run() async throws { try await options.run(roles: .scheduler) }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run only a worker pool that takes tasks from the queue.")

    @OptionGroup var options: RuntimeOptions

    func run() async throws { try await options.run(roles: .worker) }
}

struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Run only the HTTP API.")

    @OptionGroup var options: RuntimeOptions

    func run() async throws { try await options.run(roles: .api) }
}

struct SinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sink",
        abstract: "Run only the sink: load the Kafka record topics into the store (with data_path: kafka).")

    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let configuration = try options.load()
        guard configuration.dataPath == .kafka else {
            throw ValidationError("the sink loads the Kafka record topics: run it with --data-path kafka")
        }
        try await options.run(roles: .sink, configuration: configuration)
    }
}
