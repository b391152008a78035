import Foundation
import MetropulseApp
import MetropulseCore
import MetropulseSQLite
import Testing

@Suite("End to end: the embedded pipeline")
struct EndToEndTests {
    @Test("serve the demo city, stop, start again on the same file: nothing lost, nothing twice")
    func demoCityRestart() async throws {
        let folder = try temporaryFolder()
        let database = folder + "/metropulse.sqlite"
        var sources = MetropulseConfiguration.demoSources
        sources[0].intervalMillis = 2_000
        let app = try await RunningApp.start(configuration(database: database, sources: sources))

        var stations: [[String: Any]] = []
        try await eventually("demo stations served") {
            let (status, json) = try await getJSON("\(app.base)/api/stations?source=demo-bikes")
            stations = json["stations"] as? [[String: Any]] ?? []
            return status == 200 && stations.count == 300
        }
        let first = try #require(stations.first)
        #expect(first["source"] as? String == "demo-bikes")
        #expect(first["name"] is String)
        #expect(first["age_seconds"] is Double)
        #expect(["in_service", "closed", "out_of_service"].contains(first["status"] as? String))

        let id = try #require(first["id"] as? String)
        let (detailStatus, detail) = try await getJSON("\(app.base)/api/stations/demo-bikes/\(id)")
        #expect(detailStatus == 200)
        let run = try #require(detail["run"] as? [String: Any])
        #expect(run["http_status"] as? Int == 200)
        #expect((run["job_id"] as? String)?.hasPrefix("demo-bikes@") == true)

        // Sources, queue, workers and runs describe the living system.
        let (_, sourcesJSON) = try await getJSON("\(app.base)/api/sources")
        let source = try #require((sourcesJSON["sources"] as? [[String: Any]])?.first)
        // URLs as they are: no escaped slashes in any response.
        let raw = try await getText("\(app.base)/api/sources")
        #expect(raw.contains("demo:gbfs/gbfs.json") && !raw.contains("\\/"), "\(raw.prefix(300))")
        #expect(source["freshness"] as? String == "fresh")
        #expect(source["next_run_at"] is String)
        #expect(["succeeded", "unchanged"].contains(source["last_run_status"] as? String))
        let (_, workers) = try await getJSON("\(app.base)/api/system/workers")
        #expect((workers["workers"] as? [[String: Any]])?.first?["health"] as? String == "healthy")
        // The live metrics stream: the snapshot, then the next heartbeat through the in-process bus.
        let beats = try await readEvents("\(app.base)/api/system/workers/stream") { $0.count >= 2 }
        #expect(beats.count >= 2)
        #expect(beats.last?["status"] as? String == "running")
        let (_, queue) = try await getJSON("\(app.base)/api/system/queue")
        #expect((queue["succeeded"] as? Int ?? 0) >= 1)

        // Let a few slots run so there is history, then stop gracefully.
        // Runs inside the feed's 10 s ttl make no request and are `unchanged`; both are successes.
        try await eventually("three successful runs") {
            let (_, runs) = try await getJSON("\(app.base)/api/system/task-runs?source=demo-bikes")
            return (runs["runs"] as? [[String: Any]] ?? []).count { $0["status"] as? String != "failed" } >= 3
        }
        try await app.stop()

        let reopened = try SQLiteBackend(path: database)
        let rawBefore = try await reopened.rawStationObservationCount(sourceID: "demo-bikes")
        let runsBefore = try await reopened.taskRuns(TaskRunQuery(status: .succeeded, limit: 10_000))
        try reopened.close()
        #expect(rawBefore >= 300)

        let again = try await RunningApp.start(configuration(database: database, sources: sources))
        // Served from the file before any new fetch.
        let (_, served) = try await getJSON("\(again.base)/api/stations?source=demo-bikes")
        #expect(served["count"] as? Int == 300)
        try await eventually("a new run after the restart") {
            let runs = try await again.runtime.backend.store.taskRuns(TaskRunQuery(status: .succeeded, limit: 10_000))
            return runs.count > runsBefore.count
        }
        let (_, history) = try await getJSON("\(again.base)/api/stations/demo-bikes/\(id)/history")
        #expect((history["count"] as? Int ?? 0) >= 1)
        let runsAfter = try await again.runtime.backend.store.taskRuns(TaskRunQuery(status: .succeeded, limit: 10_000))
        #expect(Set(runsAfter.map(\.jobID)).count == runsAfter.count, "a slot ran twice")
        #expect(Set(runsBefore.map(\.id)).isSubset(of: Set(runsAfter.map(\.id))))
        #expect(try await again.runtime.backend.store.rawStationObservationCount(sourceID: "demo-bikes") >= rawBefore)
        try await again.stop()
    }

