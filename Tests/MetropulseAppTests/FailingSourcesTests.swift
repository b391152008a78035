import Foundation
import Hummingbird
import MetropulseApp
import MetropulseCore
import MetropulseSQLite
import ServiceLifecycle
import Testing

@Suite("Failing sources")
struct FailingSourcesTests {
    /// A loopback port nobody listens on.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        close(fd)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("refused, HTTP 500, garbage and timeouts fail with the right kind, back off, die, and never stop others")
    func failures() async throws {
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let publisher = Application(
            router: {
                let router = Router()
                router.get("status500/gbfs.json") { _, _ -> Response in Response(status: .internalServerError) }
                router.get("garbage/gbfs.json") { _, _ in "<html>maintenance</html>" }
                router.get("slow/gbfs.json") { _, _ -> String in
                    try await Task.sleep(for: .seconds(3))
                    return "{}"
                }
                return router
            }(), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let publisherTask = Task { try await publisher.runService(gracefulShutdownSignals: []) }
        defer { publisherTask.cancel() }
        var ports = portStream.makeAsyncIterator()
        let port = try #require(await ports.next())
        let refusedPort = try Self.closedPort()

        func broken(_ id: String, _ url: String, timeout: Int64 = 2_000) -> SourceDefinition {
            SourceDefinition(
                id: id, kind: .gbfs, urls: [url], intervalMillis: 86_400_000, timeoutMillis: timeout, maxAttempts: 3,
                limits: .local)
        }
        var sources = [MetropulseConfiguration.demoSources[0]]
        sources[0].intervalMillis = 86_400_000
        sources += [
            broken("refused", "http://127.0.0.1:\(refusedPort)/gbfs.json"),
            broken("status500", "http://127.0.0.1:\(port)/status500/gbfs.json"),
            broken("garbage", "http://127.0.0.1:\(port)/garbage/gbfs.json"),
            broken("slow", "http://127.0.0.1:\(port)/slow/gbfs.json", timeout: 300),
        ]
        var config = configuration(database: try temporaryFolder() + "/m.sqlite", sources: sources)
        config.workers.retryBaseDelayMillis = 200
        config.workers.maxRetryDelayMillis = 2_000
        let app = try await RunningApp.start(config)
        let store = app.runtime.backend.store
        let queue = app.runtime.backend.queue

        try await eventually("every broken source dead after 3 attempts") {
            try await queue.tasks(state: .dead, limit: 10).count == 4
        }
        let expectations: [String: (FetchErrorKind, String)] = [
            "refused": (.connect, "connection"),
            "status500": (.httpStatus, "HTTP 500"),
            "garbage": (.decode, "not valid JSON"),
            "slow": (.timeout, "300 ms"),
        ]
        for (source, (kind, text)) in expectations {
            // The attempts of the task that died (a slot boundary may have queued another task meanwhile).
            let deadTasks = try await queue.tasks(state: .dead, limit: 10)
            let dead = try #require(
                deadTasks.first { $0.sourceID == source },
                "\(deadTasks.map { "\($0.sourceID): \($0.lastError ?? "")" })")
            let runs = try await store.taskRuns(TaskRunQuery(sourceID: source)).filter { $0.jobID == dead.jobID }
                .sorted { $0.attempt < $1.attempt }
            #expect(runs.map(\.attempt) == [1, 2, 3], "\(source)")
            #expect(
                runs.allSatisfy { $0.status == .failed && $0.errorKind == kind }, "\(source): \(runs.map(\.errorKind))")
            #expect(
                runs.allSatisfy { $0.errorMessage?.contains(text) == true },
                "\(source): \(runs.first?.errorMessage ?? "")")
            if source == "status500" { #expect(runs.allSatisfy { $0.httpStatus == 500 }) }
            // Exponential backoff with jitter: at least half the ceiling (200 ms, then 400 ms) between attempts.
            for (index, pair) in zip(runs, runs.dropFirst()).enumerated() {
                let gap = pair.1.startedAt - pair.0.finishedAt
                #expect(gap >= 100 << index, "\(source): attempt \(index + 2) started \(gap) ms after the previous one")
            }
            #expect(dead.attempts == 3)
            #expect(dead.lastError?.contains(kind.rawValue) == true)
        }

        // The healthy source kept working throughout, and still does.
        let healthyRuns = try await store.taskRuns(TaskRunQuery(status: .succeeded, sourceID: "demo-bikes")).count
        #expect(healthyRuns >= 1)
        let jobID = try #require(try await app.runtime.scheduler?.runNow(sourceID: "demo-bikes"))
        // Within the feed's ttl the run is `unchanged` (no request); either way it succeeds.
        try await eventually("the healthy source runs again") {
            try await store.taskRuns(TaskRunQuery(sourceID: "demo-bikes")).contains {
                $0.jobID == jobID && $0.status.isSuccess
            }
        }
        let (_, sourceList) = try await getJSON("\(app.base)/api/sources")
        let refused = try #require(
            (sourceList["sources"] as? [[String: Any]])?.first { $0["id"] as? String == "refused" })
        #expect(refused["freshness"] as? String == "never")
        #expect((refused["last_error"] as? String)?.contains("connect") == true)
        let (_, refusedHealth) = try await getJSON("\(app.base)/api/sources/refused/health")
        #expect(refusedHealth["state"] as? String == "down", "\(refusedHealth)")
        #expect((refusedHealth["last_error"] as? [String: Any])?["kind"] as? String == "connect")
        #expect((refusedHealth["last_day"] as? [String: Any])?["successes"] as? Int == 0)

        // Requeue the dead tasks: they run again.
        let (status, requeued) = try await post(
            "\(app.base)/api/system/queue/requeue-dead", headers: ["X-API-Key": "secret"])
        #expect(status == 200)
        #expect(requeued["requeued"] as? Int == 4)
        try await eventually("requeued tasks attempted again") {
            try await store.taskRuns(TaskRunQuery(sourceID: "garbage")).count > 3
        }
        try await app.stop()
    }
}

#if canImport(Glibc)
    import Glibc
#endif
