import ArgumentParser
import Foundation
import Logging
import MetropulseApp
import MetropulseBench
import MetropulseCore

struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Fault drills: kill -9, SIGTERM under load, a full disk; then check the store (exit 1 on a problem).",
        discussion: """
            Runs real metropulse processes against a local feed server, in a folder (and on PostgreSQL a \
            database) of the drill's own: serve on SQLite, or with --postgres a scheduler, three workers \
            and an API. After the faults, every process gets SIGTERM and must exit 0, then the store is \
            audited: no task lost or stuck, no slot written twice, nothing half-written. The long forms \
            are the defaults (100 kills, 10 SIGTERM rounds); CI runs short ones (scripts/drill).
            """)

    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case kill, sigterm
        case diskFull = "disk-full"
    }

    @Argument(help: "kill, sigterm or disk-full (disk-full: SQLite only, needs root to mount a small tmpfs).")
    var scenario: Scenario

    @Option(help: "Run on this PostgreSQL server (a database of the drill's own, dropped after).")
    var postgres: String?

    @Option(help: "Kills (kill) or SIGTERM rounds (sigterm); default 100 and 10.")
    var rounds: Int?

    @Option(help: "GBFS sources polled every second (and a quarter as many GTFS-Realtime ones).")
    var sources = 12

    @Option(help: "Seed of the random moments.")
    var seed: UInt64 = 1

    @Option(help: "Where to make the drill's folder.")
    var directory = FileManager.default.temporaryDirectory.path

    @Flag(help: "Keep the folder and the database afterwards (they are kept anyway on failure).")
    var keep = false

    func run() async throws {
        let kind = FaultDrill.Scenario(rawValue: scenario.rawValue)!
        guard (1...1_000).contains(sources) else { throw ValidationError("--sources must be from 1 to 1000") }
        let rounds = self.rounds ?? (kind == .kill ? 100 : 10)
        guard (1...10_000).contains(rounds) else { throw ValidationError("--rounds must be from 1 to 10000") }
        var logger = Logger(label: "metropulse-drill")
        logger.logLevel = .error
        let drill = FaultDrill(
            options: .init(
                scenario: kind, postgresURL: postgres, rounds: rounds, sources: sources,
                binary: Self.executablePath, directory: directory, seed: seed, keep: keep),
            logger: logger, say: Self.say)
        let report = try await drill.run()
        Self.say(report.description)
        if !report.problems.isEmpty { throw ExitCode(1) }
    }

    /// A line on standard output at once (the drill's progress, also when piped to a file).
    @Sendable static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// This binary: the children run the same one.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
