import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseCore

/// `metropulse backfill`: the demo city's past days, so charts, rankings and quality checks have
/// data from the first minute.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill", abstract: "Fetch the demo city's past days into the store (demo sources only).",
        discussion: """
            The demo city is a pure function of time, so its past can be asked for: every demo source is \
            fetched at each --step over the last --since by its connector, as a worker fetches it (a demo \
            feed server of this process answers for each past moment), and written with a run record. The \
            jobs (hourly and daily aggregates, rankings, quality) pick the history up at their next cycle. \
            Run it on a new store, before or alongside `serve`: the raw station history only moves \
            forward, so a source that already has stations is left out (city readings and vehicle \
            positions are filled in whatever is stored). A real source has no past to ask for: the \
            command says so and writes nothing.
            """)

    @OptionGroup var options: RuntimeOptions

    @Option(help: "How far back: 6h, 2d, 7d (at most 31d).")
    var since = "7d"

    @Option(help: "The time between two fetches of a source: 1m, 5m, 15m.")
    var step = "5m"

    @Option(name: .customLong("source"), help: "Only this demo source (repeat for several).")
    var sources: [String] = []

    func validate() throws {
        guard let window = ConfigurationLoader.milliseconds(since), window > 0, window <= 31 * 86_400_000 else {
            throw ValidationError("--since must be a duration from 1s to 31d, like 6h or 7d")
        }
        guard let stepMillis = ConfigurationLoader.milliseconds(step), stepMillis >= 10_000 else {
            throw ValidationError("--step must be a duration of at least 10s, like 5m")
        }
        if window / stepMillis > 200_000 {
            throw ValidationError("--since / --step is over 200,000 fetches per source")
        }
    }

    func run() async throws {
        let configuration = try options.load()
        let window = ConfigurationLoader.milliseconds(since)!
        let stepMillis = ConfigurationLoader.milliseconds(step)!
        let now = WallClock.system.nowMillis
        let chosen = sources.isEmpty ? nil : sources
        let demo = Backfill.sources(configuration, sourceIDs: chosen)
        if demo.isEmpty {
            let names = chosen.map { " (\($0.joined(separator: ", ")))" } ?? ""
            throw ValidationError(
                "no demo source to backfill\(names): backfill asks the demo city for its past days; a real source serves only its present, so it has no past to ask for"
            )
        }
        let bar = ProgressBar(interactive: isatty(STDERR_FILENO) != 0)
        let summary = try await JobsCommand.withBackend(options) { backend, logger in
            try await Backfill.run(
                configuration, backend: backend, from: now - window, until: now, step: stepMillis, sourceIDs: chosen,
                logger: logger
            ) { bar.show(done: $0.done, total: $0.total, unit: "fetches") }
        }
        let fetches = summary.runs.values.reduce(0, +)
        bar.finish(done: fetches + summary.failures.count, total: fetches + summary.failures.count, unit: "fetches")
        for line in summary.skipped { print("left out \(line)") }
        for (source, count) in summary.runs.sorted(by: { $0.key < $1.key }) { print("\(source): \(count) fetches") }
        print("backfilled \(fetches) fetches (\(summary.observations) observations) over the last \(since)")
        if !summary.failures.isEmpty {
            print("\(summary.failures.count) fetches failed:")
            for failure in summary.failures { print("  - \(failure)") }
            throw ExitCode(1)
        }
    }
}
