import Foundation
import Hummingbird
import MetropulseApp
import MetropulseCore
import MetropulseDemo
import Synchronization
import Testing

/// Scheduler, three workers and an API as separate processes on one PostgreSQL database.
@Suite("Multi-process on PostgreSQL", .enabled(if: testPostgresURL != nil))
struct MultiProcessTests {
    /// A GBFS publisher whose station_status takes a while, and while `hold` is set does not
    /// answer at all (up to 30 s), so a worker killed then is sure to die holding its tasks.
    static func slowPublisher(hold: Gate) async throws -> (port: Int, task: Task<Void, any Error>) {
        let city = DemoCity(stationCount: 20)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let router = Router()
        router.get("slow/gbfs.json") { request, _ in
            city.discovery(
                baseURL: "http://\(request.head.authority ?? "")/slow", nowMillis: WallClock.system.nowMillis)
        }
        router.get("slow/station_information.json") { _, _ in
            city.stationInformation(nowMillis: WallClock.system.nowMillis)
        }
        router.get("slow/vehicle_types.json") { _, _ in city.vehicleTypes(nowMillis: WallClock.system.nowMillis) }
        router.get("slow/system_information.json") { _, _ in
            city.systemInformation(nowMillis: WallClock.system.nowMillis)
        }
        router.get("slow/station_status.json") { _, _ in
            try await Task.sleep(for: .milliseconds(500))
            let until = ContinuousClock.now + .seconds(30)
            while hold.closed.withLock({ $0 }), ContinuousClock.now < until {
                try await Task.sleep(for: .milliseconds(50))
            }
            return city.stationStatus(nowMillis: WallClock.system.nowMillis)
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        return (try #require(await iterator.next()), task)
    }

    @Test("kill -9 a worker holding tasks: it shows Down, others redo its tasks, every slot arrives once")
    func killWorker() async throws {
        let databaseURL = try await PostgresEndToEndTests.freshDatabase()
        let hold = Gate()
        let (port, publisher) = try await Self.slowPublisher(hold: hold)
        defer { publisher.cancel() }
        let folder = try temporaryFolder()
        let sources = (1...4).map { i in
            """
              - id: slow-\(i)
                kind: gbfs
                url: http://127.0.0.1:\(port)/slow/gbfs.json
                interval: 3s
                timeout: 10s
            """
        }.joined(separator: "\n")
        try "sources:\n\(sources)\n".write(toFile: folder + "/sources.yaml", atomically: true, encoding: .utf8)
        let environment = [
            "METROPULSE_DATABASE_URL": databaseURL, "METROPULSE_CONFIG": folder + "/sources.yaml",
            "METROPULSE_FETCH_ALLOW_PRIVATE_ADDRESSES": "true",
            "METROPULSE_WORKERS_LEASE": "3s", "METROPULSE_WORKERS_HEARTBEAT": "1s",
        ]
        let scheduler = try ChildProcess(arguments: ["scheduler", "--port", "0"], environment: environment)
        let workers = try (0..<3).map { _ in
            try ChildProcess(arguments: ["worker", "--workers", "2", "--port", "0"], environment: environment)
        }
        let api = try ChildProcess(arguments: ["api", "--port", "0"], environment: environment)
        let children = [scheduler, api] + workers
        defer { for child in children where child.process.isRunning { child.process.terminate() } }
        let base = "http://127.0.0.1:\(try await api.apiPort())"

        func workerList() async throws -> [[String: Any]] {
            let (_, json) = try await getJSON("\(base)/api/system/workers")
            return json["workers"] as? [[String: Any]] ?? []
        }
        try await eventually("three healthy workers", timeout: .seconds(60)) {
            try await workerList().filter { $0["health"] as? String == "healthy" }.count == 3
        }
        // Worker metrics reach the API process live through the bus: every worker's heartbeat
        // arrives again after the stream's initial snapshot.
        let events = try await readEvents("\(base)/api/system/workers/stream") { events in
            let counts = Dictionary(grouping: events.compactMap { $0["worker_id"] as? String }, by: { $0 })
            return counts.count >= 3 && counts.values.allSatisfy { $0.count >= 2 }
        }
        let perWorker = Dictionary(grouping: events.compactMap { $0["worker_id"] as? String }, by: { $0 })
        #expect(perWorker.count == 3)
        #expect(perWorker.values.allSatisfy { $0.count >= 2 }, "a worker's metrics did not arrive live")
        try await eventually("the scheduler process shown as leader", timeout: .seconds(30)) {
            let (_, json) = try await getJSON("\(base)/api/system/scheduler")
            let leader = json["leader"] as? [String: Any]
            return json["state"] as? String == "leading"
                && leader?["pid"] as? Int == Int(scheduler.process.processIdentifier)
        }

        // A run succeeds as `succeeded` or, within the feed's ttl, as `unchanged`.
        func successfulRuns() async throws -> [[String: Any]] {
            let (_, json) = try await getJSON("\(base)/api/system/task-runs?limit=10000")
            return (json["runs"] as? [[String: Any]] ?? []).filter { $0["status"] as? String != "failed" }
        }

        // Hold every feed answer, find a worker that holds a task and kill it. An answer already
        // past the hold may still let it finish what it held just before it dies: then that kill
        // tested nothing, and another worker is chosen (once: one of the three must survive).
        var victimID = ""
        var heldJobs: [String] = []
        for _ in 0..<2 {
            hold.closed.withLock { $0 = true }
            var victimPID: Int32 = 0
            try await eventually("a worker holding a task", timeout: .seconds(60)) {
                let (_, json) = try await getJSON("\(base)/api/system/tasks?state=running")
                guard let task = (json["tasks"] as? [[String: Any]])?.first,
                    let owner = task["lease_owner"] as? String,
                    let beat = try await workerList().first(where: { $0["worker_id"] as? String == owner }),
                    let pid = beat["pid"] as? Int
                else { return false }
                victimID = owner
                victimPID = Int32(pid)
                heldJobs = (json["tasks"] as? [[String: Any]] ?? []).filter { $0["lease_owner"] as? String == owner }
                    .compactMap { $0["job_id"] as? String }
                return true
            }
            let victim = try #require(workers.first { $0.process.processIdentifier == victimPID })
            kill(victimPID, SIGKILL)
            victim.process.waitUntilExit()
            hold.closed.withLock { $0 = false }
            let finishedByVictim = Set(
                try await successfulRuns().filter { $0["worker_id"] as? String == victimID }
                    .compactMap { $0["job_id"] as? String })
            heldJobs.removeAll { finishedByVictim.contains($0) }
            if !heldJobs.isEmpty { break }
        }
        #expect(!heldJobs.isEmpty, "two killed workers each finished every task they held before dying")

        try await eventually("the killed worker shown down", timeout: .seconds(60)) {
            try await workerList().first { $0["worker_id"] as? String == victimID }?["health"] as? String == "down"
        }
        // A commit the killed worker sent just before it died can still land after the look
        // above (its database session finishes what it was given): such a task was not lost,
        // the victim did it. Every other task it held is redone by the others.
        var lateByVictim: [String] = []
        do {
            try await eventually("its tasks redone by the others", timeout: .seconds(120)) {
                let runs = try await successfulRuns()
                lateByVictim = heldJobs.filter { job in
                    runs.contains { $0["job_id"] as? String == job && $0["worker_id"] as? String == victimID }
                }
                return heldJobs.allSatisfy { job in
                    lateByVictim.contains(job)
                        || runs.contains { $0["job_id"] as? String == job && $0["worker_id"] as? String != victimID }
                }
            }
            #expect(
                lateByVictim.count < heldJobs.count,
                "every task the killed worker held was committed by it before it died: nothing was redone")
        } catch {
            // What the queue and the surviving workers say, for whoever reads the failure.
            print("== held by the killed worker \(victimID): \(heldJobs)")
            let (_, tasks) = try await getJSON("\(base)/api/system/tasks?limit=10000")
            for task in tasks["tasks"] as? [[String: Any]] ?? []
            where heldJobs.contains(task["job_id"] as? String ?? "") {
                print(task)
            }
            for child in workers where child.process.isRunning {
                print("== worker \(child.process.processIdentifier)")
                print(child.output.withLock { $0 }.split(separator: "\n").suffix(60).joined(separator: "\n"))
            }
            throw error
        }

        // Every slot that was enqueued before now ends succeeded exactly once.
        let (_, tasksJSON) = try await getJSON("\(base)/api/system/tasks?limit=10000")
        let slots = (tasksJSON["tasks"] as? [[String: Any]] ?? []).compactMap { $0["job_id"] as? String }
        try await eventually("every slot fetched", timeout: .seconds(60)) {
            let done = Set(try await successfulRuns().compactMap { $0["job_id"] as? String })
            return Set(slots).isSubset(of: done)
        }
        let succeeded = try await successfulRuns().compactMap { $0["job_id"] as? String }
        #expect(Set(succeeded).count == succeeded.count, "a slot succeeded twice")

        for child in children where child.process.isRunning { #expect(await child.stop() == 0) }
    }
}

extension MultiProcessTests {
    @Test("scale across worker processes: each pool gets its share of the slots and answers")
    func scaleAcrossProcesses() async throws {
        let databaseURL = try await PostgresEndToEndTests.freshDatabase()
        let environment = [
            "METROPULSE_DATABASE_URL": databaseURL, "METROPULSE_WORKERS_HEARTBEAT": "1s",
            "METROPULSE_DEMO_ENABLED": "false", "METROPULSE_CONFIG": try Self.emptySources(),
        ]
        let workers = try (0..<2).map { _ in
            try ChildProcess(arguments: ["worker", "--workers", "2", "--port", "0"], environment: environment)
        }
        let api = try ChildProcess(arguments: ["api", "--port", "0"], environment: environment)
        let children = [api] + workers
        defer { for child in children where child.process.isRunning { child.process.terminate() } }
        let base = "http://127.0.0.1:\(try await api.apiPort())"
        func slots() async throws -> [String: Int] {
            let (_, json) = try await getJSON("\(base)/api/system/workers")
            let workers = json["workers"] as? [[String: Any]] ?? []
            return Dictionary(
                workers.filter { $0["health"] as? String == "healthy" }.compactMap { w in
                    (w["worker_id"] as? String).map { ($0, w["concurrency"] as? Int ?? 0) }
                }, uniquingKeysWith: { a, _ in a })
        }
        try await eventually("two healthy workers", timeout: .seconds(60)) { try await slots().count == 2 }
        let (status, body) = try await post(
            "\(base)/api/system/workers/scale", body: #"{"count": 5}"#,
            headers: ["X-API-Key": testAdminKey, "Content-Type": "application/json"])
        #expect(status == 202)
        #expect(body["slots_before"] as? Int == 4 && body["slots"] as? Int == 5)
        let id = try #require((body["command"] as? [String: Any])?["id"] as? String)
        try await eventually("both pools at their new size", timeout: .seconds(30)) {
            try await slots().values.sorted() == [2, 3]
        }
        try await eventually("both pools answered", timeout: .seconds(30)) {
            let (_, json) = try await getJSON("\(base)/api/system/commands")
            let command = (json["commands"] as? [[String: Any]])?.first { $0["id"] as? String == id }
            return command?["state"] as? String == "done" && (command?["acks"] as? [[String: Any]])?.count == 2
        }
        for child in children where child.process.isRunning { #expect(await child.stop() == 0) }
    }

    @Test("PostgreSQL: an api process streams the stations a worker process fetched, each with its run and age")
    func streamAcrossProcesses() async throws {
        let databaseURL = try await PostgresEndToEndTests.freshDatabase()
        let folder = try temporaryFolder()
        try """
        sources:
          - id: demo-bikes
            kind: gbfs
            url: demo:gbfs/gbfs.json
            interval: 10s
        """.write(toFile: folder + "/bikes.yaml", atomically: true, encoding: .utf8)
        let environment = [
            "METROPULSE_DATABASE_URL": databaseURL, "METROPULSE_WORKERS_HEARTBEAT": "1s",
            "METROPULSE_CONFIG": folder + "/bikes.yaml",
        ]
        let scheduler = try ChildProcess(arguments: ["scheduler", "--port", "0"], environment: environment)
        let worker = try ChildProcess(arguments: ["worker", "--workers", "2", "--port", "0"], environment: environment)
        let api = try ChildProcess(arguments: ["api", "--port", "0"], environment: environment)
        let children = [api, worker, scheduler]
        defer { for child in children where child.process.isRunning { child.process.terminate() } }
        let base = "http://127.0.0.1:\(try await api.apiPort())"
        // Stations, then an update of them after the worker's next fetch (one demo cycle).
        func hasStations(_ event: [String: Any]) -> Bool { (event["stations"] as? [Any])?.isEmpty == false }
        func laterUpdate(_ events: [[String: Any]]) -> [String: Any]? {
            guard let first = events.firstIndex(where: hasStations) else { return nil }
            return events[(first + 1)...].first { hasStations($0) && $0["snapshot"] as? Bool == false }
        }
        let events = try await readEvents(
            "\(base)/api/stream?topics=stations&source=demo-bikes", timeout: .seconds(90)
        ) { laterUpdate($0) != nil }
        let update = try #require(laterUpdate(events), "no update after the first stations: \(events.count) events")
        let stations = try #require(update["stations"] as? [[String: Any]])
        let run = try #require(stations.first?["run"] as? String)
        #expect(run.hasPrefix("demo-bikes"))
        #expect(stations.allSatisfy { ($0["age"] as? Double).map { $0 >= 0 && $0 < 600 } == true })
        let runs = try #require(update["runs"] as? [[String: Any]])
        let served = try #require(runs.first { $0["id"] as? String == run })
        #expect((served["url"] as? String)?.hasSuffix("/gbfs/station_status.json") == true)
        for child in children where child.process.isRunning { #expect(await child.stop() == 0) }
    }

    /// A configuration file with no source (the workers only need the database).
    static func emptySources() throws -> String {
        let folder = try temporaryFolder()
        try "sources: []\n".write(toFile: folder + "/sources.yaml", atomically: true, encoding: .utf8)
        return folder + "/sources.yaml"
    }
}

/// A flag the test flips while the publisher's handlers read it.
final class Gate: Sendable {
    let closed = Mutex(false)
}

#if canImport(Glibc)
    import Glibc
#endif
