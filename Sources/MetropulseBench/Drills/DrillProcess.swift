import Foundation
import MetropulseCore

#if canImport(Glibc)
    import Glibc
#endif

/// One `metropulse` child of a fault drill: started with a role's arguments, its output appended
/// to a log file, killed or stopped by the drill, and started again with the same arguments.
// @unchecked: `process` and `logStart` change only in `start()`, on the one drill task.
final class DrillProcess: @unchecked Sendable {
    let name: String
    let arguments: [String]
    let environment: [String: String]
    let logPath: String
    private(set) var process = Process()
    /// Where this start's output begins in the log.
    private var logStart: UInt64 = 0
    private(set) var starts = 0

    init(name: String, binary: String, arguments: [String], environment: [String: String], logPath: String) {
        self.name = name
        self.arguments = arguments
        self.environment = environment
        self.logPath = logPath
        process.executableURL = URL(fileURLWithPath: binary)
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func start() throws {
        let binary = process.executableURL
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        logStart = try log.seekToEnd()
        process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try log.close()
        starts += 1
    }

    /// This start's output so far.
    func output() -> String {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: logStart)
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Waits until this start's output holds `line` (a role's ready line).
    func waitFor(_ line: String, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !output().contains(line) {
            guard process.isRunning else {
                throw DrillFailure("\(name) exited (\(process.terminationStatus)) before '\(line)':\n\(tail())")
            }
            guard ContinuousClock.now < deadline else {
                throw DrillFailure("\(name) did not say '\(line)' within \(timeout):\n\(tail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The API port this start logged.
    func apiPort(timeout: Duration) async throws -> Int {
        let marker = "API listening on http://127.0.0.1:"
        try await waitFor(marker, timeout: timeout)
        let text = output()
        guard let range = text.range(of: marker), let port = Int(text[range.upperBound...].prefix { $0.isNumber })
        else { throw DrillFailure("\(name) logged no API port") }
        return port
    }

    func kill9() async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        await waitForExit(timeout: .seconds(30))
    }

    /// SIGTERM and the exit status of a graceful stop; a child still running after `timeout` is
    /// killed and reported.
    func terminate(timeout: Duration) async throws -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        return try await exitAfterSIGTERM(timeout: timeout)
    }

    /// The exit status of a process already sent SIGTERM (see `terminate`).
    func exitAfterSIGTERM(timeout: Duration) async throws -> Int32 {
        await waitForExit(timeout: timeout)
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            await waitForExit(timeout: .seconds(30))
            throw DrillFailure("\(name) did not exit within \(timeout) of SIGTERM:\n\(tail())")
        }
        return process.terminationStatus
    }

    private func waitForExit(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The last lines of this start's output, for a failure message.
    func tail(_ lines: Int = 30) -> String {
        output().split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// A drill's verdict when something it checks does not hold.
public struct DrillFailure: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
