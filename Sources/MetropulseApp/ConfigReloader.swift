import Logging
import MetropulseCore
public import ServiceLifecycle

/// Re-reads the configuration file on `RELOAD_CONFIG` and swaps the source catalogue.
public struct ConfigReloader: Service {
    let path: String?
    let catalog: SourceCatalog
    let bus: any ControlBus
    let logger: Logger

    public func run() async throws {
        let commands = try await bus.commands()
        for await command in commands.cancelOnGracefulShutdown() where command.kind == .reloadConfig {
            do {
                let configuration = try ConfigurationLoader.load(path: path)
                catalog.replace(with: configuration.sources)
                catalog.replace(cities: configuration.cities)
                logger.info("configuration reloaded", metadata: ["sources": "\(configuration.sources.count)"])
            } catch {
                logger.error(
                    "configuration reload failed; keeping the current sources",
                    metadata: ["error": "\(loggable(error))"])
            }
        }
    }
}
