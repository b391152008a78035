import AsyncHTTPClient
import Crypto
import Foundation
import Hummingbird
import MetropulseConnectors
import MetropulseCore
import MetropulseSQLite
import Synchronization
import Testing

/// Webhook deliveries over real HTTP to a receiver on a loopback port (allowed by configuration):
/// signatures checked the Standard Webhooks way, a 500 answered by a retry with the same
/// `webhook-id`, private targets and redirects to them refused, and every event delivered once
/// after the scheduler is killed mid-delivery.
@Suite("Webhooks: signed deliveries to a loopback receiver")
struct WebhookDeliveryTests {
    /// What the receiver was sent.
    struct Hit: Sendable {
        var path: String
        var id: String
        var timestamp: String
        var signature: String
        var body: String
    }

    /// A receiver: `/hook` answers 500 to the first `failFirst` attempts of each message, and
    /// holds requests while `holding`; `/redirect` sends to `http://localhost:PORT/hook`.
    final class Receiver: Sendable {
        let hits = Mutex<[Hit]>([])
        let failFirst: Int
        let holding = Mutex(false)

        init(failFirst: Int) { self.failFirst = failFirst }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("hook") { request, _ -> Response in
                let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
                let hit = Hit(
                    path: "hook", id: request.headers[.init("webhook-id")!] ?? "",
                    timestamp: request.headers[.init("webhook-timestamp")!] ?? "",
                    signature: request.headers[.init("webhook-signature")!] ?? "", body: body)
                let seen = self.hits.withLock { hits in
                    hits.append(hit)
                    return hits.filter { $0.id == hit.id }.count
                }
                while self.holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
                return Response(status: seen <= self.failFirst ? .internalServerError : .ok)
            }
            router.post("redirect") { request, _ -> Response in
                self.hits.withLock {
                    $0.append(
                        Hit(
                            path: "redirect", id: request.headers[.init("webhook-id")!] ?? "", timestamp: "",
                            signature: "", body: ""))
                }
                let port = request.head.authority?.split(separator: ":").last ?? ""
                return Response(
                    status: .temporaryRedirect, headers: [.location: "http://localhost:\(port)/hook"])
            }
            return router
        }
    }

    /// The signature as Standard Webhooks defines it, computed here on its own.
    static func verify(_ hit: Hit, secret: String) -> Bool {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))) else {
            return false
        }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(hit.id).\(hit.timestamp).\(hit.body)".utf8), using: SymmetricKey(data: key))
        return hit.signature.split(separator: " ").contains { $0 == "v1," + Data(mac).base64EncodedString() }
    }

    static func writeRound(_ rounds: StationRounds, stations: Int, bikes: Int) async throws {
        try await rounds.write((0..<stations).map { ("s\($0)", bikes) })
    }

    static func endpoint(_ id: String, url: String) -> WebhookEndpoint {
        let now = WallClock.system.nowMillis
        return WebhookEndpoint(
            id: id, url: url, events: ["station.empty"], secret: WebhookEndpoint.newSecret(), createdAt: now,
            updatedAt: now)
    }

    @Test("signed, retried after a 500 with the same id; a private target and a redirect to one are refused")
    func signedRetriedRefused() async throws {
        let receiver = Receiver(failFirst: 1)
        let publisher = try await Publisher.start(receiver.router())
        defer { publisher.task.cancel() }
        let rounds = try StationRounds(sourceID: "bikes")
        let store = rounds.store
        let ok = Self.endpoint("ep_ok", url: publisher.url("hook"))
        let redirect = Self.endpoint("ep_redirect", url: publisher.url("redirect"))
        let metadata = Self.endpoint("ep_metadata", url: "http://169.254.169.254/latest/meta-data")
        for endpoint in [ok, redirect, metadata] { try await store.putWebhookEndpoint(endpoint) }
        let sender = WebhookHTTPSender(allowPrivateAddresses: false, allowedHosts: ["127.0.0.1"])
        let service = WebhookService(
            store: store,
            catalog: SourceCatalog([SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:9/g"])]),
            sender: sender,
            connectors: StandardConnectors.descriptions, clock: .system,
            configuration: .init(detectIntervalMillis: 100, retryBaseMillis: 200), logger: quietLogger)
        try await Self.writeRound(rounds, stations: 3, bikes: 5)
        let running = Task { try await service.run() }
        defer { running.cancel() }
        try await eventually("every endpoint's first round") {
            for id in ["ep_ok", "ep_redirect", "ep_metadata"]
            where try await store.webhookConditions(endpointID: id)
                .isEmpty
            {
                return false
            }
            return true
        }
        try await Self.writeRound(rounds, stations: 3, bikes: 0)
        try await eventually("ep_ok's three events delivered") {
            try await store.webhookDeliveries(endpointID: "ep_ok", status: .succeeded, limit: 10).count == 3
        }
        let delivered = try await store.webhookDeliveries(endpointID: "ep_ok", status: nil, limit: 10)
        let hits = receiver.hits.withLock { $0 }.filter { $0.path == "hook" }
        for delivery in delivered {
            // Two attempts: the 500, then the 200, with the same id and a valid signature each time.
            #expect(delivery.attempts.map(\.statusCode) == [500, 200])
            let mine = hits.filter { $0.id == delivery.id }
            #expect(mine.count == 2)
            #expect(mine.allSatisfy { Self.verify($0, secret: ok.secret) && $0.body == delivery.body })
            // A signature made with another secret does not verify.
            #expect(!mine.contains { Self.verify($0, secret: redirect.secret) })
        }
        let stations = Set(
            delivered.compactMap { try? JSONDecoder().decode(WebhookEvent.self, from: Data($0.body.utf8)) }
                .map { "\($0.type) \($0.data.station ?? "")" })
        #expect(stations == ["station.empty s0", "station.empty s1", "station.empty s2"])

        try await eventually("the refused deliveries' first attempts") {
            let a = try await store.webhookDeliveries(endpointID: "ep_redirect", status: nil, limit: 10)
            let b = try await store.webhookDeliveries(endpointID: "ep_metadata", status: nil, limit: 10)
            return a.count == 3 && b.count == 3 && (a + b).allSatisfy { !$0.attempts.isEmpty }
        }
        for delivery in try await store.webhookDeliveries(endpointID: "ep_redirect", status: nil, limit: 10) {
            let error = delivery.attempts[0].error ?? ""
            #expect(error.contains("localhost") && error.contains("names this machine"), "\(error)")
            #expect(delivery.status == .pending)
        }
        for delivery in try await store.webhookDeliveries(endpointID: "ep_metadata", status: nil, limit: 10) {
            let error = delivery.attempts[0].error ?? ""
            #expect(error.contains("169.254.169.254") && error.contains("link-local"), "\(error)")
        }
        // The redirect was asked; what it pointed to never was.
        let all = receiver.hits.withLock { $0 }
        #expect(all.contains { $0.path == "redirect" })
        let refusedIDs = Set(
            try await store.webhookDeliveries(endpointID: "ep_redirect", status: nil, limit: 10).map(\.id))
        #expect(!all.contains { $0.path == "hook" && refusedIDs.contains($0.id) })
        running.cancel()
        try await sender.client.shutdown()
        try store.close()
    }

    @Test("the scheduler killed mid-delivery: after its restart every event arrives, none twice under two ids")
    func restartMidDelivery() async throws {
        let receiver = Receiver(failFirst: 0)
        receiver.holding.withLock { $0 = true }
        let publisher = try await Publisher.start(receiver.router())
        defer { publisher.task.cancel() }
        let rounds = try StationRounds(sourceID: "bikes")
        let store = rounds.store
        let endpoint = Self.endpoint("ep_hook", url: publisher.url("hook"))
        try await store.putWebhookEndpoint(endpoint)
        try await Self.writeRound(rounds, stations: 20, bikes: 5)
        let environment = [
            "METROPULSE_CONFIG": rounds.configPath, "METROPULSE_JOBS_ENABLED": "false",
            "METROPULSE_WEBHOOKS_ALLOWED_HOSTS": "127.0.0.1", "METROPULSE_WEBHOOKS_LEASE": "2s",
            "METROPULSE_WEBHOOKS_RETRY_BASE": "200ms", "METROPULSE_WEBHOOKS_CONCURRENCY": "4",
        ]
        let arguments = ["scheduler", "--port", "0", "--database-path", rounds.path]
        let first = try ChildProcess(arguments: arguments, environment: environment)
        defer { if first.process.isRunning { first.process.terminate() } }
        try await eventually("the endpoint's first round") {
            try await store.webhookConditions(endpointID: "ep_hook")["*"] != nil
        }
        try await Self.writeRound(rounds, stations: 20, bikes: 0)
        // Four deliveries reach the receiver, which holds them; the scheduler is killed then.
        try await eventually("deliveries in flight") { receiver.hits.withLock { $0.count } >= 4 }
        let inFlight = Set(receiver.hits.withLock { $0.map(\.id) })
        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        receiver.holding.withLock { $0 = false }
        let second = try ChildProcess(arguments: arguments, environment: environment)
        defer { if second.process.isRunning { second.process.terminate() } }
        try await eventually("all 20 delivered", timeout: .seconds(60)) {
            try await store.webhookDeliveries(endpointID: "ep_hook", status: .succeeded, limit: 100).count == 20
        }
        let deliveries = try await store.webhookDeliveries(endpointID: "ep_hook", status: nil, limit: 100)
        #expect(deliveries.count == 20)
        let hits = receiver.hits.withLock { $0 }
        // Every message arrived, signed; the ones in flight at the kill arrived again with the same id.
        #expect(Set(hits.map(\.id)) == Set(deliveries.map(\.id)))
        #expect(hits.allSatisfy { Self.verify($0, secret: endpoint.secret) })
        for id in inFlight { #expect(hits.filter { $0.id == id }.count >= 2, "\(id)") }
        // One message per event: each station's emptying is one id.
        let events = Dictionary(
            grouping: hits.compactMap { try? JSONDecoder().decode(WebhookEvent.self, from: Data($0.body.utf8)) },
            by: { $0.data.station ?? "" })
        #expect(events.count == 20)
        let idsPerStation = Dictionary(
            grouping: hits,
            by: { hit in
                (try? JSONDecoder().decode(WebhookEvent.self, from: Data(hit.body.utf8)))?.data.station ?? ""
            }
        ).mapValues { Set($0.map(\.id)).count }
        #expect(idsPerStation.values.allSatisfy { $0 == 1 })
        #expect(await second.stop() == 0)
        try store.close()
    }
}
