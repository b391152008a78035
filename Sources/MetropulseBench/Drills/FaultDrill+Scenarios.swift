import AsyncHTTPClient
import Foundation
import MetropulseApp
import MetropulseCore
import MetropulseDemo
import NIOCore
import NIOHTTP1

extension FaultDrill {
    /// kill -9 a victim at a random moment of its life, start it again, `rounds` times; then let
    /// the leases of the last one pass and fresh runs land.
    func killDrill(_ cluster: DrillCluster, backend: StorageBackend, report: inout DrillReport) async throws {
        var random = SplitMix64(seed: options.seed)
        try await cluster.startAll()
        try await waitForRuns(3, since: 0, store: backend.store, "the first runs")
        var delays: [Double] = []
        for round in 1...max(1, options.rounds) {
            let victim = cluster.victims[Int(random.next() % UInt64(cluster.victims.count))]
            try await cluster.ready(victim)
            let delay = Double(random.next() % 2_500) / 1_000
            delays.append(delay)
            try await Task.sleep(for: .seconds(delay))
            await victim.kill9()
            try victim.start()
            if round % 10 == 0 || round == options.rounds { say("\(round) of \(options.rounds) kills") }
        }
        try await cluster.startAll()
        // The last victim's leases pass, its tasks are taken up again, and fresh runs land.
        let settled = WallClock.system.nowMillis + Int64(Self.leaseSeconds) * 1_000
        try await Task.sleep(for: .seconds(Self.leaseSeconds + 2))
        try await waitForRuns(sourceCount, since: settled, store: backend.store, "runs after the last kill")
        let names = Set(cluster.victims.map(\.name)).sorted().joined(separator: ", ")
        report.facts.append(
            "\(delays.count) kills (SIGKILL) of \(names), each 0–2.5 s after the process was up "
                + "(mean \(String(format: "%.2f", delays.reduce(0, +) / Double(max(1, delays.count)))) s)")
        let runs = try await backend.store.taskRuns(TaskRunQuery(limit: 1_000_000))
        let redone = Set(runs.filter { $0.attempt > 1 && $0.status.isSuccess }.map(\.jobID))
        report.facts.append(
            "\(runs.filter(\.status.isSuccess).count) runs that did not fail; \(redone.count) tasks a killed "
                + "process held were done again by a later attempt")
    }

    /// SIGTERM everything while tasks are in flight, `rounds` times: every process exits 0 and
    /// the tasks that were running are finished (none stays running).
    func terminateDrill(_ cluster: DrillCluster, backend: StorageBackend, report: inout DrillReport) async throws {
        var random = SplitMix64(seed: options.seed)
        var caught = 0
        for round in 1...max(1, options.rounds) {
            try await cluster.startAll()
            try await waitForRuns(sourceCount, since: WallClock.system.nowMillis, store: backend.store, "ingest")
            var running: [QueuedTask] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while running.isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(Int(random.next() % 200)))
                running = try await backend.queue.tasks(state: .running, limit: 10_000)
            }
            caught += running.count
            try await cluster.stopAll(report: &report)
            let left = try await backend.queue.tasks(state: .running, limit: 10_000)
            if !left.isEmpty {
                report.failures.append(
                    "round \(round): \(left.count) task(s) still running after every process stopped: "
                        + left.prefix(5).map(\.jobID).joined(separator: ", "))
            }
            for process in cluster.processes where process.output().contains("commit failed") {
                report.failures.append("round \(round): \(process.name) logged a failed commit while stopping")
            }
            say("round \(round) of \(options.rounds): SIGTERM with \(running.count) task(s) in flight, all exited 0")
        }
        report.facts.append(
            "\(options.rounds) SIGTERM rounds under \(sourceCount + sourceCount / 4) sources a second, "
                + "\(caught) tasks in flight at the signals, none left running")
        report.facts.append("\(try await successfulRuns(backend.store)) runs that did not fail")
    }

    /// Fill the SQLite file's file system while `serve` ingests: commits are refused with a
    /// storage error, the process and its API stay up, nothing is half-written; once space is
    /// freed, the pipeline resumes by itself and the refused attempts are on record.
    func diskFullDrill(
        _ cluster: DrillCluster, backend: StorageBackend, disk: DrillDisk, report: inout DrillReport
    ) async throws {
        try await cluster.startAll()
        let serve = cluster.processes[0]
        let base = "http://127.0.0.1:\(try await serve.apiPort(timeout: .seconds(10)))"
        try await waitForRuns(3, since: 0, store: backend.store, "the first runs")
        let ballast = try disk.fill()
        let fullAt = WallClock.system.nowMillis
        say("file system full (\(ballast / 1_048_576) MB of ballast)")
        // The commits fail once SQLite needs a page it cannot have; the API keeps answering.
        var refusedAt: Int64?
        var answered = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while refusedAt == nil || WallClock.system.nowMillis < refusedAt! + 5_000 {
            guard serve.isRunning else { throw DrillFailure("serve died on a full disk:\n\(serve.tail())") }
            guard ContinuousClock.now < deadline else {
                throw DrillFailure("no commit was refused within 90 s of the disk filling up")
            }
            for path in ["/healthz", "/api/stations?source=drill-bikes-1", "/api/system/task-runs?limit=5"] {
                let status = try await DrillFeeds.status(base + path)
                guard status == 200 else { throw DrillFailure("GET \(path) answered \(status) on a full disk") }
                answered += 1
            }
            // A write refused: a commit of fetched results, a claim (when the disk fills while no
            // task is waiting for its commit, the next claim is the first write refused), or the
            // scheduler's (its tick enqueues nothing more, so no claim follows).
            let output = serve.output()
            let refusals = ["commit failed", "claim failed", "scheduler tick failed", "leadership record failed"]
            if refusedAt == nil, refusals.contains(where: output.contains) {
                refusedAt = WallClock.system.nowMillis
            }
            try await Task.sleep(for: .seconds(1))
        }
        try disk.free()
        let freedAt = WallClock.system.nowMillis
        say("space freed \(String(format: "%.1f", Double(freedAt - fullAt) / 1_000)) s after the disk filled up")
        try await waitForRuns(sourceCount, since: freedAt, store: backend.store, "runs after space was freed")
        let resumedAt = WallClock.system.nowMillis
        // The refused attempts' run records travel with the next commits.
        let recordDeadline = ContinuousClock.now + .seconds(serve.output().contains("commit failed") ? 30 : 2)
        var refused: [TaskRun] = []
        while refused.isEmpty, ContinuousClock.now < recordDeadline {
            refused = try await backend.store.taskRuns(TaskRunQuery(status: .failed, limit: 100_000)).filter {
                $0.errorKind == .storage
            }
            if refused.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        // A refused commit must be on record; refused claims leave their tasks queued, with nothing to record.
        let commitsRefused = serve.output().contains("commit failed")
        if refused.isEmpty, commitsRefused {
            report.failures.append("no run was recorded failed with a storage error")
        }
        report.facts.append(
            "\(commitsRefused ? "commits" : "claims or the scheduler's writes (no commit was pending)") refused from \(String(format: "%.1f", Double(refusedAt! - fullAt) / 1_000)) s after the disk filled; "
                + "\(answered) API requests answered 200 meanwhile")
        report.facts.append(
            "ingest resumed \(String(format: "%.1f", Double(resumedAt - freedAt) / 1_000)) s after space was freed; "
                + "\(refused.count) refused attempts recorded failed (storage), e.g. \(refused.first?.errorMessage ?? "-")"
        )
    }
}
