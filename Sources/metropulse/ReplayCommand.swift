import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseCore
import MetropulseKafka
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Read a window of the Kafka record topics into the store again (idempotent).",
        discussion: """
            Reads every partition of the chosen record topics from the first record written at or after \
            now minus --since, up to what the topics held when the replay started, and writes the records \
            into the configured store. What the store already has stays once. The sink's offsets are not \
            touched.
            """)

    @OptionGroup var options: RuntimeOptions

    @Option(
        name: .long,
        help:
            "Record topic to replay (records.stations, records.measurements, records.transit, records.runs); repeat for several. Default: all."
    )
    var topic: [String] = []

    @Option(name: .long, help: "How far back to start: 30m, 2h, 1d...")
    var since: String

    func run() async throws {
        let configuration = try options.load()
        guard let window = ConfigurationLoader.milliseconds(since) else {
            throw ValidationError("--since must be a duration like 30m, 2h or 1d")
        }
        let recordTopics = configuration.kafka.recordTopics
        var kinds: [RecordKind] = []
        for name in topic {
            guard let kind = recordTopics.kind(of: name) else {
                throw ValidationError(
                    "unknown record topic '\(name)': expected one of \(recordTopics.all.joined(separator: ", "))")
            }
            if !kinds.contains(kind) { kinds.append(kind) }
        }
        if kinds.isEmpty { kinds = RecordKind.allCases }
        let logger = options.bootstrapLogging(configuration, toStandardError: true)
        let bar = ProgressBar(interactive: isatty(STDERR_FILENO) != 0)
        let done = try await StorageBackend.replayRecords(
            configuration, kinds: kinds, since: WallClock.system.nowMillis - window,
            clientID: WorkerPool.defaultWorkerID(), logger: logger
        ) { bar.show($0) }
        bar.finish(done)
        print(
            "replayed \(done.read) messages from \(kinds.map(recordTopics.name).joined(separator: ", ")): "
                + "\(done.records) records written, \(done.rejected) unreadable")
    }
}

/// A progress bar on standard error: redrawn in place on a terminal, a line every few seconds
/// otherwise.
final class ProgressBar: Sendable {
    let interactive: Bool
    let started = ContinuousClock.now
    private let lastLine = Mutex(ContinuousClock.now - .seconds(60))

    init(interactive: Bool) {
        self.interactive = interactive
    }

    func show(_ progress: ReplayProgress) {
        show(done: Int(progress.read), total: Int(progress.total), unit: "messages")
    }

    func finish(_ progress: ReplayProgress) {
        finish(done: Int(progress.read), total: Int(progress.total), unit: "messages")
    }

    func show(done: Int, total: Int, unit: String) {
        let now = ContinuousClock.now
        let due = lastLine.withLock { last in
            guard interactive || now - last >= .seconds(5) else { return false }
            last = now
            return true
        }
        if due { write(line(done: done, total: total, unit: unit), final: false) }
    }

    func finish(done: Int, total: Int, unit: String) {
        write(line(done: done, total: total, unit: unit), final: true)
    }

    func line(done: Int, total: Int, unit: String) -> String {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let elapsed = max(0.001, (ContinuousClock.now - started).seconds)
        let rate = Int(Double(done) / elapsed)
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "] "
            + String(format: "%3d%%", Int(fraction * 100)) + "  \(done)/\(total) \(unit)  \(rate)/s"
    }

    private func write(_ line: String, final: Bool) {
        let text = interactive ? "\r" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
