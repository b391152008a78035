import ArgumentParser
import Logging
import MetropulseApp

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the database schema, and the Kafka topics when configured (idempotent).")

    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let configuration = try options.load()
        let logger = Logger(label: "metropulse")
        let backend = try StorageBackend.make(configuration, clientID: "metropulse-migrate", logger: logger)
        try await backend.prepare()
        try backend.close()
        print("\(backend.description): schema is up to date")
    }
}
