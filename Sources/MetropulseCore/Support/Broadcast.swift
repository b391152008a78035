import Synchronization

/// Fans values out to every current subscriber, each through its own bounded stream (the newest
/// values are kept when a subscriber falls behind).
public final class Broadcast<Element: Sendable>: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<Element>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)
    private let buffer: Int

    public init(buffer: Int = 64) {
        self.buffer = buffer
    }

    public func yield(_ element: Element) {
        let targets = subscribers.withLock { Array($0.values) }
        for continuation in targets { continuation.yield(element) }
    }

    /// Values yielded from now on, until `finishAll` or the subscriber stops iterating.
    public func subscribe() -> AsyncStream<Element> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<Element>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    public func finishAll() {
        // Finish outside the lock: finishing runs `onTermination`, which takes the lock.
        let open = subscribers.withLock { subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }
        for continuation in open { continuation.finish() }
    }
}
