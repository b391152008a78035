import ArgumentParser

@main
struct Metropulse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metropulse",
        abstract: "Keeps a city's live data flowing: fetch feeds, queue work, store observations, serve them.",
        subcommands: [
            ServeCommand.self, SchedulerCommand.self, WorkerCommand.self, APICommand.self, SinkCommand.self,
            SuperviseCommand.self, LogsCommand.self, DatabaseCommand.self, JobsCommand.self, TasksCommand.self,
            ReplayCommand.self, MigrateCommand.self, AuditCommand.self, SourcesCommand.self, BenchCommand.self,
            DrillCommand.self, ExportCommand.self, VerifyCommand.self, BackfillCommand.self, WebhooksCommand.self,
        ],
        defaultSubcommand: ServeCommand.self
    )
}
