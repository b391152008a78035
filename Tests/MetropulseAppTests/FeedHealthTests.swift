import Foundation
import Hummingbird
import MetropulseApp
import MetropulseCore
import NIOCore
import Synchronization
import Testing

@Suite("Feed health")
struct FeedHealthTests {
    @Test("a feed that keeps answering 200 with the same body ends stale; a moving one stays live")
    func frozenFeed() async throws {
        // The frozen feed's time is that of its first answer, so it turns stale 4 s after the first
        // fetch however long the app took to start.
        let frozenAt = Mutex<Int?>(nil)
        let counter = Mutex(0)
        let router = Router()
        for name in ["frozen", "moving"] { TinyGBFS.serveDiscovery(on: router, prefix: name) }
        router.get("frozen/station_status.json") { _, _ in
            let at = frozenAt.withLock { at in
                if at == nil { at = Int(Date().timeIntervalSince1970) }
                return at!
            }
            return TinyGBFS.status(lastUpdated: at, bikes: 3)
        }
        router.get("moving/station_status.json") { _, _ -> String in
            let n = counter.withLock { n in
                n += 1
                return n
            }
            return TinyGBFS.status(lastUpdated: Int(Date().timeIntervalSince1970), bikes: n % 10)
        }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }

        let sources = ["frozen", "moving"].map { name in
            SourceDefinition(
                id: name, kind: .gbfs, urls: [publisher.url("\(name)/gbfs.json")], intervalMillis: 1_000,
                timeoutMillis: 2_000, staleAfterMillis: 4_000, limits: .local)
        }
        let app = try await RunningApp.start(
            configuration(database: try temporaryFolder() + "/m.sqlite", sources: sources))

        try await eventually("the frozen feed is stale", timeout: .seconds(40)) {
            try await getJSON("\(app.base)/api/sources/frozen/health").json["state"] as? String == "stale"
        }
        let (status, frozen) = try await getJSON("\(app.base)/api/sources/frozen/health")
        #expect(status == 200)
        // Frozen twice over: the same hash and a feed timestamp that does not move; either says so.
        let reason = frozen["reason"] as? String ?? ""
        #expect(reason.contains("content has not changed") || reason.contains("timestamp"), "\(frozen)")
        let hour = try #require(frozen["last_hour"] as? [String: Any])
        #expect((hour["runs"] as? Int ?? 0) >= 2)
        #expect(hour["uptime"] as? Double == 1.0)
        #expect(frozen["stale_after_seconds"] as? Double == 4)
        #expect(frozen["content_since"] is String && frozen["latency_ms"] is [String: Any])

        let (_, moving) = try await getJSON("\(app.base)/api/sources/moving/health")
        #expect(moving["state"] as? String == "live", "\(moving)")
        let (missing, error) = try await getJSON("\(app.base)/api/sources/nope/health")
        #expect(missing == 404, "\(error)")
        try await app.stop()
    }
}
