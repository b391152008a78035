import Foundation
import Hummingbird
import MetropulseApp
import MetropulseConnectors
import MetropulseCore
import MetropulseDemo
import Synchronization
import Testing

@Suite("Transit API on the demo network")
struct TransitAPITests {
    @Test("the demo metro and bus network, fetched as GTFS-Realtime, served as lines, snapshots, traffic and vehicles")
    func demoNetwork() async throws {
        let sources = MetropulseConfiguration.demoSources.filter { $0.kind == .gtfsRT }
        #expect(sources.count == 3)
        let app = try await RunningApp.start(
            configuration(database: try temporaryFolder() + "/m.sqlite", sources: sources))

        var lines: [[String: Any]] = []
        try await eventually("four lines with departures and vehicles") {
            lines = try await getJSON("\(app.base)/api/lines").json["lines"] as? [[String: Any]] ?? []
            return lines.count == 4 && lines.allSatisfy { ($0["departures"] as? Int ?? 0) > 0 }
                && lines.contains { ($0["vehicles"] as? Int ?? 0) > 0 }
        }
        #expect(lines.map { $0["line"] as? String } == ["B38", "B91", "M1", "M2"])
        #expect(lines.allSatisfy { $0["network"] as? String == "demo" })

        let (status, snapshot) = try await getJSON("\(app.base)/api/snapshots/demo/M1?per_stop=2")
        #expect(status == 200)
        let stops = try #require(snapshot["stops"] as? [[String: Any]])
        #expect(stops.count == 12)
        let first = try #require((stops.first?["departures"] as? [[String: Any]])?.first)
        #expect(first["line"] as? String == "M1" && first["expected_at"] is String && first["delay_seconds"] is Int)
        #expect((snapshot["data_age_seconds"] as? Double ?? 99) < 60)
        #expect(stops.allSatisfy { ($0["departures"] as? [Any])?.count ?? 0 <= 2 })

        try await eventually("alerts stored") {
            let (_, traffic) = try await getJSON("\(app.base)/api/traffic/status")
            return (traffic["other"] as? [[String: Any]])?.contains { $0["id"] as? String == "welcome" } == true
        }
        let (_, atStop) = try await getJSON("\(app.base)/api/stops/S05/departures?limit=3")
        #expect((atStop["count"] as? Int ?? 0) > 0 && (atStop["count"] as? Int ?? 0) <= 3)
        let (_, vehicles) = try await getJSON("\(app.base)/api/vehicles?line=M1")
        let list = try #require(vehicles["vehicles"] as? [[String: Any]])
        #expect(!list.isEmpty && list.allSatisfy { $0["line"] as? String == "M1" && $0["lat"] is Double })

        let (missing, error) = try await getJSON("\(app.base)/api/snapshots/nowhere/M1")
        #expect(missing == 404)
        #expect(((error["error"] as? [String: Any])?["message"] as? String)?.contains("unknown network") == true)
        let (bad, badError) = try await getJSON("\(app.base)/api/snapshots/demo/M1?per_stop=0")
        #expect(bad == 400)
        #expect(((badError["error"] as? [String: Any])?["message"] as? String)?.contains("per_stop") == true)

        // Names from the demo network's static GTFS (`static_gtfs`), loaded beside the feeds.
        try await eventually("lines named from the static GTFS") {
            let named = try await getJSON("\(app.base)/api/lines").json["lines"] as? [[String: Any]] ?? []
            return named.first { $0["line"] as? String == "M1" }?["name"] as? String == "1"
        }
        let named = try await getJSON("\(app.base)/api/lines").json["lines"] as? [[String: Any]] ?? []
        let m1 = try #require(named.first { $0["line"] as? String == "M1" })
        #expect(m1["long_name"] as? String == "Métro 1" && m1["color"] as? String == "FFCD00")
        let (_, namedSnapshot) = try await getJSON("\(app.base)/api/snapshots/demo/M1?per_stop=1")
        #expect(namedSnapshot["name"] as? String == "1")
        let namedStops = try #require(namedSnapshot["stops"] as? [[String: Any]])
        #expect(namedStops.allSatisfy { $0["stop_name"] is String })
        let departure = try #require((namedStops.first?["departures"] as? [[String: Any]])?.first)
        #expect(departure["line_name"] as? String == "1" && departure["stop_name"] is String)
        let (_, namedStop) = try await getJSON("\(app.base)/api/stops/S05/departures?limit=1")
        #expect(namedStop["stop_name"] as? String == "Hôtel de Ville")
        let (_, namedVehicles) = try await getJSON("\(app.base)/api/vehicles?line=M1")
        #expect(
            (namedVehicles["vehicles"] as? [[String: Any]])?.allSatisfy { $0["line_name"] as? String == "1" } == true)
        let (_, sourceList) = try await getJSON("\(app.base)/api/sources")
        let trips = try #require(
            (sourceList["sources"] as? [[String: Any]])?.first { $0["id"] as? String == "demo-metro-trips" })
        let staticGTFS = try #require(trips["static_gtfs"] as? [String: Any])
        #expect(staticGTFS["status"] as? String == "loaded" && staticGTFS["stops"] as? Int == 40)
        #expect(staticGTFS["routes"] as? Int == 4)

        // Health of a GTFS-Realtime source: live, content moving.
        let (_, health) = try await getJSON("\(app.base)/api/sources/demo-metro-trips/health")
        #expect(["live", "degraded"].contains(health["state"] as? String), "\(health)")
        try await app.stop()
    }

    @Test("the same network as SIRI-Lite: stop monitoring and general messages through the siri-lite kind")
    func demoSIRI() async throws {
        let sources = MetropulseConfiguration.demoSources.filter { $0.kind == .siriLite }
        #expect(sources.count == 2)
        let app = try await RunningApp.start(
            configuration(database: try temporaryFolder() + "/m.sqlite", sources: sources))
        try await eventually("departures at S05 from SIRI-Lite") {
            let (_, json) = try await getJSON("\(app.base)/api/stops/S05/departures?network=demo-siri")
            return (json["count"] as? Int ?? 0) > 0
        }
        let (_, json) = try await getJSON("\(app.base)/api/stops/S05/departures?network=demo-siri")
        let first = try #require((json["departures"] as? [[String: Any]])?.first)
        #expect(first["source"] as? String == "demo-siri-stop" && first["line"] as? String == "M1")
        #expect(first["scheduled_at"] is String && first["expected_at"] is String)
        try await eventually("general messages stored") {
            let (_, traffic) = try await getJSON("\(app.base)/api/traffic/status?network=demo-siri")
            return (traffic["other"] as? [[String: Any]])?.contains { $0["id"] as? String == "welcome" } == true
        }
        let (_, lines) = try await getJSON("\(app.base)/api/lines")
        #expect((lines["lines"] as? [[String: Any]])?.allSatisfy { $0["network"] as? String == "demo-siri" } == true)
        try await app.stop()
    }

    @Test("a static GTFS that cannot be read is reported on the source, and the feed keeps running")
    func brokenStaticGTFS() async throws {
        let folder = try temporaryFolder()
        let broken = folder + "/broken.zip"
        try Data("not a zip".utf8).write(to: URL(fileURLWithPath: broken))
        var sources = MetropulseConfiguration.demoSources.filter { $0.id == "demo-metro-trips" }
        sources[0].staticGTFS = broken
        let app = try await RunningApp.start(configuration(database: folder + "/m.sqlite", sources: sources))
        try await eventually("the failure reported") {
            let (_, list) = try await getJSON("\(app.base)/api/sources")
            let source = (list["sources"] as? [[String: Any]])?.first
            return (source?["static_gtfs"] as? [String: Any])?["status"] as? String == "failed"
        }
        let (_, list) = try await getJSON("\(app.base)/api/sources")
        let staticGTFS = try #require(
            ((list["sources"] as? [[String: Any]])?.first)?["static_gtfs"] as? [String: Any])
        #expect((staticGTFS["last_error"] as? String)?.contains("not a zip archive") == true)
        try await eventually("departures still served, without names") {
            let lines = try await getJSON("\(app.base)/api/lines").json["lines"] as? [[String: Any]] ?? []
            return !lines.isEmpty && lines.allSatisfy { $0["name"] == nil }
        }
        try await app.stop()
    }

    @Test("sources naming the same static GTFS share one download; a file that breaks later keeps the old names")
    func sharedStaticGTFS() async throws {
        let requests = Mutex(0)
        let broken = Mutex(false)
        let zip = try GTFSStaticWriter.zip(DemoTransit().staticNames)
        let router = Router()
        router.get("static.zip") { _, _ -> Response in
            requests.withLock { $0 += 1 }
            let bytes = broken.withLock { $0 } ? Array("not a zip".utf8) : zip
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        let publisher = try await Publisher.start(router)
        defer { publisher.task.cancel() }
        let location = publisher.url("static.zip")
        let sources = ["trips", "vehicles", "alerts"].map {
            SourceDefinition(
                id: $0, kind: .gtfsRT, urls: ["http://127.0.0.1:9/\($0).pb"], staticGTFS: location, limits: .local)
        }
        let book = TransitNameBook()
        let now = Mutex<Int64>(1_000_000)
        let loader = StaticGTFSLoader(
            catalog: SourceCatalog(sources), book: book, http: FeedMannersTests.client(),
            clock: WallClock { now.withLock { $0 } },
            logger: quietLogger, refreshMillis: 86_400_000, retryMillis: 300_000)
        await loader.loadDue()
        #expect(requests.withLock { $0 } == 1)
        #expect(sources.allSatisfy { book.stopName(source: $0.id, stop: "S05") == "Hôtel de Ville" })
        await loader.loadDue()
        #expect(requests.withLock { $0 } == 1)  // not due again before a day

        broken.withLock { $0 = true }
        now.withLock { $0 += 86_400_000 }
        await loader.loadDue()
        #expect(requests.withLock { $0 } == 2)
        #expect(sources.allSatisfy { book.entry($0.id)?.lastError?.contains("not a zip") == true })
        #expect(book.stopName(source: "alerts", stop: "S05") == "Hôtel de Ville")
    }
}
