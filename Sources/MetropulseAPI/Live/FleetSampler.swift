import Logging
import MetropulseCore
public import ServiceLifecycle

/// Samples the fleet (the backlog and each worker's progress) every heartbeat period, so the
/// workers' health is judged over a window even before anyone asks for it.
public struct FleetSampler: Service {
    let environment: APIEnvironment

    public init(environment: APIEnvironment) {
        self.environment = environment
    }

    public func run() async throws {
        let board = OperationsBoard(environment)
        let interval = max(1_000, environment.heartbeatIntervalMillis)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                _ = try await board.workers(now: environment.clock.nowMillis)
            } catch {
                environment.logger.debug("fleet sample failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(interval)) }
        }
    }
}
