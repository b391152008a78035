public import Foundation
import Hummingbird
public import Logging
import MetropulseApp
public import MetropulseCore
import MetropulseDemo
import MetropulsePostgres
import ServiceLifecycle

/// A fault drill: real `metropulse` processes ingest a local city's feeds while the drill does
/// what production does to them (kill -9 at random moments, SIGTERM under load, a full disk),
/// then checks the store's invariants (`StoreAudit`): no task lost, no slot written twice,
/// nothing half-written. `metropulse drill` runs it; `scripts/drill` runs the CI's short form.
public struct FaultDrill: Sendable {
    public enum Scenario: String, CaseIterable, Sendable {
        /// kill -9 a worker process (`serve` on SQLite) at random moments, `rounds` times.
        case kill
        /// SIGTERM the processes under heavy ingest, `rounds` times: in-flight tasks finish, exit 0.
        case sigterm
        /// The SQLite file's file system fills up, then space is freed.
        case diskFull = "disk-full"
    }

    public struct Options: Sendable {
        public var scenario: Scenario
        /// Scheduler, three workers and an API on this PostgreSQL server (in a database of the
        /// drill's own); nil: `serve` on SQLite.
        public var postgresURL: String?
        /// Kills, or SIGTERM rounds.
        public var rounds: Int
        /// GBFS sources polled every second (a quarter as many GTFS-Realtime ones beside).
        public var sources: Int
        /// The `metropulse` binary the children run.
        public var binary: String
        /// Where the drill's folder (configuration, logs, SQLite file) is made.
        public var directory: String
        public var seed: UInt64
        /// Keep the folder (and the PostgreSQL database) afterwards; they are always kept on failure.
        public var keep: Bool

        public init(
            scenario: Scenario, postgresURL: String?, rounds: Int, sources: Int, binary: String, directory: String,
            seed: UInt64, keep: Bool
        ) {
            self.scenario = scenario
            self.postgresURL = postgresURL
            self.rounds = rounds
            self.sources = sources
            self.binary = binary
            self.directory = directory
            self.seed = seed
            self.keep = keep
        }
    }

    public let options: Options
    let logger: Logger
    /// Progress lines, as the drill goes.
    let say: @Sendable (String) -> Void

    /// The workers' lease in the drill: short, so a killed worker's tasks come back quickly.
    static let leaseSeconds = 3

    public init(options: Options, logger: Logger, say: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.logger = logger
        self.say = say
    }

    public func run() async throws -> DrillReport {
        if options.scenario == .diskFull, options.postgresURL != nil {
            throw DrillFailure("the disk-full drill fills the SQLite file's file system: run it without --postgres")
        }
        let folder = try DrillFeeds.folder(in: options.directory, prefix: "metropulse-drill")
        let started = ContinuousClock.now
        let (port, feedServer) = try await DrillFeeds.start(logger: logger)
        defer { feedServer.cancel() }

        var disk: DrillDisk?
        var database = MetropulseConfiguration.Database()
        var scratchDatabase: String?
        if let url = options.postgresURL {
            let name = "metropulse_drill_" + UUID().uuidString.prefix(8).lowercased()
            database.url = try await PostgresBackend.createDatabase(named: name, besides: url, logger: logger)
            scratchDatabase = name
        } else if options.scenario == .diskFull {
            disk = try DrillDisk.mount(at: folder + "/disk", megabytes: 48)
            database.path = folder + "/disk/drill.sqlite"
        } else {
            database.path = folder + "/drill.sqlite"
        }
        let sourcesPath = folder + "/sources.yaml"
        try Self.sourcesFile(port: port, gbfs: sourceCount).write(
            toFile: sourcesPath, atomically: true, encoding: .utf8)
        var environment = [
            "METROPULSE_CONFIG": sourcesPath, "METROPULSE_FETCH_ALLOW_PRIVATE_ADDRESSES": "true",
            "METROPULSE_WORKERS_LEASE": "\(Self.leaseSeconds)s", "METROPULSE_WORKERS_HEARTBEAT": "1s",
            "METROPULSE_LOG_LEVEL": "info", BenchAPIKey.environmentVariable: BenchAPIKey.value,
        ]
        if let url = database.url {
            environment["METROPULSE_DATABASE_URL"] = url
        } else {
            environment["METROPULSE_DATABASE_PATH"] = database.path
        }
        let cluster = DrillCluster(
            binary: options.binary, folder: folder, environment: environment, onPostgres: database.url != nil)
        say(
            "\(options.scenario.rawValue) drill on \(database.url == nil ? "SQLite (serve)" : "PostgreSQL (scheduler, 3 workers, api)"), "
                + "\(sourceCount) GBFS and \(sourceCount / 4) GTFS-Realtime sources every second, folder \(folder)")

        var passed = false
        defer {
            cluster.killAll()
            if passed && !options.keep {
                try? disk?.unmount()
                try? FileManager.default.removeItem(atPath: folder)
            }
        }
        let backend = try StorageBackend.make(database, logger: logger)
        try await backend.prepare()
        let (backendName, mountedDisk) = (database.url == nil ? "sqlite" : "postgresql", disk)
        var report = try await backend.whileRunning { backend in
            var report = DrillReport(scenario: options.scenario, backend: backendName)
            switch options.scenario {
            case .kill: try await killDrill(cluster, backend: backend, report: &report)
            case .sigterm: try await terminateDrill(cluster, backend: backend, report: &report)
            case .diskFull: try await diskFullDrill(cluster, backend: backend, disk: mountedDisk!, report: &report)
            }
            try await cluster.stopAll(report: &report)
            // Whatever was due when the processes stopped may wait; nothing may wait longer.
            report.audit = try await backend.audit(now: WallClock.system.nowMillis, grace: .seconds(20))
            report.failedRuns = try await failedRunKinds(backend.store)
            return report
        }
        try backend.close()
        report.seconds = (ContinuousClock.now - started).seconds
        if let scratchDatabase, let url = options.postgresURL, !options.keep, report.problems.isEmpty {
            try? await PostgresBackend.dropDatabase(named: scratchDatabase, besides: url, logger: logger)
        }
        passed = report.problems.isEmpty
        if !passed { report.facts.append("kept for inspection: \(folder)") }
        return report
    }

