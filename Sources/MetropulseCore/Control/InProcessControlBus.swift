/// The embedded bus: commands and worker metrics reach every subscriber in this process.
public final class InProcessControlBus: ControlBus {
    private let commandSubscribers = Broadcast<ControlCommand>()
    private let metricSubscribers = Broadcast<WorkerHeartbeat>()

    public init() {}

    public func publish(_ command: ControlCommand) async throws {
        commandSubscribers.yield(command)
    }

    public func commands() async throws -> AsyncStream<ControlCommand> {
        commandSubscribers.subscribe()
    }

    public func publishMetrics(_ heartbeat: WorkerHeartbeat) async throws {
        metricSubscribers.yield(heartbeat)
    }

    public func metrics() async throws -> AsyncStream<WorkerHeartbeat> {
        metricSubscribers.subscribe()
    }
}
