import Synchronization

/// The embedded bus: commands reach every subscriber in this process.
public final class InProcessControlBus: ControlBus {
    private let subscribers = Mutex<[Int: AsyncStream<ControlCommand>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    public init() {}

    public func publish(_ command: ControlCommand) async throws {
        let targets = subscribers.withLock { Array($0.values) }
        for continuation in targets { continuation.yield(command) }
    }

    public func commands() async throws -> AsyncStream<ControlCommand> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<ControlCommand>.makeStream(bufferingPolicy: .bufferingNewest(64))
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }
}
