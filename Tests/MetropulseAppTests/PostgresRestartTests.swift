import Foundation
import Hummingbird
import MetropulseCore
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Where `initdb` and `pg_ctl` live, when this machine has PostgreSQL installed. The restart test
/// runs its own cluster so that stopping it disturbs no other test.
let postgresBinaries: String? = {
    if let bin = ProcessInfo.processInfo.environment["METROPULSE_TEST_POSTGRES_BIN"] { return bin }
    let root = "/usr/lib/postgresql"
    let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
    return versions.compactMap(Int.init).sorted().last.map { "\(root)/\($0)/bin" }
        .flatMap { FileManager.default.fileExists(atPath: $0 + "/pg_ctl") ? $0 : nil }
}()

/// A PostgreSQL cluster of its own on a free loopback port, stopped and started at will.
final class ThrowawayPostgres: Sendable {
    let directory: String
    let port: Int
    let bin: String

    var url: String { "postgres://postgres@127.0.0.1:\(port)/postgres" }

    init(bin: String) throws {
        self.bin = bin
        directory = try temporaryFolder()
        port = try Self.freePort()
        if getuid() == 0 {
            // initdb refuses to run as root: the cluster belongs to the postgres user.
            try FileManager.default.setAttributes(
                [.ownerAccountName: "postgres", .groupOwnerAccountName: "postgres"], ofItemAtPath: directory)
        }
        try run(
            "initdb", ["-D", directory + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        try start()
    }

    func start() throws {
        try run(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-o",
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1", "start",
            ])
    }

    /// A fast shutdown: the server ends every session, like a restart or a crash would.
    func stop() throws {
        try run("pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "stop"])
    }

    func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a tool to completion with posix_spawn and waitpid (as the postgres user when root).
    private func run(_ tool: String, _ arguments: [String]) throws {
        let argv =
            (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [bin + "/" + tool] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0) }
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else {
            throw PostgresToolError(description: "cannot start \(tool)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        guard status == 0 else { throw PostgresToolError(description: "\(tool) \(arguments.last ?? "") failed") }
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(fd, address, length) == 0 && getsockname(fd, address, &length) == 0
            }
        }
        guard bound else { throw PostgresToolError(description: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A GBFS publisher whose every station_status answer is a new snapshot: each station's
/// `last_reported` is the request's sequence number, so every successful run adds exactly
/// `stationCount` raw rows and any lost or doubled write shows in the count.
struct CountingPublisher {
    static let stationCount = 10

    let port: Int
    let task: Task<Void, any Error>

    static func start() async throws -> CountingPublisher {
        let requests = Counter()
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let router = Router()
        @Sendable func json(_ text: String) -> Response {
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        router.get("gbfs.json") { request, _ in
            let base = "http://\(request.head.authority ?? "")"
            return json(
                """
                {"last_updated": 1760000000, "ttl": 0, "version": "2.3", "data": {"en": {"feeds": [
                {"name": "station_information", "url": "\(base)/station_information.json"},
                {"name": "station_status", "url": "\(base)/station_status.json"}]}}}
                """)
        }
        router.get("station_information.json") { _, _ in
            let stations = (1...stationCount).map { i in
                #"{"station_id": "s\#(i)", "name": "Station \#(i)", "lat": 48.85, "lon": 2.3\#(i), "capacity": 20}"#
            }
            return json(
                #"{"last_updated": 1760000000, "ttl": 3600, "version": "2.3", "data": {"stations": [\#(stations.joined(separator: ","))]}}"#
            )
        }
        router.get("station_status.json") { _, _ in
            let n = requests.next()
            let reported = 1_760_000_000 + n
            let stations = (1...stationCount).map { i in
                #"{"station_id": "s\#(i)", "num_bikes_available": \#(i), "num_docks_available": \#(20 - i), "is_installed": true, "is_renting": true, "is_returning": true, "last_reported": \#(reported)}"#
            }
            return json(
                #"{"last_updated": \#(reported), "ttl": 0, "version": "2.3", "data": {"stations": [\#(stations.joined(separator: ","))]}}"#
            )
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        return CountingPublisher(port: try #require(await iterator.next()), task: task)
    }
}

@Suite("PostgreSQL restart", .enabled(if: postgresBinaries != nil))
struct PostgresRestartTests {
    @Test("PostgreSQL restarts during ingest: workers and API reconnect; no task or observation lost or doubled")
    func restartDuringIngest() async throws {
        let postgres = try ThrowawayPostgres(bin: try #require(postgresBinaries))
        defer { postgres.destroy() }
        let publisher = try await CountingPublisher.start()
        defer { publisher.task.cancel() }
        let folder = try temporaryFolder()
        let sources = (1...3).map { i in
            """
              - id: feed-\(i)
                kind: gbfs
                url: http://127.0.0.1:\(publisher.port)/gbfs.json
                interval: 1s
                timeout: 5s
            """
        }.joined(separator: "\n")
        try "sources:\n\(sources)\n".write(toFile: folder + "/sources.yaml", atomically: true, encoding: .utf8)
        let environment = [
            "METROPULSE_DATABASE_URL": postgres.url, "METROPULSE_CONFIG": folder + "/sources.yaml",
            "METROPULSE_FETCH_ALLOW_PRIVATE_ADDRESSES": "true",
            "METROPULSE_WORKERS_LEASE": "3s", "METROPULSE_WORKERS_HEARTBEAT": "1s", "METROPULSE_LOG_LEVEL": "debug",
        ]
        let scheduler = try ChildProcess(arguments: ["scheduler", "--port", "0"], environment: environment)
        let worker = try ChildProcess(arguments: ["worker", "--workers", "4", "--port", "0"], environment: environment)
        let api = try ChildProcess(arguments: ["api", "--port", "0"], environment: environment)
        let children = [scheduler, worker, api]
        defer { for child in children where child.process.isRunning { child.process.terminate() } }
        let base = "http://127.0.0.1:\(try await api.apiPort())"

        func succeededRuns() async throws -> [[String: Any]] {
            let (_, json) = try await getJSON("\(base)/api/system/task-runs?status=succeeded&limit=10000")
            return json["runs"] as? [[String: Any]] ?? []
        }
        try await eventually("runs before the restart", timeout: .seconds(60)) {
            try await succeededRuns().count >= 6
        }

        // The server goes away for three seconds, ending every session, then comes back.
        // (Requests to the API meanwhile wait for a connection or fail with a 5xx.)
        try postgres.stop()
        let restartedAt = Date()
        try await Task.sleep(for: .seconds(3))
        try postgres.start()

        // Every process recovers by itself: the API answers, the scheduler leads and schedules
        // again, workers commit new runs.
        try await eventually("the API answers again", timeout: .seconds(60)) {
            try await getJSON("\(base)/api/stations").status == 200
        }
        do {
            try await eventually("the scheduler leads again", timeout: .seconds(60)) {
                let (_, json) = try await getJSON("\(base)/api/system/scheduler")
                let renewed = (json["leader"] as? [String: Any])?["renewed_at"] as? String
                return json["state"] as? String == "leading"
                    && renewed.flatMap { try? Date($0, strategy: .iso8601) }.map { $0 > restartedAt } == true
            }
            try await eventually("new runs after the restart", timeout: .seconds(60)) {
                try await succeededRuns().filter {
                    ($0["started_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) }.map { $0 > restartedAt }
                        == true
                }.count >= 6
            }
        } catch {
            // The roles' own account of the restart, for whoever reads the failure.
            for (name, child) in [("scheduler", scheduler), ("worker", worker)] {
                print("== \(name)")
                print(child.output.withLock { $0 }.split(separator: "\n").suffix(60).joined(separator: "\n"))
            }
            throw error
        }

        // Stop scheduling, let the queue empty, then count: every slot succeeded exactly once and
        // every successful run's snapshot is in the store, nothing twice.
        #expect(await scheduler.stop() == 0)
        try await eventually("the queue drains", timeout: .seconds(60)) {
            let (_, json) = try await getJSON("\(base)/api/system/queue")
            return json["queued"] as? Int == 0 && json["running"] as? Int == 0 && json["retrying"] as? Int == 0
        }
        let (_, tasksJSON) = try await getJSON("\(base)/api/system/tasks?limit=10000")
        let tasks = tasksJSON["tasks"] as? [[String: Any]] ?? []
        #expect(!tasks.isEmpty)
        #expect(tasks.allSatisfy { $0["state"] as? String == "succeeded" }, "a task was lost or died")
        let runs = try await succeededRuns()
        let jobs = runs.compactMap { $0["job_id"] as? String }
        #expect(Set(jobs).count == jobs.count, "a slot succeeded twice")
        #expect(Set(jobs) == Set(tasks.compactMap { $0["job_id"] as? String }))
        // Every successful run's snapshot is in the store, once, with one documented exception
        // (decision 0002): a snapshot older than the station's latest when it arrived is not raw
        // history. That happens when two runs of one source were in flight together (a retried
        // slot beside the next one, after the restart) and the later fetch committed first.
        func date(_ value: Any?) -> Date? { (value as? String).flatMap { try? Date($0, strategy: .iso8601) } }
        let runsByID = Dictionary(
            uniqueKeysWithValues: runs.compactMap { run in (run["id"] as? String).map { ($0, run) } })
        for i in 1...3 {
            let source = "feed-\(i)"
            let sourceRuns = runs.filter { $0["source"] as? String == source && ($0["entity_count"] as? Int ?? 0) > 0 }
            for station in 1...CountingPublisher.stationCount {
                let (_, history) = try await getJSON("\(base)/api/stations/\(source)/s\(station)/history?limit=10000")
                let observations = history["observations"] as? [[String: Any]] ?? []
                let storedRuns = observations.compactMap { $0["run_id"] as? String }
                let observedAt = observations.compactMap { $0["observed_at"] as? String }
                #expect(Set(observedAt).count == observedAt.count, "\(source)/s\(station): an observation twice")
                #expect(storedRuns.allSatisfy { runsByID[$0] != nil }, "\(source)/s\(station): a run not succeeded")
                let stored = storedRuns.compactMap { runsByID[$0] }
                for run in sourceRuns where !storedRuns.contains(run["id"] as? String ?? "") {
                    // Lost, unless a newer snapshot of an overlapping run was stored.
                    let explained = stored.contains { newer in
                        guard let newerFeed = date(newer["feed_timestamp"]), let feed = date(run["feed_timestamp"]),
                            let newerStart = date(newer["started_at"]), let finished = date(run["finished_at"])
                        else { return false }
                        return newerFeed > feed && newerStart <= finished
                    }
                    #expect(explained, "\(source)/s\(station): run \(run) was lost; stored runs: \(stored)")
                }
            }
        }

        for child in [worker, api] { #expect(await child.stop() == 0) }
    }
}

final class Counter: Sendable {
    private let value = Atomic<Int64>(0)
    func next() -> Int64 { value.add(1, ordering: .relaxed).newValue }
}

struct PostgresToolError: Error, CustomStringConvertible {
    var description: String
}
