import Foundation
import Logging
import MetropulseCore
import MetropulseSQLite
import Synchronization
import Testing

/// The operator commands that read the store: `metropulse logs` and `metropulse db summary`.
@Suite("Operator commands: logs and db summary")
struct OperatorCommandsTests {
    static func run(_ arguments: [String]) async throws -> (status: Int32?, output: String) {
        let child = try ChildProcess(arguments: arguments)
        let status = await child.exitStatus(within: .seconds(60))
        return (status, child.output.withLock { $0 })
    }

    @Test("logs: filtered, oldest first, as text or JSON; a bad level is refused; db summary")
    func logsAndSummary() async throws {
        let path = try temporaryFolder() + "/m.sqlite"
        let store = try SQLiteBackend(path: path)
        let now = WallClock.system.nowMillis
        try await store.appendLogs([
            LogRecord(
                at: now - 3_000, service: "worker", instance: "h-1", level: .info, logger: "metropulse",
                message: "worker pool started"),
            LogRecord(
                at: now - 2_000, service: "worker", instance: "h-1", level: .warning, logger: "metropulse",
                message: "fetch failed", metadata: ["source": "velib"]),
            LogRecord(
                at: now - 1_000, service: "api", instance: "h-2", level: .error, logger: "metropulse",
                message: "commit failed"),
        ])
        try store.close()

        let all = try await Self.run(["logs", "--database-path", path])
        #expect(all.status == 0)
        let lines = all.output.split(separator: "\n").filter { $0.contains(" metropulse: ") }
        #expect(
            lines.map { $0.components(separatedBy: ": ").last ?? "" } == [
                "worker pool started", "fetch failed source=velib", "commit failed",
            ])
        let warnings = try await Self.run([
            "logs", "--database-path", path, "--level", "warning", "--service", "worker",
        ])
        #expect(warnings.output.contains("fetch failed") && !warnings.output.contains("commit failed"))
        let json = try await Self.run(["logs", "--database-path", path, "--json", "-q", "VELIB"])
        let objects = json.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == 1 && objects.first?["message"] as? String == "fetch failed")
        #expect((objects.first?["metadata"] as? [String: String]) == ["source": "velib"])
        let refused = try await Self.run(["logs", "--database-path", path, "--level", "loud"])
        #expect(refused.status != 0 && refused.output.contains("--level must be one of"))

        let summary = try await Self.run(["db", "summary", "--database-path", path])
        #expect(summary.status == 0)
        #expect(summary.output.contains("sqlite: ") && summary.output.contains("system_logs "))
        #expect(summary.output.contains("tasks: queued 0"))
    }
}

/// `metropulse jobs` and `metropulse tasks replay` against a real SQLite file.
@Suite("Operator commands: jobs and task replay")
struct JobAndReplayCommandsTests {
    @Test("jobs: run one here, pause, list; tasks replay by job id and by source, dry or not")
    func jobsAndReplay() async throws {
        let path = try temporaryFolder() + "/m.sqlite"
        let store = try SQLiteBackend(path: path)
        let now = WallClock.system.nowMillis
        for (index, status) in [TaskRunStatus.failed, .succeeded].enumerated() {
            let id = "demo-bikes@\(now - 60_000 * Int64(2 - index))"
            try await store.write([
                RunResult(
                    run: TaskRun(
                        id: "\(id)#1", jobID: id, taskID: nil, sourceID: "demo-bikes", attempt: 1, workerID: "w",
                        status: status, startedAt: now - 1_000, finishedAt: now - 900, entityCount: 0),
                    observations: ObservationBatch(), outcome: nil)
            ])
        }
        try store.close()
        let run = OperatorCommandsTests.run

        let here = try await run(["jobs", "run", "check_store_health", "--here", "--database-path", path])
        #expect(here.status == 0 && here.output.contains("succeeded manual"))
        #expect(try await run(["jobs", "pause", "refresh_hourly", "--database-path", path]).status == 0)
        let list = try await run(["jobs", "list", "--database-path", path])
        #expect(list.output.contains("refresh_hourly (after check_store_health)  PAUSED"))
        // Each job with its last run: the manual check above.
        let check = list.output.components(separatedBy: "check_store_health\n").dropFirst().first ?? ""
        #expect(check.hasPrefix("  ") && check.contains("succeeded manual") && check.contains("sources' states read"))
        #expect(list.output.contains("compute_station_ranking (after refresh_hourly)\n  never run"))
        // A job with dependencies runs here too (its dependencies are not run).
        let hourly = try await run(["jobs", "run", "refresh_hourly", "--here", "--database-path", path])
        #expect(hourly.status == 0 && hourly.output.contains("succeeded manual"))
        let unknown = try await run(["jobs", "runs", "nope", "--database-path", path])
        #expect(unknown.status != 0 && unknown.output.contains("unknown job 'nope'"))

        let failedJob = "demo-bikes@\(now - 120_000)"
        let dry = try await run([
            "tasks", "replay", "--source", "demo-bikes", "--since", "1h", "--status", "failed", "--dry-run",
            "--database-path", path,
        ])
        #expect(dry.status == 0 && dry.output.contains("would queue \(failedJob)~replay-"))
        #expect(dry.output.contains("1 task would be queued"))
        let replayed = try await run(["tasks", "replay", failedJob, "nope@1", "--database-path", path])
        #expect(replayed.output.contains("queued \(failedJob)~replay-"))
        #expect(replayed.output.contains("no run of nope@1 is on record"))
        let both = try await run(["tasks", "replay", failedJob, "--source", "demo-bikes", "--database-path", path])
        #expect(both.status != 0)

        let reopened = try SQLiteBackend(path: path)
        defer { try? reopened.close() }
        let queued = try await reopened.tasks(state: nil, limit: 100).map(\.jobID)
        #expect(queued.count == 1 && queued[0].hasPrefix("\(failedJob)~replay-"))
        #expect(try await reopened.jobStates().first { $0.jobID == "refresh_hourly" }?.paused == true)
    }

