import MetropulseCore
import Synchronization

/// Where the demo feed server listens, known once it is bound; resolves `demo:` URLs.
public final class DemoEndpoint: Sendable {
    private let port = Mutex<Int?>(nil)
    private let bound = AsyncSignal()

    public init() {}

    public func didBind(port: Int) {
        self.port.withLock { $0 = port }
        bound.notify()
    }

    public var boundPort: Int? { port.withLock { $0 } }

    /// `demo:gbfs/gbfs.json` → `http://127.0.0.1:PORT/gbfs/gbfs.json`; other URLs unchanged.
    /// Waits up to `timeoutMillis` for the server to bind.
    public func resolve(_ url: String, timeoutMillis: Int64 = 5_000) async -> String {
        guard url.hasPrefix("demo:") else { return url }
        var path = String(url.dropFirst("demo:".count))
        while path.hasPrefix("/") { path.removeFirst() }
        let deadline = ContinuousClock.now + .milliseconds(timeoutMillis)
        while boundPort == nil, ContinuousClock.now < deadline {
            await bound.wait(timeoutMillis: 100)
        }
        guard let port = boundPort else { return "http://127.0.0.1:9/\(path)" }
        return "http://127.0.0.1:\(port)/\(path)"
    }
}
