import AsyncHTTPClient
public import Foundation
import Hummingbird
import Logging
import MetropulseApp
import MetropulseCore
import NIOCore
import ServiceLifecycle
import Synchronization

extension MetropulseConfiguration {
    /// `serve` as a benchmark runs it in a process: SQLite at `database`, the API on a free
    /// loopback port, no demo city, pages or jobs; only `sources`.
    static func benchServe(database: String, sources: [SourceDefinition]) -> MetropulseConfiguration {
        var configuration = MetropulseConfiguration()
        configuration.database.path = database
        configuration.demo.enabled = false
        configuration.api.host = "127.0.0.1"
        configuration.api.port = 0
        configuration.web.enabled = false
        configuration.jobs.enabled = false
        configuration.sources = sources
        return configuration
    }
}

/// From the moment a feed's answer is complete to the moment an SSE client has the change: a GBFS
/// feed on a loopback port whose station `s1` has one more bike at each answer (the count names
/// the answer), polled every second by `serve` on SQLite in this process; a client of
/// `/api/stream?topics=stations` notes when each count arrives. Once with the live feed following
/// the store every `api.live_interval` (100 ms, the default) and once every second (how the
/// streams polled before), in the same run.
public struct FreshnessBenchmark: Sendable {
    public var samples: Int
    public var directory: String

    public init(samples: Int, directory: String) {
        self.samples = max(5, samples)
        self.directory = directory
    }

    public struct Side: Sendable {
        public var interval: Int64
        public var latencies: [Double]

        public func percentile(_ p: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return .nan }
            return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
        }
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var fast: Side
        public var slow: Side

        public var description: String {
            func line(_ side: Side) -> String {
                String(
                    format: "  live interval %4d ms: %d changes, p50 %.0f ms, p99 %.0f ms, max %.0f ms", side.interval,
                    side.latencies.count, side.percentile(0.5), side.percentile(0.99), side.latencies.max() ?? .nan)
            }
            let target = fast.percentile(0.99) < 250 ? "met" : "not met"
            return """
                freshness: feed answer complete → SSE client has the change (serve, SQLite, a GBFS source polled every 1 s)
                \(line(fast))
                \(line(slow))
                  p99 ratio (100 ms / 1 s): \(String(format: "%.2f", fast.percentile(0.99) / slow.percentile(0.99)))
                  target p99 < 250 ms: \(target)
                """
        }
    }

    /// The feed: each station_status answer gives s1 one more bike and notes when it was complete.
    final class Feed: Sendable {
        let count = Mutex(0)
        let served = Mutex<[Int: Double]>([:])

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.get("gbfs.json") { request, _ -> Response in
                let base = "http://\(request.head.authority ?? "")"
                return Self.json(
                    """
                    {"last_updated": \(Int(Date().timeIntervalSince1970)), "ttl": 0, "version": "2.3",
                     "data": {"en": {"feeds": [{"name": "station_status", "url": "\(base)/station_status.json"}]}}}
                    """)
            }
            router.get("station_status.json") { _, _ -> Response in
                let n = self.count.withLock {
                    $0 += 1
                    return $0
                }
                let now = Int(Date().timeIntervalSince1970)
                let body = """
                    {"last_updated": \(now), "ttl": 0, "version": "2.3", "data": {"stations": [
                     {"station_id": "s1", "num_bikes_available": \(n), "num_docks_available": 4, "is_installed": true,
                      "is_renting": true, "is_returning": true, "last_reported": \(now)}]}}
                    """
                self.served.withLock { $0[n] = FreshnessBenchmark.clock() }
                return Self.json(body)
            }
            return router
        }

        static func json(_ text: String) -> Response {
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    /// Milliseconds on a monotonic clock.
    static func clock() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e6
    }

    public func run() async throws -> Report {
        let fast = try await measure(intervalMillis: 100)
        let slow = try await measure(intervalMillis: 1_000)
        return Report(fast: fast, slow: slow)
    }

    func measure(intervalMillis: Int64) async throws -> Side {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        let feed = Feed()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let publisher = Application(
            router: feed.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let publishing = Task { try await publisher.runService(gracefulShutdownSignals: []) }
        defer { publishing.cancel() }
        var portIterator = ports.makeAsyncIterator()
        guard let feedPort = await portIterator.next() else { throw CancellationError() }

        let path = directory + "/bench-freshness-\(getpid())-\(intervalMillis).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        var configuration = MetropulseConfiguration.benchServe(
            database: path,
            sources: [
                SourceDefinition(
                    id: "fresh", kind: .gbfs, urls: ["http://127.0.0.1:\(feedPort)/gbfs.json"], intervalMillis: 1_000)
            ])
        configuration.api.liveIntervalMillis = intervalMillis
        configuration.fetch.allowPrivateAddresses = true
        let bound = AsyncStream<Int>.makeStream()
        let runtime = try MetropulseRuntime(
            configuration: configuration, configurationPath: nil, roles: .all, logger: logger,
            onAPIBound: { bound.continuation.yield($0) })
        try await runtime.backend.prepare()
        let group = runtime.serviceGroup(signals: [])
        let running = Task { try await group.run() }
        defer { running.cancel() }
        var boundIterator = bound.stream.makeAsyncIterator()
        guard let apiPort = await boundIterator.next() else { throw CancellationError() }

        var latencies: [Double] = []
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(apiPort)/api/stream?topics=stations"), timeout: .seconds(600))
        var pending = ""
        var skipped = false
        for try await chunk in response.body {
            let at = Self.clock()
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                for line in block.split(separator: "\n") where line.hasPrefix("data: ") {
                    guard
                        let object = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))
                            as? [String: Any],
                        let stations = object["stations"] as? [[String: Any]],
                        let bikes = stations.first(where: { $0["id"] as? String == "s1" })?["bikes"] as? Int,
                        let served = feed.served.withLock({ $0[bikes] })
                    else { continue }
                    // The first (the snapshot) may be old: only changes seen while connected count.
                    if !skipped {
                        skipped = true
                        continue
                    }
                    latencies.append(at - served)
                }
            }
            if latencies.count >= samples { break }
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return Side(interval: intervalMillis, latencies: latencies)
    }
}
