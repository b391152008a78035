import AsyncHTTPClient
public import Foundation
import Hummingbird
public import Logging
import MetropulseCore
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// `metropulse bench soak`: `serve` (SQLite) under the Paris load — a 1,500-station GBFS system
/// every minute and ten GTFS-Realtime feeds — then under ten times that for an hour, from a local
/// feed server. Samples the process's resident memory and CPU and the API's latency; reports the
/// memory growth after the first ten minutes (target < 10%), the latency of the last stretch
/// against the first (steady: about 1), the errors, and the memory at the Paris load (< 80 MB).
public struct SoakBenchmark: Sendable {
    public var minutes: Int
    public var parisMinutes: Int
    public var load: Int
    public var sampleSeconds: Int
    public var binary: String
    public var directory: String
    let logger: Logger
    let say: @Sendable (String) -> Void

    public init(
        minutes: Int, parisMinutes: Int, load: Int, sampleSeconds: Int, binary: String, directory: String,
        logger: Logger, say: @escaping @Sendable (String) -> Void
    ) {
        self.minutes = minutes
        self.parisMinutes = parisMinutes
        self.load = load
        self.sampleSeconds = sampleSeconds
        self.binary = binary
        self.directory = directory
        self.logger = logger
        self.say = say
    }

    struct Sample {
        var at: Double
        var residentBytes: Int64
        var cpuSeconds: Double
        var latencyMillis: Double
        var failedRequests: Int
    }

    struct Phase {
        var name: String
        var samples: [Sample]
        var succeededRuns: Int
        var failedRuns: Int
    }

    public func run() async throws -> String {
        let folder = try DrillFeeds.folder(in: directory, prefix: "metropulse-soak")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (port, feedServer) = try await DrillFeeds.start(stations: 1_500, logger: logger)
        defer { feedServer.cancel() }
        var phases: [Phase] = []
        if parisMinutes > 0 {
            phases.append(
                try await phase("Paris load", multiple: 1, minutes: parisMinutes, port: port, folder: folder + "/paris")
            )
        }
        if minutes > 0 {
            phases.append(
                try await phase(
                    "\(load)x the Paris load", multiple: load, minutes: minutes, port: port, folder: folder + "/soak"))
        }
        return report(phases)
    }

