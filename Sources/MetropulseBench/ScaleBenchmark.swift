public import Foundation
import Hummingbird
public import Logging
import MetropulseApp
public import MetropulseCore
import MetropulsePostgres
import ServiceLifecycle
import Synchronization

/// `metropulse bench scale`: one `metropulse scheduler` process schedules N sources (a feed of a
/// few stations each, on a local feed server) for worker processes; how late each slot starts
/// and the scheduler's own CPU are measured over a window. On SQLite the peer, a plain Python
/// scheduler (a heap of next slots, one transaction per wake-up into the same queue), then does
/// the same job for the same workers and is measured the same way.
public struct ScaleBenchmark: Sendable {
    public var sources: Int
    public var intervalMillis: Int64
    public var warmupSeconds: Int
    public var seconds: Int
    public var workerProcesses: Int
    public var concurrency: Int
    public var postgresURL: String?
    /// The Python interpreter for the peer (SQLite only); nil skips it.
    public var python: String?
    public var script: String
    public var binary: String
    public var directory: String
    let logger: Logger
    let say: @Sendable (String) -> Void

    public init(
        sources: Int, intervalMillis: Int64, warmupSeconds: Int, seconds: Int, workerProcesses: Int, concurrency: Int,
        postgresURL: String?, python: String?, script: String, binary: String, directory: String, logger: Logger,
        say: @escaping @Sendable (String) -> Void
    ) {
        self.sources = sources
        self.intervalMillis = intervalMillis
        self.warmupSeconds = warmupSeconds
        self.seconds = seconds
        self.workerProcesses = workerProcesses
        self.concurrency = concurrency
        self.postgresURL = postgresURL
        self.python = python
        self.script = script
        self.binary = binary
        self.directory = directory
        self.logger = logger
        self.say = say
    }

    /// A measured window of one scheduler.
    struct Window {
        var name: String
        var start: Int64
        var end: Int64
        var cpuSeconds: Double
        var residentBytes: Int64?
    }

    public func run() async throws -> String {
        let folder = try DrillFeeds.folder(in: directory, prefix: "metropulse-scale")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (port, feedServer) = try await DrillFeeds.start(stations: 4, logger: logger)
        defer { feedServer.cancel() }

        var database = MetropulseConfiguration.Database()
        var scratch: String?
        if let url = postgresURL {
            let name = "metropulse_scale_" + UUID().uuidString.prefix(8).lowercased()
            database.url = try await PostgresBackend.createDatabase(named: name, besides: url, logger: logger)
            scratch = name
        } else {
            database.path = folder + "/scale.sqlite"
        }
        var lines = ["sources:"]
        for index in 1...sources {
            lines += [
                "  - id: scale-\(index)", "    kind: gbfs", "    url: http://127.0.0.1:\(port)/gbfs/gbfs.json",
                "    interval: \(intervalMillis)ms", "    timeout: 10s", "    max_attempts: 3",
            ]
        }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: folder + "/sources.yaml", atomically: true, encoding: .utf8)
        var environment = [
            "METROPULSE_CONFIG": folder + "/sources.yaml", "METROPULSE_FETCH_ALLOW_PRIVATE_ADDRESSES": "true",
            "METROPULSE_WORKERS_MAX_REQUESTS_PER_HOST": "1024", "METROPULSE_LOG_LEVEL": "warning",
        ]
        if let url = database.url {
            environment["METROPULSE_DATABASE_URL"] = url
        } else {
            environment["METROPULSE_DATABASE_PATH"] = database.path
        }
        func child(_ name: String, _ arguments: [String]) -> DrillProcess {
            DrillProcess(
                name: name, binary: binary, arguments: arguments, environment: environment,
                logPath: "\(folder)/\(name).log")
        }
        let workers = (1...workerProcesses).map {
            child("worker-\($0)", ["worker", "--workers", "\(concurrency)", "--port", "0", "--log-level", "info"])
        }
        let scheduler = child("scheduler", ["scheduler", "--port", "0", "--log-level", "info"])
        defer { for process in workers + [scheduler] where process.isRunning { kill(process.pid, SIGKILL) } }

