import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseCore

/// `metropulse verify`: the store's tiers agree; every difference printed, exit 1 when there is one.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Check that each source's latest tier equals its raw history and that runs, history and latest agree.",
        discussion: """
            Rebuilds the latest stations of every source from the raw history (read in fetch order, a page \
            at a time, merged as ingest merges it) and compares them with the latest tier; checks that \
            every latest row's run record succeeded, that each latest city reading is the newest raw one, \
            that each source's last run and last success match its run records, and the invariants of \
            `metropulse audit`. Prints every difference and exits 1 when there is one. Read-only.
            """)

    @OptionGroup var options: RuntimeOptions

    @Option(help: "How long a task may stay due or leased before it counts as stuck: 90s, 5m...")
    var grace = "2m"

    func run() async throws {
        let configuration = try options.load()
        guard let graceMillis = ConfigurationLoader.milliseconds(grace) else {
            throw ValidationError("--grace must be a duration like 90s or 5m")
        }
        let retention = configuration.retention.taskRunsMillis
        let (report, audit) = try await JobsCommand.withBackend(options) { backend, _ in
            let now = WallClock.system.nowMillis
            let report = try await StoreVerifier(store: backend.store, runRetentionMillis: retention).verify(now: now)
            let audit = try await backend.audit(now: now, grace: .milliseconds(graceMillis))
            return (report, audit)
        }
        for line in report.checked { print(line) }
        let differences = report.differences + audit.problems
        if differences.isEmpty {
            print("verified: the latest tier, the raw history and the run records agree")
        } else {
            print("\(differences.count) difference(s):")
            for difference in differences { print("  - \(difference)") }
            throw ExitCode(1)
        }
    }
}
