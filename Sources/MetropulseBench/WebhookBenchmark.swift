import AsyncHTTPClient
public import Foundation
import Hummingbird
import Logging
import MetropulseConnectors
import MetropulseCore
import MetropulsePostgres
import MetropulseSQLite
import NIOCore
import NIOHTTP1
import Synchronization

/// Webhook deliveries per second to a receiver on a loopback port: `deliveries` events stored as
/// the detector stores them, then sent by `WebhookService` (claimed with a lease, signed, POSTed
/// `concurrency` at once, each attempt recorded), against the floor of the same POSTs of the same
/// bodies with the same client and concurrency, unsigned and unrecorded, in the same run.
public struct WebhookBenchmark: Sendable {
    public var deliveries: Int
    public var concurrency: Int
    public var directory: String
    public var postgresURL: String?

    public init(deliveries: Int, concurrency: Int, directory: String, postgresURL: String?) {
        self.deliveries = max(100, deliveries)
        self.concurrency = max(1, concurrency)
        self.directory = directory
        self.postgresURL = postgresURL
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var backend: String
        public var deliveries: Int
        public var concurrency: Int
        public var webhookRate: Double
        public var floorRate: Double
        public var signaturesChecked: Int
        public var signaturesValid: Int

        public var description: String {
            let target = webhookRate >= 1_000 ? "meets" : "misses"
            return """
                webhooks (\(backend)): \(deliveries) deliveries, \(concurrency) at once, to a loopback receiver
                  Metropulse (stored, claimed, signed, each attempt recorded): \(Int(webhookRate)) deliveries/s
                  floor (the same POSTs, same client and concurrency, unsigned, unrecorded): \(Int(floorRate)) POSTs/s
                  ratio to the floor: \(String(format: "%.2f", webhookRate / max(1, floorRate)))
                  signatures checked at the receiver: \(signaturesValid) of \(signaturesChecked) valid
                  target ≥ 1000 deliveries/s: \(target) (\(String(format: "%.2f", webhookRate / 1_000))×)
                """
        }
    }

    /// The receiver: answers 204, counts, and checks the signature of every 50th request.
    final class Receiver: Sendable {
        let received = Atomic<Int>(0)
        let checked = Atomic<Int>(0)
        let valid = Atomic<Int>(0)
        let secret: String

        init(secret: String) { self.secret = secret }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("hook") { request, _ -> HTTPResponse.Status in
                let body = try await request.body.collect(upTo: 1 << 20)
                let count = self.received.add(1, ordering: .relaxed).newValue
                if count % 50 == 0, let id = request.headers[.init("webhook-id")!],
                    let timestamp = request.headers[.init("webhook-timestamp")!].flatMap({ Int64($0) }),
                    let signature = request.headers[.init("webhook-signature")!]
                {
                    self.checked.add(1, ordering: .relaxed)
                    let expected = WebhookSignature.sign(
                        id: id, timestamp: timestamp, body: String(buffer: body), secret: self.secret)
                    if signature == expected { self.valid.add(1, ordering: .relaxed) }
                }
                return .noContent
            }
            return router
        }
    }

    public func run() async throws -> Report {
        let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
        if let postgresURL {
            return try await PostgresBackend.withScratchSchema(
                url: postgresURL, schema: "bench_webhooks_\(getpid())", logger: logger
            ) { backend in try await measure(store: backend, name: "PostgreSQL", logger: logger) }
        }
        let path = directory + "/bench-webhooks-\(getpid()).sqlite"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let store = try SQLiteBackend(path: path)
        defer { try? store.close() }
        return try await measure(store: store, name: "SQLite", logger: logger)
    }

    func measure(store: any Store, name: String, logger: Logger) async throws -> Report {
        let secret = WebhookEndpoint.newSecret()
        let receiver = Receiver(secret: secret)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: receiver.router(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let url = "http://127.0.0.1:\(port)/hook"

        let now = WallClock.system.nowMillis
        let endpoint = WebhookEndpoint(
            id: "ep_bench", url: url, events: ["station.empty"], secret: secret, createdAt: now, updatedAt: now)
        try await store.putWebhookEndpoint(endpoint)
        var bodies: [String] = []
        for i in 0..<deliveries {
            var data = WebhookEvent.Payload()
            data.source = "bench"
            data.station = "station-\(i)"
            data.bikes = 0
            data.docks = 30
            data.capacity = 30
            data.observedAt = now
            data.run = "bench-run"
            bodies.append(try CityDocuments.encode(WebhookEvent(type: .stationEmpty, at: now, data: data)))
        }
        for chunk in stride(from: 0, to: bodies.count, by: 1_000) {
            try await store.recordWebhookChanges(
                WebhookChanges(
                    deliveries: bodies[chunk..<min(chunk + 1_000, bodies.count)].map {
                        WebhookDelivery(endpointID: endpoint.id, type: "station.empty", body: $0, createdAt: now)
                    }))
        }

        let sender = WebhookHTTPSender(allowPrivateAddresses: true)
        let service = WebhookService(
            store: store, catalog: SourceCatalog([]), sender: sender, connectors: ConnectorDescriptions([]),
            clock: .system, configuration: .init(concurrency: concurrency), logger: logger)
        let started = ContinuousClock.now
        var sent = 0
        while sent < deliveries {
            let count = try await service.dispatch(now: WallClock.system.nowMillis)
            if count == 0 { break }
            sent += count
        }
        let elapsed = ContinuousClock.now - started
        let succeeded = try await store.webhookDeliveries(endpointID: endpoint.id, status: .succeeded, limit: 1_000_000)
        let webhookRate = Double(succeeded.count) / seconds(elapsed)

        // The floor: the same bodies POSTed with the same client, concurrency at once.
        let floorStarted = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func start() {
                guard next < bodies.count else { return }
                let body = bodies[next]
                next += 1
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: body))
                    let response = try await sender.client.execute(request, timeout: .seconds(10))
                    _ = try await response.body.collect(upTo: 64 * 1024)
                }
            }
            for _ in 0..<concurrency { start() }
            while try await group.next() != nil { start() }
        }
        let floorRate = Double(bodies.count) / seconds(ContinuousClock.now - floorStarted)
        try await sender.client.shutdown()
        return Report(
            backend: name, deliveries: succeeded.count, concurrency: concurrency, webhookRate: webhookRate,
            floorRate: floorRate, signaturesChecked: receiver.checked.load(ordering: .relaxed),
            signaturesValid: receiver.valid.load(ordering: .relaxed))
    }

    func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
