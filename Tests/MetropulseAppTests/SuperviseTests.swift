import Foundation
import MetropulseApp
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `metropulse supervise` on PostgreSQL: children started, scaled through the API, a killed
/// worker restarted, `down` stopping everything.
@Suite("Supervise: the roles as child processes", .enabled(if: testPostgresURL != nil))
struct SuperviseTests {
    @Test("start with 2 workers, scale to 4 through the API, kill -9 one, see it restarted, down")
    func superviseScaleRestartDown() async throws {
        let databaseURL = try await PostgresEndToEndTests.freshDatabase()
        let state = try temporaryFolder()
        let environment = [
            "METROPULSE_DATABASE_URL": databaseURL, "METROPULSE_WORKERS_HEARTBEAT": "1s", "METROPULSE_API_PORT": "0",
            "METROPULSE_DEMO_ENABLED": "false", "METROPULSE_CONFIG": try MultiProcessTests.emptySources(),
        ]
        let supervisor = try ChildProcess(
            arguments: ["supervise", "--workers", "2", "--concurrency", "2", "--state-dir", state],
            environment: environment)
        defer { if supervisor.process.isRunning { supervisor.process.terminate() } }
        // The API child's port, from its log.
        var port: Int?
        try await eventually("the API child listening", timeout: .seconds(60)) {
            let log = String(
                decoding: FileManager.default.contents(atPath: state + "/api.log") ?? Data(), as: UTF8.self)
            guard let range = log.range(of: "API listening on http://127.0.0.1:") else { return false }
            port = Int(log[range.upperBound...].prefix { $0.isNumber })
            return port != nil
        }
        let base = "http://127.0.0.1:\(try #require(port))"
        func healthyWorkers() async throws -> Set<Int> {
            let (_, json) = try await getJSON("\(base)/api/system/workers")
            return Set(
                (json["workers"] as? [[String: Any]] ?? []).filter { $0["health"] as? String == "healthy" }
                    .compactMap { $0["pid"] as? Int })
        }
        try await eventually("two healthy workers", timeout: .seconds(60)) { try await healthyWorkers().count == 2 }

        let (status, body) = try await post(
            "\(base)/api/system/workers/scale", body: #"{"count": 4}"#,
            headers: ["X-API-Key": testAdminKey, "Content-Type": "application/json"])
        #expect(status == 202, "\(body)")
        #expect(body["unit"] as? String == "processes")
        #expect(body["processes_before"] as? Int == 2 && body["processes"] as? Int == 4)
        let command = try #require(body["command"] as? [String: Any])
        #expect(command["kind"] as? String == "SCALE" && command["state"] as? String == "done")
        #expect((command["acks"] as? [[String: Any]])?.first?["result"] as? String == "worker processes 2 → 4")
        try await eventually("four healthy workers", timeout: .seconds(60)) { try await healthyWorkers().count == 4 }

        // kill -9 one worker child: the supervisor starts it again.
        let client = try SupervisorClient(stateDirectory: state)
        let workers = try await client.status().children.filter { $0.role == "worker" }
        #expect(workers.count == 4 && workers.allSatisfy(\.running))
        let victim = try #require(workers.first { $0.name == "worker-2" })
        let victimPID = try #require(victim.pid)
        kill(victimPID, SIGKILL)
        try await eventually("worker-2 restarted", timeout: .seconds(30)) {
            let child = try await client.status().children.first { $0.name == "worker-2" }
            return child?.running == true && child?.restarts == 1 && child?.pid != victimPID
        }
        try await eventually("the fleet at four healthy workers, the killed one not among them", timeout: .seconds(60))
        {
            let healthy = try await healthyWorkers()
            return healthy.count == 4 && !healthy.contains(Int(victimPID))
        }

        // A bad count is refused by the supervisor, named.
        let (refused, error) = try await post(
            "\(base)/api/system/workers/scale", body: #"{"count": 1000}"#,
            headers: ["X-API-Key": testAdminKey, "Content-Type": "application/json"])
        #expect(refused == 400)
        #expect(((error["error"] as? [String: Any])?["message"] as? String ?? "").hasPrefix("count"))

        // down: every child stops, the supervisor exits 0.
        let children = try await client.status().children.compactMap(\.pid)
        let down = try ChildProcess(arguments: ["supervise", "down", "--state-dir", state])
        #expect(await down.exitStatus(within: .seconds(120)) == 0)
        #expect(await supervisor.exitStatus(within: .seconds(10)) == 0)
        for pid in children { #expect(kill(pid, 0) != 0, "child \(pid) still running") }
        #expect(!FileManager.default.fileExists(atPath: state + "/supervise.json"))
    }
}
