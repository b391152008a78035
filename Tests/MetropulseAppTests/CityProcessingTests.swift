import Foundation
import Hummingbird
import Logging
import MetropulseApp
import MetropulseCore
import MetropulseSQLite
import Synchronization
import Testing

@Suite("City Live processing reads only the store")
struct CityProcessingTests {
    @Test("readings fetched from a counting feed server; process_city then makes no request, and uses the derived AQI")
    func noRequests() async throws {
        let requests = Atomic<Int>(0)
        let router = Router()
        router.get("v1/air-quality") { _, _ -> Response in
            requests.add(1, ordering: .relaxed)
            let body =
                #"{"latitude": 48.85, "longitude": 2.35, "current_units": {"time": "iso8601", "interval": "seconds", "pm2_5": "μg/m³", "pm10": "μg/m³"}, "current": {"time": "2026-12-07T08:00", "interval": 900, "pm2_5": 40.0, "pm10": 30.0}}"#
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let database = try temporaryFolder() + "/m.sqlite"
        let source = SourceDefinition(
            id: "air", kind: .city,
            urls: [publisher.url("v1/air-quality?latitude=48.85&longitude=2.35&current=pm2_5,pm10")],
            intervalMillis: 1_000, timeoutMillis: 5_000, maxAttempts: 2, tags: ["city": "test", "zone": "centre"],
            limits: .local)
        var settings = configuration(database: database, sources: [source])
        settings.jobs.enabled = false
        let app = try await RunningApp.start(settings)
        try await eventually("the readings and their index stored") {
            let (_, zones) = try await getJSON("\(app.base)/api/cities/test/zones")
            let metrics = ((zones["zones"] as? [[String: Any]])?.first?["metrics"] as? [[String: Any]]) ?? []
            return metrics.contains { $0["metric"] as? String == "us_aqi" }
        }
        try await app.stop()
        #expect(requests.load(ordering: .relaxed) > 0)

        let store = try SQLiteBackend(path: database)
        defer { try? store.close() }
        _ = try await RefreshZoneHoursJob().run(
            JobContext(
                jobID: "refresh_zone_hours", now: WallClock.system.nowMillis, watermark: nil, store: store,
                queue: store,
                logger: quietLogger))
        let before = requests.load(ordering: .relaxed)
        let catalog = SourceCatalog([source])
        let result = try await ProcessCityJob(catalog: catalog).run(
            JobContext(
                jobID: "process_city", now: WallClock.system.nowMillis, watermark: nil, store: store, queue: store,
                logger: quietLogger))
        try await Task.sleep(for: .milliseconds(200))
        #expect(requests.load(ordering: .relaxed) == before, "processing made no HTTP request")
        #expect(result.detail?.hasPrefix("1 zone of 1 city processed") == true)
        let snapshot = try #require(try await store.zoneSnapshots(city: "test").first)
        // PM2.5 40 µg/m³ → US AQI 112 (unhealthy for sensitive groups), derived at ingest.
        #expect(snapshot.featuresByName["us_aqi"]?.value == 112)
        #expect((snapshot.risk.components.first { $0.name == "air" }?.points ?? 0) > 0)
    }
}
