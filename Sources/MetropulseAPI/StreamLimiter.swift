import Synchronization

/// Counts the live streams a process serves and refuses one past the limit, so subscribers
/// cannot hold every connection and task of the API.
public final class StreamLimiter: Sendable {
    public let limit: Int
    private let open = Mutex(0)

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Takes a place for one stream; false when every place is taken.
    func enter() -> Bool {
        open.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func leave() { open.withLock { $0 -= 1 } }

    /// Streams open now.
    public var count: Int { open.withLock { $0 } }
}
