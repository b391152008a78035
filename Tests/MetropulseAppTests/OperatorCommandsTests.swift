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
