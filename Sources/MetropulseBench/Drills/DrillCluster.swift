import Foundation
import MetropulseCore

/// The processes of a drill: `serve` alone on SQLite; a scheduler, three workers and an API on
/// PostgreSQL. Each logs to its own file in the drill's folder.
final class DrillCluster: Sendable {
    let processes: [DrillProcess]
    /// The processes the kill drill picks from: the workers (`serve` on SQLite).
    let victims: [DrillProcess]

    init(binary: String, folder: String, environment: [String: String], onPostgres: Bool) {
        func child(_ name: String, _ arguments: [String]) -> DrillProcess {
            DrillProcess(
                name: name, binary: binary, arguments: arguments, environment: environment,
                logPath: "\(folder)/\(name).log")
        }
        if onPostgres {
            let workers = (1...3).map { child("worker-\($0)", ["worker", "--workers", "4", "--port", "0"]) }
            processes =
                [child("scheduler", ["scheduler", "--port", "0"])] + workers + [child("api", ["api", "--port", "0"])]
            victims = workers
        } else {
            let serve = child("serve", ["serve", "--port", "0", "--workers", "8"])
            processes = [serve]
            victims = [serve]
        }
    }

    /// The line a process logs once it works.
    static func readyLine(_ process: DrillProcess) -> String {
        switch process.arguments.first {
        case "worker": "worker pool started"
        case "scheduler": "scheduler started"
        default: "API listening on"
        }
    }

    /// Starts whatever is not running and waits until every process works.
    func startAll() async throws {
        for process in processes where !process.isRunning { try process.start() }
        for process in processes { try await ready(process) }
    }

    func ready(_ process: DrillProcess) async throws {
        try await process.waitFor(Self.readyLine(process), timeout: .seconds(90))
    }

    /// SIGTERM to every process at once; each must exit 0 and its log name no refused commit.
    func stopAll(report: inout DrillReport) async throws {
        let running = processes.filter(\.isRunning)
        for process in running { kill(process.pid, SIGTERM) }
        for process in running {
            let status = try await process.exitAfterSIGTERM(timeout: .seconds(60))
            if status != 0 {
                report.failures.append("\(process.name) exited \(status) after SIGTERM:\n\(process.tail())")
            }
        }
    }

    func killAll() {
        for process in processes where process.isRunning { kill(process.pid, SIGKILL) }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