    /// Heavy ingest for the SIGTERM drill: three times the sources.
    var sourceCount: Int { options.scenario == .sigterm ? options.sources * 3 : options.sources }

    /// `gbfs` GBFS sources and a quarter as many GTFS-Realtime trip-update sources on the drill's
    /// feed server, every second.
    static func sourcesFile(port: Int, gbfs: Int) -> String {
        var lines = ["sources:"]
        for index in 1...max(1, gbfs) {
            lines += [
                "  - id: drill-bikes-\(index)", "    kind: gbfs", "    url: http://127.0.0.1:\(port)/gbfs/gbfs.json",
                "    interval: 1s", "    timeout: 5s", "    max_attempts: 5",
            ]
        }
        for index in stride(from: 1, through: gbfs / 4, by: 1) {
            lines += [
                "  - id: drill-trips-\(index)", "    kind: gtfs-rt",
                "    url: http://127.0.0.1:\(port)/gtfs-rt/trip-updates.pb", "    interval: 1s", "    timeout: 5s",
            ]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs that did not fail, so far.
    func successfulRuns(_ store: any Store, since: Int64 = 0) async throws -> Int {
        try await store.taskRuns(TaskRunQuery(since: since, limit: 1_000_000)).filter { $0.status.isSuccess }.count
    }

    /// Waits until `count` runs that did not fail finished since `since`.
    func waitForRuns(
        _ count: Int, since: Int64, store: any Store, timeout: Duration = .seconds(90), _ what: String
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await successfulRuns(store, since: since) < count {
            guard ContinuousClock.now < deadline else { throw DrillFailure("no progress within \(timeout): \(what)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    private func failedRunKinds(_ store: any Store) async throws -> [String: Int] {
        var kinds: [String: Int] = [:]
        for run in try await store.taskRuns(TaskRunQuery(status: .failed, limit: 1_000_000)) {
            kinds[run.errorKind?.rawValue ?? "unknown", default: 0] += 1
        }
        return kinds
    }
}

/// What a drill did and found.
public struct DrillReport: Sendable, CustomStringConvertible {
    public var scenario: FaultDrill.Scenario
    public var backend: String
    public var seconds = 0.0
    public var audit = StoreAudit()
    /// Failed runs per error kind (`lease_lost` for attempts a kill overtook, `storage` for
    /// commits a full disk refused).
    public var failedRuns: [String: Int] = [:]
    /// What the drill observed on the way, one line each.
    public var facts: [String] = []
    /// Checks of the drill's own that failed (beyond the audit's).
    public var failures: [String] = []

    init(scenario: FaultDrill.Scenario, backend: String) {
        self.scenario = scenario
        self.backend = backend
    }

    public var problems: [String] { failures + audit.problems }

    public var description: String {
        var lines = ["\(scenario.rawValue) drill on \(backend), \(String(format: "%.0f", seconds)) s"]
        lines += facts.map { "  \($0)" }
        let failed = failedRuns.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("  failed runs by kind: \(failed.isEmpty ? "none" : failed)")
        lines += audit.summary.split(separator: "\n").map { "  \($0)" }
        lines += failures.map { "  FAILED: \($0)" }
        lines.append(problems.isEmpty ? "PASSED" : "FAILED (\(problems.count) problem(s))")
        return lines.joined(separator: "\n")
    }
}
