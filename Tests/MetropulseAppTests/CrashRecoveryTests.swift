import Foundation
import MetropulseCore
import MetropulseSQLite
import Synchronization
import Testing

/// Runs the real `metropulse` binary as a child process and kills it with SIGKILL.
@Suite("Crash recovery")
struct CrashRecoveryTests {
    /// The `metropulse` executable built next to the test bundle.
    static var binary: String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "metropulse"
            ).path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/metropulse").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }

    @Test("kill -9 and restart: stations, run history and queued tasks survive, no slot runs twice")
    func killAndRestart() async throws {
        let database = try temporaryFolder() + "/crash.sqlite"
        let arguments = ["serve", "--port", "0", "--database-path", database, "--workers", "4"]
        let first = try ChildProcess(arguments: arguments)
        let port = try await first.apiPort()
        try await eventually("stations served by the child") {
            let (_, json) = try await getJSON("http://127.0.0.1:\(port)/api/stations?source=demo-bikes")
            return json["count"] as? Int == 300
        }
        // A task queued for later, written by another process into the same file.
        let side = try SQLiteBackend(path: database)
        let future = NewTask(jobID: "demo-bikes@future", sourceID: "demo-bikes", runAt: Int64.max / 2)
        #expect(try await side.enqueue([future], now: 0) == 1)
        try side.close()

        kill(first.process.processIdentifier, SIGKILL)
        first.process.waitUntilExit()
        #expect(first.process.terminationReason == .uncaughtSignal)

        let afterCrash = try SQLiteBackend(path: database)
        let stationsAfterCrash = try await afterCrash.stations(StationQuery(sourceID: "demo-bikes")).count
        let runsAfterCrash = try await afterCrash.taskRuns(TaskRunQuery(limit: 10_000))
        let rawAfterCrash = try await afterCrash.rawStationObservationCount(sourceID: "demo-bikes")
        try afterCrash.close()
        #expect(stationsAfterCrash == 300)
        #expect(!runsAfterCrash.isEmpty)
        #expect(rawAfterCrash >= 300)

        let second = try ChildProcess(arguments: arguments)
        let secondPort = try await second.apiPort()
        let base = "http://127.0.0.1:\(secondPort)"
        let (_, queued) = try await getJSON("\(base)/api/system/tasks?state=queued")
        #expect(
            (queued["tasks"] as? [[String: Any]])?.contains { $0["job_id"] as? String == "demo-bikes@future" } == true)
        let (_, served) = try await getJSON("\(base)/api/stations?source=demo-bikes")
        #expect(served["count"] as? Int == 300)
        let (_, runs) = try await getJSON("\(base)/api/system/task-runs?limit=10000")
        #expect((runs["count"] as? Int ?? 0) >= runsAfterCrash.count)
        try await eventually("the restarted child fetches again") {
            let (_, runs) = try await getJSON("\(base)/api/system/task-runs?status=succeeded&limit=10000")
            return (runs["count"] as? Int ?? 0) > runsAfterCrash.filter { $0.status == .succeeded }.count
        }

        // SIGTERM: graceful stop, exit code 0.
        #expect(await second.stop() == 0)

        let final = try SQLiteBackend(path: database)
        let finalRuns = try await final.taskRuns(TaskRunQuery(status: .succeeded, limit: 10_000))
        #expect(Set(finalRuns.map(\.jobID)).count == finalRuns.count, "a slot was fetched twice")
        let stillQueued = try await final.tasks(state: .queued, limit: 100).map(\.jobID)
        #expect(stillQueued.contains("demo-bikes@future"))
        #expect(try await final.rawStationObservationCount(sourceID: "demo-bikes") >= rawAfterCrash)
        try final.close()
    }
}

/// A `metropulse` child process whose output is captured.
final class ChildProcess: Sendable {
    let process: Process
    let output = Mutex("")

    init(arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: CrashRecoveryTests.binary)
        process.arguments = arguments
        // The operator endpoints the tests read need the tests' admin key.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["METROPULSE_API_ADMIN_KEY": testAdminKey].merging(environment) { $1 }
        ) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let text = String(decoding: handle.availableData, as: UTF8.self)
            self.output.withLock { $0 += text }
        }
        try process.run()
    }

    deinit {
        // A test that stops early must not leave its child running.
        if process.isRunning { process.terminate() }
    }

    /// SIGTERM, then waits up to `timeout` for a graceful exit. A child that does not exit in
    /// time fails the test with its last log lines and is killed; nil then.
    func stop(timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            let tail = output.withLock { $0 }.split(separator: "\n").suffix(80).joined(separator: "\n")
            Issue.record(
                "\(process.arguments?.first ?? "child") did not exit within \(timeout) of SIGTERM; its log:\n\(tail)",
                sourceLocation: sourceLocation)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits up to `timeout` for the child to exit by itself; its exit status, or nil (and a
    /// recorded issue with its last lines) when it is still running.
    func exitStatus(within timeout: Duration, sourceLocation: SourceLocation = #_sourceLocation) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard !process.isRunning else {
            let tail = output.withLock { $0 }.split(separator: "\n").suffix(40).joined(separator: "\n")
            Issue.record("the child did not exit within \(timeout); its log:\n\(tail)", sourceLocation: sourceLocation)
            return nil
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The API port the child logs once it listens.
    func apiPort() async throws -> Int {
        var port: Int?
        try await eventually("the child API listening") {
            let text = output.withLock { $0 }
            guard let range = text.range(of: "API listening on http://127.0.0.1:") else { return false }
            port = Int(text[range.upperBound...].prefix { $0.isNumber })
            return port != nil
        }
        return port!
    }
}

#if canImport(Glibc)
    import Glibc
#endif