    @Test("bad requests get a 4xx JSON error naming the parameter")
    func badRequests() async throws {
        let folder = try temporaryFolder()
        let app = try await RunningApp.start(configuration(database: folder + "/m.sqlite"))
        let cases: [(String, Int, String)] = [
            ("/api/stations?near=abc", 400, "near"),
            ("/api/stations?near=48.8,2.3&radius_m=-5", 400, "radius_m"),
            ("/api/stations?radius_m=100", 400, "radius_m"),
            ("/api/stations?limit=zero", 400, "limit"),
            ("/api/stations?source=nowhere", 404, "nowhere"),
            ("/api/stations/demo-bikes/no-such-station", 404, "no-such-station"),
            ("/api/stations/demo-bikes/1/history?since=yesterday", 400, "since"),
            ("/api/system/task-runs?status=exploded", 400, "status"),
            ("/api/system/tasks?state=sleeping", 400, "state"),
            ("/api/sources/nowhere", 404, "nowhere"),
        ]
        for (path, expected, named) in cases {
            let (status, json) = try await getJSON(app.base + path)
            #expect(status == expected, "\(path)")
            let message = (json["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(message.contains(named), "\(path): \(message)")
        }
        let (noKey, _) = try await post("\(app.base)/api/sources/demo-bikes/run")
        #expect(noKey == 401)
        // Every admin route sits behind the same guard.
        for path in ["/api/system/commands", "/api/system/queue/requeue-dead"] {
            #expect(try await post(app.base + path).status == 401, "\(path)")
            #expect(try await post(app.base + path, headers: ["X-API-Key": "wrong"]).status == 401, "\(path)")
        }
        let (accepted, job) = try await post("\(app.base)/api/sources/demo-bikes/run", headers: ["X-API-Key": "secret"])
        #expect(accepted == 202)
        #expect((job["job_id"] as? String)?.hasPrefix("demo-bikes@manual-") == true)
        let (badKind, error) = try await post(
            "\(app.base)/api/system/commands", body: #"{"kind": "EXPLODE"}"#, headers: ["X-API-Key": "secret"])
        #expect(badKind == 400)
        #expect(((error["error"] as? [String: Any])?["message"] as? String ?? "").contains("kind"))
        let (health, _) = try await getJSON("\(app.base)/healthz")
        #expect(health == 200)
        let (ready, _) = try await getJSON("\(app.base)/readyz")
        #expect(ready == 200)
        try await app.stop()
    }

    @Test("PAUSE_FETCH stops the workers taking tasks; RESUME_FETCH restarts them")
    func pauseResume() async throws {
        let folder = try temporaryFolder()
        var sources = MetropulseConfiguration.demoSources
        sources[0].intervalMillis = 60_000
        let app = try await RunningApp.start(configuration(database: folder + "/m.sqlite", sources: sources))
        try await eventually("first run") {
            try await !app.runtime.backend.store.taskRuns(TaskRunQuery()).isEmpty
        }
        let (status, _) = try await post(
            "\(app.base)/api/system/commands", body: #"{"kind": "PAUSE_FETCH"}"#, headers: ["X-API-Key": "secret"])
        #expect(status == 202)
        try await eventually("workers paused") {
            let (_, json) = try await getJSON("\(app.base)/api/system/workers")
            return (json["workers"] as? [[String: Any]])?.first?["status"] as? String == "paused"
        }
        let (_, job) = try await post("\(app.base)/api/sources/demo-bikes/run", headers: ["X-API-Key": "secret"])
        let jobID = try #require(job["job_id"] as? String)
        // Two heartbeats later the paused pool has gone round its loop and still not taken it.
        let enqueuedAt = app.runtime.clock.nowMillis
        try await eventually("two heartbeats while paused") {
            let beat = try await app.runtime.backend.store.heartbeats().first
            return beat.map { $0.lastSeenAt > enqueuedAt + 1_000 && $0.status == .paused } ?? false
        }
        #expect(try await app.runtime.backend.queue.tasks(state: .queued, limit: 10).map(\.jobID).contains(jobID))
        #expect(try await app.runtime.backend.queue.tasks(state: .running, limit: 10).isEmpty)
        _ = try await post(
            "\(app.base)/api/system/commands", body: #"{"kind": "RESUME_FETCH"}"#, headers: ["X-API-Key": "secret"])
        try await eventually("the queued run is taken after resume") {
            try await app.runtime.backend.store.taskRuns(TaskRunQuery()).contains { $0.jobID == jobID }
        }
        try await app.stop()
    }
}
