import Logging
import MetropulseCore
public import ServiceLifecycle

/// Re-reads the configuration file on `RELOAD_CONFIG` and swaps the source catalogue. In a
/// process with a worker pool, it answers the command for that worker with the outcome.
public struct ConfigReloader: Service {
    let path: String?
    let catalog: SourceCatalog
    let bus: any ControlBus
    /// The worker pool of this process, answering as it, and where answers go.
    var workerID: String?
    var commandLog: (any CommandLog)?
    let clock: WallClock
    let logger: Logger

    public func run() async throws {
        let commands = try await bus.commands()
        for await command in commands.cancelOnGracefulShutdown() where command.kind == .reloadConfig {
            let ok: Bool
            let result: String
            do {
                let configuration = try ConfigurationLoader.load(path: path)
                catalog.replace(with: configuration.sources)
                catalog.replace(cities: configuration.cities)
                logger.info("configuration reloaded", metadata: ["sources": "\(configuration.sources.count)"])
                (ok, result) = (true, "configuration reloaded: \(configuration.sources.count) sources")
            } catch {
                logger.error(
                    "configuration reload failed; keeping the current sources",
                    metadata: ["error": "\(loggable(error))"])
                (ok, result) = (false, "reload failed, the current sources are kept: \(loggable(error))")
            }
            await CommandAnswer.send(
                command, as: workerID, to: commandLog, ok: ok, result: result, clock: clock, logger: logger)
        }
    }
}
