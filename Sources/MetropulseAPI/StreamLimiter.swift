import Hummingbird
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

    /// Takes a place, or refuses the request with a 503 saying why.
    func admit() throws {
        guard enter() else {
            throw HTTPError(.serviceUnavailable, message: "too many live streams open (\(limit)); try again later")
        }
    }

    /// The headers of a server-sent events answer.
    static let eventStreamHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    /// Streams open now.
    public var count: Int { open.withLock { $0 } }
}
