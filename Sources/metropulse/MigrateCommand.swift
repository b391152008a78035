import ArgumentParser
import MetropulseApp
import MetropulseSQLite

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the database schema (idempotent).")

    @OptionGroup var options: RuntimeOptions

    func run() async throws {
        let configuration = try options.load()
        let backend = try SQLiteBackend(path: configuration.database.path)
        let applied = try backend.appliedMigrations()
        print(
            "\(configuration.database.path): schema at \(applied.last ?? "none") (\(applied.count) migrations applied)")
        try backend.close()
    }
}
