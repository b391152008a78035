import ArgumentParser
import Foundation
import MetropulseApp
import MetropulseCore

/// `metropulse export`: a dataset as CSV or NDJSON, a page at a time, with a progress bar.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a dataset as CSV or NDJSON (the raw history or the gold tier).",
        discussion: """
            Datasets: \(ExportDataset.allCases.map { "\($0.rawValue) (\($0.summary))" }.joined(separator: "; ")). \
            Reads the configured store a page at a time, so an export of any size runs in constant memory. \
            Times are ISO 8601. A progress bar goes to standard error.
            """)

    @OptionGroup var options: RuntimeOptions

    @Argument(help: "The dataset: \(ExportDataset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: String

    @Option(help: "csv (a header row, the default) or ndjson.")
    var format: String = "csv"

    @Option(help: "Only this source's rows.")
    var source: String?

    @Option(help: "Only rows at or after this time: an ISO 8601 time, or a duration back from now (30m, 2h, 7d).")
    var since: String?

    @Option(help: "Only rows before this time: an ISO 8601 time, or a duration back from now.")
    var until: String?

    @Option(name: [.short, .long], help: "The file to write (standard output when absent).")
    var output: String?

    static func time(_ text: String, now: Int64) -> Int64? {
        if let millis = Timestamp.parse(text) { return millis }
        return ConfigurationLoader.milliseconds(text).map { now - $0 }
    }

    func validate() throws {
        guard ExportDataset(rawValue: dataset) != nil else {
            let names = ExportDataset.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown dataset '\(dataset)': expected one of \(names)")
        }
        guard ExportFormat(rawValue: format) != nil else { throw ValidationError("--format must be csv or ndjson") }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, Self.time(value, now: 0) == nil {
                throw ValidationError("\(name) must be an ISO 8601 time or a duration like 30m, 2h or 7d")
            }
        }
    }

    func run() async throws {
        let dataset = ExportDataset(rawValue: dataset)!
        let format = ExportFormat(rawValue: format)!
        let now = WallClock.system.nowMillis
        let filter = ExportFilter(
            sourceID: source, since: since.flatMap { Self.time($0, now: now) },
            until: until.flatMap { Self.time($0, now: now) })
        if let since = filter.since, let until = filter.until, since > until {
            throw ValidationError("--since must not be after --until")
        }
        let handle: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil) else {
                throw ValidationError("cannot write \(output)")
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        } else {
            handle = FileHandle.standardOutput
        }
        let target = output
        let written = try await JobsCommand.withBackend(options) { backend, _ -> Int in
            let exporter = Exporter(store: backend.store)
            let total = try await exporter.estimate(dataset, filter: filter)
            let bar = ProgressBar(interactive: isatty(STDERR_FILENO) != 0)
            let columns = dataset.header
            handle.write(Data(format.header(columns).utf8))
            var done = 0
            var bytes: [UInt8] = []
            try await exporter.export(dataset, filter: filter) { rows in
                bytes.removeAll(keepingCapacity: true)
                format.encode(rows, columns: columns, into: &bytes)
                handle.write(Data(bytes))
                done += rows.count
                bar.show(done: done, total: max(total, done), unit: "rows")
            }
            bar.finish(done: done, total: max(total, done), unit: "rows")
            return done
        }
        if target != nil { try handle.close() }
        let place = target.map { " to \($0)" } ?? ""
        FileHandle.standardError.write(Data("exported \(written) rows of \(dataset.rawValue)\(place)\n".utf8))
    }
}