    @Test("verify: agreeing tiers exit 0; a latest value the raw tier lacks is printed and exits 1")
    func verify() async throws {
        let path = try temporaryFolder() + "/m.sqlite"
        let store = try SQLiteBackend(path: path)
        let at = WallClock.system.nowMillis - 60_000
        func result(_ id: String, bikes: Int, finishedAt: Int64) -> RunResult {
            RunResult(
                run: TaskRun(
                    id: id, jobID: id, taskID: nil, sourceID: "velib", attempt: 1, workerID: "w", status: .succeeded,
                    startedAt: finishedAt - 100, finishedAt: finishedAt, entityCount: 1),
                observations: ObservationBatch(stations: [
                    StationObservation(
                        sourceID: "velib", stationID: "42", bikesAvailable: bikes, docksAvailable: 3,
                        isInstalled: true, isRenting: true, isReturning: true, observedAt: at)
                ]), outcome: nil)
        }
        try await store.write([result("r1", bikes: 5, finishedAt: at + 100)])
        let clean = try await OperatorCommandsTests.run(["verify", "--database-path", path])
        #expect(clean.status == 0)
        #expect(clean.output.contains("velib: 1 latest stations against 1 rebuilt from the raw history"))
        #expect(clean.output.contains("verified: the latest tier, the raw history and the run records agree"))
        try await store.write([result("r2", bikes: 6, finishedAt: at + 200)])
        try store.close()
        let broken = try await OperatorCommandsTests.run(["verify", "--database-path", path])
        #expect(broken.status == 1)
        #expect(broken.output.contains("velib: station 42: latest bikes 6 ≠ raw 5"))
    }
}

@Suite("Backfill from the demo city")
struct BackfillCommandTests {
    @Test(
        "the demo city's past hour through the fetch path; a source with stations is left out; a real source has no past"
    )
    func backfill() async throws {
        let folder = try temporaryFolder()
        let path = folder + "/m.sqlite"
        let first = try await OperatorCommandsTests.run([
            "backfill", "--since", "1h", "--step", "10m", "--database-path", path,
        ])
        #expect(first.status == 0)
        #expect(first.output.contains("demo-bikes: 7 fetches"))
        #expect(first.output.contains("backfilled "))
        let store = try SQLiteBackend(path: path)
        let now = WallClock.system.nowMillis
        let history = try await store.stationObservations(sourceID: "demo-bikes", from: now - 3_700_000, until: now)
        let times = Set(history.map(\.observedAt))
        #expect(times.count >= 6, "observations from several moments of the past hour")
        #expect((times.min() ?? now) < now - 3_000_000)
        let runs = try await store.taskRuns(TaskRunQuery(sourceID: "demo-bikes", limit: 100))
        #expect(
            runs.count == 7 && runs.allSatisfy { $0.id.hasPrefix("backfill:demo-bikes@") && $0.status == .succeeded })
        let readings = try await store.measurementHistory(
            sourceIDs: ["demo-weather-centre"], zone: "centre", metric: "temperature_2m", since: nil, limit: 100)
        #expect(readings.count >= 6)
        try store.close()

