public import Logging
public import ServiceLifecycle

/// Runs a service and, once graceful shutdown begins, gives it `grace` to finish before cancelling
/// it. The API needs this: a stream whose client stopped reading waits on a socket that will not
/// drain, and graceful shutdown alone would wait for it forever. Cancelled, the server closes its
/// connections and the stream's pending write fails.
public struct BoundedShutdown: Service {
    let service: any Service
    let grace: Duration
    let logger: Logger

    public init(_ service: any Service, grace: Duration, logger: Logger) {
        self.service = service
        self.grace = grace
        self.logger = logger
    }

    struct GraceOver: Error {}

    public func run() async throws {
        let (service, grace, logger) = (self.service, self.grace, self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            group.addTask {
                try await gracefulShutdown()
                try await Task.sleep(for: grace)
                throw GraceOver()
            }
            do {
                try await group.next()
            } catch is GraceOver {
                logger.warning(
                    "connections still open after the shutdown grace: closing them",
                    metadata: ["grace_seconds": "\(grace.components.seconds)"])
            } catch is CancellationError {
                // The group was cancelled: so is the service.
            }
            group.cancelAll()
            // Wait for the service to end; a CancellationError from it is the expected answer.
            while let result = await group.nextResult() {
                if case .failure(let error) = result, !(error is CancellationError), !(error is GraceOver) {
                    throw error
                }
            }
        }
    }
}
