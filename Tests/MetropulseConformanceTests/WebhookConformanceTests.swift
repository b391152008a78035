import Foundation
import Logging
import MetropulseCore
import Synchronization
import Testing

/// Webhook endpoints, conditions and deliveries (`WebhookStore`) and `WebhookService`'s rounds on
/// every backend: a new endpoint's first round sends nothing, a station that empties is one
/// delivery (not repeated by the next round, nor by a new service after a restart), a failed
/// attempt is retried later, a leased delivery is not claimed twice, an endpoint failing for too
/// long is disabled, and a deleted one takes its deliveries with it.
@Suite("Webhooks: store and service")
struct WebhookConformanceTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
    static let now: Int64 = 1_769_428_800_000

    /// Answers a delivery's attempt n with `statuses[n]` (the last one repeats).
    final class ScriptedSender: WebhookSender {
        let statuses: [Int]
        let sent = Mutex<[String]>([])

        init(_ statuses: [Int]) { self.statuses = statuses }

        func send(_ delivery: WebhookDelivery, to endpoint: WebhookEndpoint, at: Int64) async -> (
            statusCode: Int?, error: String?
        ) {
            sent.withLock { $0.append(delivery.id) }
            let status = statuses[min(delivery.attempts.count, statuses.count - 1)]
            return (status, (200..<300).contains(status) ? nil : "HTTP \(status)")
        }
    }

    final class Clock: Sendable {
        let value: Mutex<Int64>
        init(_ start: Int64) { value = Mutex(start) }
        func set(_ to: Int64) { value.withLock { $0 = to } }
    }

    static func round(_ store: any Store, _ number: Int, bikes: [String: Int], at: Int64) async throws {
        let stations = bikes.sorted { $0.key < $1.key }.map { id, count in
            StationObservation(
                sourceID: "bikes", stationID: id, name: "Station \(id)", latitude: 48.85, longitude: 2.35, capacity: 20,
                bikesAvailable: count, docksAvailable: 20 - count, isInstalled: true, isRenting: true,
                isReturning: true, observedAt: at)
        }
        try await store.write([
            RunResult(
                run: TaskRun(
                    id: "bikes-\(number)", jobID: "bikes-\(number)", taskID: nil, sourceID: "bikes", attempt: 1,
                    workerID: "w", status: .succeeded, startedAt: at - 10, finishedAt: at,
                    entityCount: stations.count),
                observations: ObservationBatch(stations: stations), outcome: nil)
        ])
    }

    @Test("events once, retries, leases, disabling, deletion", arguments: BackendFactory.all)
    func lifecycle(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let store = backend.store
        let catalog = SourceCatalog([
            SourceDefinition(id: "bikes", kind: .gbfs, urls: ["http://127.0.0.1:1/gbfs.json"])
        ])
        let connectors = ConnectorDescriptions([
            ConnectorDescription(kind: .gbfs, summary: "bikes", produces: [.stations])
        ])
        let clock = Clock(Self.now)
        let wall = WallClock { clock.value.withLock { $0 } }
        func service(_ sender: any WebhookSender, disableAfter: Int64 = 86_400_000) -> WebhookService {
            WebhookService(
                store: store, catalog: catalog, sender: sender, connectors: connectors, clock: wall,
                configuration: .init(retryBaseMillis: 1_000, disableAfterMillis: disableAfter), logger: Self.logger)
        }
        let endpoint = WebhookEndpoint(
            id: "ep_a", url: "http://127.0.0.1:1/hook", events: ["station.empty", "station.full"], sources: ["bikes"],
            emptyAtMost: 1, secret: WebhookEndpoint.newSecret(), createdAt: Self.now, updatedAt: Self.now)
        try await store.putWebhookEndpoint(endpoint)
        #expect(try await store.webhookEndpoints() == [endpoint])
        #expect(try await store.webhookEndpoint(id: "ep_a") == endpoint)

        // The first round records the stations as they are: no event.
        try await Self.round(store, 1, bikes: ["s1": 5, "s2": 0, "s3": 10], at: Self.now - 1_000)
        let sender = ScriptedSender([500, 200])
        let first = service(sender)
        try await first.detect(now: Self.now)
        #expect(try await store.webhookDeliveries(endpointID: "ep_a", status: nil, limit: 100).isEmpty)
        let conditions = try await store.webhookConditions(endpointID: "ep_a")
        #expect(conditions["station|bikes/s1"] == "ok" && conditions["station|bikes/s2"] == "empty")

        // s1 empties (1 bike, at the endpoint's threshold), s3 fills, s2 recovers: two events.
        try await Self.round(store, 2, bikes: ["s1": 1, "s2": 4, "s3": 20], at: Self.now + 1_000)
        try await first.detect(now: Self.now + 2_000)
        var deliveries = try await store.webhookDeliveries(endpointID: "ep_a", status: nil, limit: 100)
        #expect(deliveries.map(\.type).sorted() == ["station.empty", "station.full"])
        let empty = try #require(deliveries.first { $0.type == "station.empty" })
        let event = try JSONDecoder().decode(WebhookEvent.self, from: Data(empty.body.utf8))
        #expect(event.data.station == "s1" && event.data.bikes == 1 && event.data.run == "bikes-2")
        // Neither the next round nor a new service (a restart) repeats them.
        try await first.detect(now: Self.now + 3_000)
        try await service(sender).detect(now: Self.now + 4_000)
        #expect(try await store.webhookDeliveries(endpointID: "ep_a", status: nil, limit: 100).count == 2)
        #expect(try await store.pendingWebhookDeliveryCounts() == ["ep_a": 2])

        // A claimed delivery is held: a second claim gets the rest, then nothing.
        let claimed = try await store.claimWebhookDeliveries(now: Self.now + 5_000, leaseMillis: 10_000, limit: 1)
        #expect(claimed.count == 1)
        let rest = try await store.claimWebhookDeliveries(now: Self.now + 5_000, leaseMillis: 10_000, limit: 10)
        #expect(rest.count == 1 && rest[0].id != claimed[0].id)
        #expect(try await store.claimWebhookDeliveries(now: Self.now + 6_000, leaseMillis: 10_000, limit: 10).isEmpty)
        // Past the lease (a process that died holding them), they are due again.
        clock.set(Self.now + 16_000)
        // The first attempt fails (500): retried about a second later; the second succeeds.
        #expect(try await first.dispatch(now: Self.now + 16_000) == 2)
        deliveries = try await store.webhookDeliveries(endpointID: "ep_a", status: .pending, limit: 100)
        #expect(deliveries.count == 2)
        #expect(deliveries.allSatisfy { $0.attempts.count == 1 && $0.nextAttemptAt > Self.now + 16_000 })
        #expect(deliveries.contains { $0.attempts[0].statusCode == 500 })
        #expect(try await first.dispatch(now: Self.now + 16_000) == 0)
        clock.set(Self.now + 30_000)
        #expect(try await first.dispatch(now: Self.now + 30_000) == 2)
        let done = try await store.webhookDeliveries(endpointID: "ep_a", status: .succeeded, limit: 100)
        #expect(done.count == 2 && done.allSatisfy { $0.attempts.count == 2 && $0.attempts[1].statusCode == 200 })
        #expect(try await store.webhookEndpoint(id: "ep_a")?.failingSince == nil)
        #expect(try await store.pendingWebhookDeliveryCounts().isEmpty)

        // An endpoint that only fails is disabled once it has failed for `disableAfter`.
        try await Self.round(store, 3, bikes: ["s1": 8, "s2": 0, "s3": 5], at: Self.now + 31_000)
        try await first.detect(now: Self.now + 32_000)
        let failing = service(ScriptedSender([503]), disableAfter: 5_000)
        clock.set(Self.now + 33_000)
        #expect(try await failing.dispatch(now: Self.now + 33_000) == 1)
        #expect(try await store.webhookEndpoint(id: "ep_a")?.failingSince == Self.now + 33_000)
        #expect(try await store.webhookEndpoint(id: "ep_a")?.enabled == true)
        clock.set(Self.now + 40_000)
        #expect(try await failing.dispatch(now: Self.now + 40_000) == 1)
        let disabled = try #require(try await store.webhookEndpoint(id: "ep_a"))
        #expect(!disabled.enabled && disabled.disabledReason?.contains("HTTP 503") == true)
        // A disabled endpoint's deliveries wait.
        clock.set(Self.now + 90_000)
        #expect(try await failing.dispatch(now: Self.now + 90_000) == 0)
        #expect(try await store.pendingWebhookDeliveryCounts() == ["ep_a": 1])

        // Pruning keeps pending deliveries; deleting the endpoint removes everything.
        #expect(try await store.pruneWebhookDeliveries(before: Self.now + 100_000) == 2)
        #expect(try await store.webhookDeliveries(endpointID: "ep_a", status: nil, limit: 100).count == 1)
        #expect(try await store.deleteWebhookEndpoint(id: "ep_a"))
        #expect(try await !store.deleteWebhookEndpoint(id: "ep_a"))
        #expect(try await store.webhookConditions(endpointID: "ep_a").isEmpty)
        #expect(try await store.webhookDelivery(id: done[0].id) == nil)
    }
}