        let again = try await OperatorCommandsTests.run([
            "backfill", "--since", "1h", "--step", "10m", "--database-path", path, "--source", "demo-bikes",
        ])
        #expect(again.output.contains("left out demo-bikes: it already has stations"))

        try """
        sources:
          - id: real-bikes
            kind: gbfs
            url: https://example.org/gbfs.json
        """.write(toFile: folder + "/real.yaml", atomically: true, encoding: .utf8)
        let real = try await OperatorCommandsTests.run([
            "backfill", "--config", folder + "/real.yaml", "--database-path", folder + "/r.sqlite",
        ])
        #expect(real.status != 0)
        #expect(real.output.contains("a real source serves only its present, so it has no past to ask for"))
    }

    @Test("webhooks: add (secret shown once), a private URL refused, list, test, deliveries, disable, remove")
    func webhooks() async throws {
        let path = try temporaryFolder() + "/w.sqlite"
        let run = OperatorCommandsTests.run
        let refused = try await run([
            "webhooks", "add", "http://10.1.2.3/h", "--events", "station.empty",
            "--database-path", path,
        ])
        #expect(refused.status != 0 && refused.output.contains("10.1.2.3 is a loopback, private"))
        let unknown = try await run([
            "webhooks", "add", "https://example.org/h", "--events", "station.gone",
            "--database-path", path,
        ])
        #expect(unknown.status != 0 && unknown.output.contains("unknown event type 'station.gone'"))
        let added = try await run([
            "webhooks", "add", "https://example.org/h", "--events", "station.empty,alert.opened", "--zones", "sud",
            "--description", "ops", "--database-path", path,
        ])
        #expect(added.status == 0 && added.output.contains("signing secret (shown only now): whsec_"))
        let id = try #require(
            added.output.split(separator: "\n").first { $0.hasPrefix("added ") }?.split(separator: " ")[1])
        let list = try await run(["webhooks", "list", "--database-path", path])
        #expect(list.output.contains("\(id)  https://example.org/h  enabled  0 waiting"))
        #expect(!list.output.contains(added.output.components(separatedBy: "now): ").last ?? "-"))
        let updated = try await run([
            "webhooks", "update", String(id), "--events", "station.full", "--full-at-most", "2", "--rotate-secret",
            "--database-path", path,
        ])
        #expect(updated.status == 0 && updated.output.contains("\(id) → https://example.org/h: station.full"))
        #expect(updated.output.contains("signing secret (shown only now): whsec_"))
        // A new secret, and the fields given stored (the others kept).
        func secret(_ output: String) -> String {
            output.components(separatedBy: "now): ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        #expect(secret(updated.output) != secret(added.output))
        let stored = try #require(try await SQLiteBackend(path: path).webhookEndpoint(id: String(id)))
        #expect(stored.events == ["station.full"] && stored.fullAtMost == 2 && stored.zones == ["sud"])
        #expect(stored.secret == secret(updated.output))
        let badUpdate = try await run([
            "webhooks", "update", String(id), "--url", "http://192.168.0.9/", "--database-path", path,
        ])
        #expect(badUpdate.status != 0 && badUpdate.output.contains("192.168.0.9"))
        let test = try await run(["webhooks", "test", String(id), "--database-path", path])
        #expect(test.status == 0 && test.output.contains("(webhook.test)"))
        let deliveries = try await run(["webhooks", "deliveries", String(id), "--database-path", path])
        #expect(deliveries.output.contains("webhook.test  pending  0 attempts"))
        #expect(try await run(["webhooks", "disable", String(id), "--database-path", path]).status == 0)
        #expect(try await run(["webhooks", "list", "--database-path", path]).output.contains("disabled by hand"))
        #expect(try await run(["webhooks", "remove", String(id), "--database-path", path]).status == 0)
        let gone = try await run(["webhooks", "remove", String(id), "--database-path", path])
        #expect(gone.status != 0 && gone.output.contains("no webhook endpoint"))
    }
}
