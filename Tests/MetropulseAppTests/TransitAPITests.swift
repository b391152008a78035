import Foundation
import MetropulseApp
import MetropulseCore
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
}