    /// `multiple` GBFS systems of 1,500 stations every minute and ten times as many GTFS-Realtime
    /// feeds every 30 s, on `serve` with a fresh SQLite file, for `minutes`.
    private func phase(_ name: String, multiple: Int, minutes: Int, port: Int, folder: String) async throws -> Phase {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var lines = ["sources:"]
        for index in 1...multiple {
            lines += [
                "  - id: soak-bikes-\(index)", "    kind: gbfs", "    url: http://127.0.0.1:\(port)/gbfs/gbfs.json",
                "    interval: 60s", "    timeout: 20s",
            ]
        }
        for index in 1...(10 * multiple) {
            lines += [
                "  - id: soak-transit-\(index)", "    kind: gtfs-rt",
                "    url: http://127.0.0.1:\(port)/gtfs-rt/trip-updates.pb", "    interval: 30s", "    timeout: 20s",
            ]
        }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: folder + "/sources.yaml", atomically: true, encoding: .utf8)
        let serve = DrillProcess(
            name: "serve", binary: binary, arguments: ["serve", "--port", "0", "--log-level", "notice"],
            environment: [
                "METROPULSE_CONFIG": folder + "/sources.yaml", "METROPULSE_DATABASE_PATH": folder + "/soak.sqlite",
                "METROPULSE_FETCH_ALLOW_PRIVATE_ADDRESSES": "true", BenchAPIKey.environmentVariable: BenchAPIKey.value,
            ], logPath: folder + "/serve.log")
        try serve.start()
        defer { if serve.isRunning { kill(serve.pid, SIGKILL) } }
        let base = "http://127.0.0.1:\(try await serve.apiPort(timeout: .seconds(90)))"
        say(
            "\(name): \(multiple) GBFS system(s) of 1,500 stations a minute and \(10 * multiple) GTFS-Realtime feeds, \(minutes) min"
        )
        let started = ContinuousClock.now
        var samples: [Sample] = []
        let end = started + .seconds(minutes * 60)
        var nextReport = started + .seconds(300)
        while ContinuousClock.now < end {
            guard serve.isRunning else { throw DrillFailure("serve exited during the soak:\n\(serve.tail())") }
            var failed = 0
            let before = ContinuousClock.now
            for path in ["/api/stations?source=soak-bikes-1", "/api/sources", "/api/system/queue"] {
                if (try? await DrillFeeds.status(base + path)) != 200 { failed += 1 }
            }
            let latency = (ContinuousClock.now - before).seconds * 1_000 / 3
            samples.append(
                Sample(
                    at: (ContinuousClock.now - started).seconds,
                    residentBytes: ProcessStats.residentBytes(pid: serve.pid) ?? 0,
                    cpuSeconds: ProcessStats.cpuSeconds(pid: serve.pid) ?? 0, latencyMillis: latency,
                    failedRequests: failed))
            if ContinuousClock.now >= nextReport {
                nextReport += .seconds(300)
                say(
                    "  \(Int(samples.last!.at / 60)) min: RSS \(samples.last!.residentBytes / 1_048_576) MB, "
                        + "API \(String(format: "%.1f", latency)) ms")
            }
            try await Task.sleep(for: .seconds(sampleSeconds))
        }
        let (_, runs) = try await Self.json(base + "/api/system/task-runs?limit=1000&status=failed")
        let failedRuns = (runs["count"] as? Int) ?? 0
        let (_, succeeded) = try await Self.json(base + "/api/system/queue")
        _ = try await serve.terminate(timeout: .seconds(60))
        let done = succeeded["succeeded"] as? Int ?? 0
        return Phase(name: name, samples: samples, succeededRuns: done, failedRuns: failedRuns)
    }

    private func report(_ phases: [Phase]) -> String {
        var out = ["bench soak: serve on SQLite, samples every \(sampleSeconds) s"]
        func mb(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }
        func percentile(_ values: [Double], _ q: Double) -> Double {
            let sorted = values.sorted()
            return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
        }
        for phase in phases {
            guard let first = phase.samples.first, let last = phase.samples.last else { continue }
            let duration = max(1, last.at - first.at)
            let cpu = (last.cpuSeconds - first.cpuSeconds) / duration * 100
            let peak = phase.samples.map(\.residentBytes).max() ?? 0
            let errors = phase.samples.map(\.failedRequests).reduce(0, +)
            out.append(
                "  \(phase.name), \(Int(last.at / 60)) min: RSS peak \(mb(peak)), last \(mb(last.residentBytes)); "
                    + "CPU \(String(format: "%.1f", cpu))% of a core; \(phase.succeededRuns) tasks succeeded, "
                    + "\(phase.failedRuns) failed runs, \(errors) failed API requests")
            // Growth after the first ten minutes (or the first sixth of a shorter run).
            let settle = min(600, last.at / 6)
            let settled = phase.samples.first { $0.at >= settle } ?? first
            let growth = Double(last.residentBytes - settled.residentBytes) / Double(max(1, settled.residentBytes))
            let tail = phase.samples.filter { $0.at >= last.at - max(60, (last.at - settle) / 5) }
            let head = phase.samples.filter { $0.at >= settle && $0.at < settle + max(60, (last.at - settle) / 5) }
            let headP99 = percentile(head.map(\.latencyMillis), 0.99)
            let tailP99 = percentile(tail.map(\.latencyMillis), 0.99)
            out.append(
                "    RSS \(mb(settled.residentBytes)) at \(Int(settle / 60)) min -> \(mb(last.residentBytes)): growth "
                    + "\(String(format: "%.1f", growth * 100))% (target < 10%: ratio \(String(format: "%.2f", growth / 0.1)))"
            )
            out.append(
                "    API latency p99, first stretch \(String(format: "%.1f", headP99)) ms, last \(String(format: "%.1f", tailP99)) ms "
                    + "(ratio last / first \(String(format: "%.2f", tailP99 / max(0.1, headP99))))")
            if phase.name == "Paris load" {
                out.append(
                    "    RSS at the Paris load: peak \(mb(peak)) (target < 80 MB: ratio "
                        + "\(String(format: "%.2f", Double(peak) / Double(80 << 20))))")
            }
        }
        return out.joined(separator: "\n")
    }

    static func json(_ url: String) async throws -> (Int, [String: Any]) {
        let response = try await HTTPClient.shared.execute(BenchAPIKey.request(url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        return (Int(response.status.code), object)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
