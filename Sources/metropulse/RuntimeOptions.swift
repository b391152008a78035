import ArgumentParser
import Logging
import MetropulseApp
import MetropulseCore

/// Options shared by every command that runs a pipeline role. Flags override the environment,
/// which overrides the file.
struct RuntimeOptions: ParsableArguments {
    @Option(name: .long, help: "YAML configuration file (sources, backends, workers, API). Env: METROPULSE_CONFIG.")
    var config: String?

    @Option(name: .long, help: "SQLite database file. Env: METROPULSE_DATABASE_PATH.")
    var databasePath: String?

    @Option(
        name: .long,
        help: "PostgreSQL instead of SQLite: postgres://user:password@host:port/database. Env: METROPULSE_DATABASE_URL."
    )
    var databaseURL: String?

    @Option(name: .long, help: "API port (0 picks a free port). Env: METROPULSE_API_PORT.")
    var port: Int?

    @Option(name: .long, help: "API bind address. Env: METROPULSE_API_HOST.")
    var host: String?

    @Option(name: .long, help: "Concurrent workers. Env: METROPULSE_WORKERS_CONCURRENCY.")
    var workers: Int?

    @Option(name: .long, help: "trace, debug, info, notice, warning, error. Env: METROPULSE_LOG_LEVEL.")
    var logLevel: String?

    @Option(
        name: .long,
        help:
            "Where workers send observations: store (default) or kafka (record topics, loaded by the sink role). Env: METROPULSE_DATA_PATH."
    )
    var dataPath: String?

    var configPath: String? {
        config ?? ProcessInfoEnvironment.value("METROPULSE_CONFIG")
    }

    func load() throws -> MetropulseConfiguration {
        var configuration: MetropulseConfiguration
        do {
            configuration = try ConfigurationLoader.load(path: configPath)
        } catch let error as ConfigurationErrors {
            throw ValidationError("invalid configuration:\n\(error)")
        }
        if let databasePath { configuration.database.path = databasePath }
        if let databaseURL {
            guard databaseURL.hasPrefix("postgres://") || databaseURL.hasPrefix("postgresql://") else {
                throw ValidationError("--database-url must be postgres://user:password@host:port/database")
            }
            configuration.database.url = databaseURL
        }
        if let port { configuration.api.port = port }
        if let host { configuration.api.host = host }
        if let workers {
            guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
            configuration.workers.concurrency = workers
        }
        if let dataPath {
            guard let path = MetropulseConfiguration.DataPath(rawValue: dataPath.lowercased()) else {
                throw ValidationError("--data-path must be store or kafka")
            }
            configuration.dataPath = path
        }
        if let logLevel {
            guard Logger.Level(rawValue: logLevel) != nil else {
                throw ValidationError("unknown --log-level '\(logLevel)'")
            }
            configuration.logLevel = logLevel
        }
        return configuration
    }

    /// Sets up logging at the configured level (on standard error with `toStandardError`). With a
    /// `service` (a pipeline role), lines also go to the central log when `logging.centralized`.
    func bootstrapLogging(
        _ configuration: MetropulseConfiguration, toStandardError: Bool = false, service: String? = nil
    ) -> Logger {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let logging = configuration.logging
        let central = Logger.Level(rawValue: logging.centralizedLevel) ?? .info
        let centralized = logging.centralized && service != nil
        LogBuffer.shared.configure(
            enabled: centralized, minimumLevel: central, capacity: logging.queueSize, service: service ?? "tool")
        let json = logging.format == .json && !toStandardError
        LoggingSystem.bootstrap { label in
            var console: any LogHandler
            if json {
                console = JSONLogHandler(label: label, service: service ?? "tool", level: level)
            } else {
                var stream =
                    toStandardError
                    ? StreamLogHandler.standardError(label: label) : StreamLogHandler.standardOutput(label: label)
                stream.logLevel = level
                console = stream
            }
            guard centralized else { return RedactingLogHandler(console) }
            return RedactingLogHandler(
                MultiplexLogHandler([console, CentralLogHandler(label: label, level: central)]))
        }
        return Logger(label: "metropulse")
    }

    func run(roles: Roles) async throws {
        try await run(roles: roles, configuration: try load())
    }

    /// Runs `roles` with a configuration already loaded by `load()`.
    func run(roles: Roles, configuration: MetropulseConfiguration) async throws {
        let logger = bootstrapLogging(configuration, service: roles.serviceName)
        let runtime = try MetropulseRuntime(
            configuration: configuration, configurationPath: configPath, roles: roles, logger: logger)
        try await runtime.run()
    }
}

enum ProcessInfoEnvironment {
    static func value(_ name: String) -> String? {
        guard let pointer = getenv(name) else { return nil }
        return String(cString: pointer)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
