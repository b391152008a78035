import Foundation
import MetropulseCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One role process of a supervisor: started with the role's arguments, its output appended to
/// `<state>/<name>.log`, restarted with backoff when it exits without being asked to. Started and
/// restarted on the supervisor's loop, read by its control endpoint: the state is behind a lock.
final class SupervisedChild: Sendable {
    private struct State {
        var process: Process?
        var restarts = 0
        var startedAt: Int64 = 0
        /// When it may be started again after an exit; 0 when running or never started.
        var nextStartAt: Int64 = 0
        var backoffMillis: Int64 = 1_000
        /// Set once the supervisor asked it to stop: its exit is not a crash.
        var stopping = false
    }

    let name: String
    let role: String
    let arguments: [String]
    let environment: [String: String]
    let logPath: String
    private let binary: URL
    private let state = Mutex(State())

    init(
        name: String, role: String, binary: String, arguments: [String], environment: [String: String],
        stateDirectory: String
    ) {
        self.name = name
        self.role = role
        self.binary = URL(fileURLWithPath: binary)
        self.arguments = arguments
        self.environment = environment
        self.logPath = stateDirectory + "/\(name).log"
    }

    private var process: Process? { state.withLock { $0.process } }
    var hasStarted: Bool { process != nil }
    var isRunning: Bool { process?.isRunning ?? false }
    var pid: Int32? { isRunning ? process?.processIdentifier : nil }
    var restarts: Int { state.withLock { $0.restarts } }
    var startedAt: Int64 { state.withLock { $0.startedAt } }
    var stopping: Bool { state.withLock { $0.stopping } }

    func start(now: Int64) throws {
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try log.close()
        state.withLock { state in
            if state.process != nil { state.restarts += 1 }
            state.process = process
            state.startedAt = now
            state.nextStartAt = 0
        }
    }

    /// Called on each supervisor tick: notes an exit it did not ask for and when to start again
    /// (1 s, doubling to 30 s; back to 1 s after a minute up). Returns true when it is due.
    func dueForRestart(now: Int64) -> Bool {
        state.withLock { state in
            guard !state.stopping, let process = state.process, !process.isRunning else { return false }
            if state.nextStartAt == 0 {
                state.backoffMillis = now - state.startedAt > 60_000 ? 1_000 : min(30_000, state.backoffMillis * 2)
                state.nextStartAt = now + state.backoffMillis
            }
            return now >= state.nextStartAt
        }
    }

    /// The exit status of the last run, when it has exited.
    var exitStatus: Int32? {
        guard let process, !process.isRunning else { return nil }
        return process.terminationStatus
    }

    func signal(_ number: Int32) {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, number)
    }

    /// SIGTERM: in-flight tasks finish before it exits.
    func stop() {
        state.withLock { $0.stopping = true }
        signal(SIGTERM)
    }
}
