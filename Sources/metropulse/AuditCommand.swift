import ArgumentParser
import Foundation
import Logging
import MetropulseApp
import MetropulseCore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Check the store's invariants (after a crash, a kill or a full disk); exit 1 if one is broken.",
        discussion: """
            Checks that no slot was written twice, that every raw observation belongs to a run that \
            succeeded (nothing half-written), that every succeeded task has its run record, that no task \
            stays due or leased past --grace, and the database's own consistency check (SQLite). \
            Read-only; safe while the pipeline runs.
            """)

    @OptionGroup var options: RuntimeOptions

    @Option(help: "How long a task may stay due or leased before it counts as stuck: 90s, 5m...")
    var grace = "2m"

    @Flag(help: "Print the audit as JSON.")
    var json = false

    func run() async throws {
        let configuration = try options.load()
        guard let graceMillis = ConfigurationLoader.milliseconds(grace) else {
            throw ValidationError("--grace must be a duration like 90s or 5m")
        }
        let logger = options.bootstrapLogging(configuration, toStandardError: true)
        let backend = try StorageBackend.make(configuration.database, logger: logger)
        defer { try? backend.close() }
        try await backend.prepare()
        let audit = try await backend.whileRunning { backend in
            try await backend.audit(now: WallClock.system.nowMillis, grace: .milliseconds(graceMillis))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(audit), as: UTF8.self))
        } else {
            print("\(backend.description)\n\(audit.summary)")
        }
        if !audit.problems.isEmpty { throw ExitCode(1) }
    }
}