        let backend = try StorageBackend.make(database, logger: logger)
        try await backend.prepare()
        let backendName = database.url == nil ? "sqlite" : "postgresql"
        let sqlitePath = database.url == nil ? database.path : nil
        // The scratch database is dropped once the backend is closed, whatever the run did.
        let outcome: Result<String, any Error>
        do {
            outcome = .success(
                try await backend.whileRunning { backend in
                    for worker in workers {
                        try worker.start()
                        try await worker.waitFor("worker pool started", timeout: .seconds(90))
                    }
                    try scheduler.start()
                    try await scheduler.waitFor("scheduler started", timeout: .seconds(90))
                    say(
                        "metropulse scheduler: \(sources) sources, warming up \(warmupSeconds) s, then \(seconds) s measured"
                    )
                    var windows = [try await measure("metropulse scheduler", pid: scheduler.pid)]
                    _ = try await scheduler.terminate(timeout: .seconds(60))
                    try await Task.sleep(for: .seconds(10))
                    if let python, let sqlitePath {
                        say("peer (Python heap scheduler): warming up \(warmupSeconds) s, then \(seconds) s measured")
                        let peer = Process()
                        peer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                        peer.arguments = [
                            python, script, sqlitePath, "\(sources)", "\(intervalMillis)",
                            "\(warmupSeconds + seconds + 5)",
                        ]
                        try peer.run()
                        windows.append(try await measure("python heap scheduler (peer)", pid: peer.processIdentifier))
                        peer.terminate()
                        peer.waitUntilExit()
                        try await Task.sleep(for: .seconds(10))
                    }
                    for worker in workers { _ = try await worker.terminate(timeout: .seconds(60)) }
                    return try await report(windows, backend: backend, name: backendName)
                })
        } catch {
            outcome = .failure(error)
        }
        try? backend.close()
        if let scratch, let url = postgresURL {
            try? await PostgresBackend.dropDatabase(named: scratch, besides: url, logger: logger)
        }
        return try outcome.get()
    }

    private func measure(_ name: String, pid: Int32) async throws -> Window {
        try await Task.sleep(for: .seconds(warmupSeconds))
        let cpu = ProcessStats.cpuSeconds(pid: pid) ?? 0
        let start = WallClock.system.nowMillis
        try await Task.sleep(for: .seconds(seconds))
        let end = WallClock.system.nowMillis
        let used = (ProcessStats.cpuSeconds(pid: pid) ?? cpu) - cpu
        return Window(
            name: name, start: start, end: end, cpuSeconds: used, residentBytes: ProcessStats.residentBytes(pid: pid))
    }

    private func report(_ windows: [Window], backend: StorageBackend, name: String) async throws -> String {
        let tasks = try await backend.queue.tasks(state: nil, limit: 10_000_000)
        let earliest = (windows.map(\.start).min() ?? 0) - intervalMillis
        var firstStart: [String: Int64] = [:]
        for run in try await backend.store.taskRuns(TaskRunQuery(since: earliest, limit: 10_000_000)) {
            firstStart[run.jobID] = min(firstStart[run.jobID] ?? .max, run.startedAt)
        }
        func percentile(_ sorted: [Int64], _ q: Double) -> Int64 {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }
        var out = [
            "bench scale: \(sources) sources every \(Double(intervalMillis) / 1_000) s, \(workerProcesses) worker processes x "
                + "\(concurrency), \(name); \(seconds) s measured after \(warmupSeconds) s of warm-up"
        ]
        var p99s: [Double] = []
        var cpus: [Double] = []
        for window in windows {
            // Slots due in the window (with a few seconds for the last ones to start).
            let due = tasks.filter { $0.runAt >= window.start && $0.runAt < window.end - 5_000 }
            var drift: [Int64] = []
            var lateness: [Int64] = []
            for task in due {
                if let started = firstStart[task.jobID] { drift.append(max(0, started - task.runAt)) }
                if let at = task.jobID.split(separator: "@").last.flatMap({ Int64($0) }) {
                    lateness.append(max(0, task.enqueuedAt - at))
                }
            }
            drift.sort()
            lateness.sort()
            let expected = Int(Double(sources) * Double(window.end - 5_000 - window.start) / Double(intervalMillis))
            let cpuPercent = window.cpuSeconds / (Double(window.end - window.start) / 1_000) * 100
            p99s.append(Double(percentile(lateness, 0.99)))
            cpus.append(cpuPercent)
            out.append(
                "  \(window.name): \(due.count) slots due (about \(expected) expected); slot drift (enqueued after the "
                    + "slot start) p50 \(percentile(lateness, 0.5)) ms, p99 \(percentile(lateness, 0.99)) ms, "
                    + "max \(lateness.last ?? 0) ms; CPU \(String(format: "%.2f", cpuPercent))% of a core"
                    + (window.residentBytes.map { ", RSS \($0 / 1_048_576) MB" } ?? ""))
            out.append(
                "    queue and workers: \(drift.count) of them started, p50 \(percentile(drift, 0.5)) ms, "
                    + "p99 \(percentile(drift, 0.99)) ms, max \(drift.last ?? 0) ms after they were due")
        }
        if p99s.count == 2 {
            out.append(
                "  ratio metropulse / peer: slot drift p99 \(String(format: "%.2f", p99s[0] / max(1, p99s[1]))), "
                    + "CPU \(String(format: "%.2f", cpus[0] / max(0.001, cpus[1])))")
        }
        out.append(
            "  targets: slot drift p99 < 1 s (ratio \(String(format: "%.2f", p99s[0] / 1_000))), "
                + "scheduler CPU < 5% of a core (ratio \(String(format: "%.2f", cpus[0] / 5)))")
        return out.joined(separator: "\n")
    }
}

#if canImport(Glibc)
    import Glibc
#endif
