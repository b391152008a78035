import ArgumentParser
import Foundation
import Logging
import MetropulseApp
import MetropulseCore

/// `metropulse logs`: the central log from the command line, as `/api/system/logs` and the
/// console's logs page show it; read straight from the store.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Search the central log of every role (the system_logs table), oldest first; --follow for new lines.")

    @OptionGroup var options: RuntimeOptions

    @Option(help: "Only this role's lines (serve, scheduler, worker, api, sink) or one process's (host-pid).")
    var service: String?

    @Option(help: "Only lines at this level or above: trace, debug, info, notice, warning, error, critical.")
    var level: String?

    @Option(name: [.customShort("q"), .long], help: "Words that must all occur in the message or the metadata.")
    var query: String?

    @Option(help: "Only lines of the last DURATION (30s, 15m, 2h, 7d); default: every line kept.")
    var since: String?

    @Option(help: "At most this many lines (the newest).")
    var limit = 100

    @Flag(name: .shortAndLong, help: "Keep printing new lines until interrupted.")
    var follow = false

    @Flag(help: "One JSON object a line.")
    var json = false

    func run() async throws {
        let configuration = try options.load()
        var minimum: Logger.Level?
        if let level {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ValidationError(
                    "--level must be one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            minimum = parsed
        }
        var sinceMillis: Int64?
        if let since {
            guard let millis = ConfigurationLoader.milliseconds(since) else {
                throw ValidationError("--since must be a duration like 15m or 2h")
            }
            sinceMillis = WallClock.system.nowMillis - millis
        }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1 to 10000") }
        if let query, LogQuery.terms(query).isEmpty {
            throw ValidationError("--query must hold a word (letters or digits) to search for")
        }
        let logger = options.bootstrapLogging(configuration, toStandardError: true)
        let backend = try StorageBackend.make(configuration.database, logger: logger)
        defer { try? backend.close() }
        try await backend.prepare()
        let (json, follow, limit, service, query) = (self.json, self.follow, self.limit, self.service, self.query)
        let (minimumLevel, startMillis) = (minimum, sinceMillis)
        try await backend.whileRunning { backend in
            var seen = Set<Int64>()
            var from = startMillis
            var first = true
            while first || follow {
                let lines = try await backend.store.logs(
                    LogQuery(
                        service: service, minimumLevel: minimumLevel, text: query, since: from,
                        limit: first ? limit : 1_000))
                var out = ""
                for line in lines.reversed() where !seen.contains(line.id ?? -1) {
                    seen.insert(line.id ?? -1)
                    out += (json ? Self.jsonLine(line) : Self.textLine(line)) + "\n"
                    from = max(from ?? line.at, line.at)
                }
                FileHandle.standardOutput.write(Data(out.utf8))
                if seen.count > 100_000 { seen.removeAll() }
                first = false
                if follow { try await Task.sleep(for: .seconds(1)) }
            }
        }
    }

    static func textLine(_ line: LogRecord) -> String {
        let metadata = line.metadata.keys.sorted().map { "\($0)=\(line.metadata[$0] ?? "")" }.joined(separator: " ")
        return
            "\(Timestamp.iso8601(line.at)) \(line.level.rawValue) \(line.service) \(line.instance) \(line.logger): \(line.message)"
            + (metadata.isEmpty ? "" : " \(metadata)")
    }

    static func jsonLine(_ line: LogRecord) -> String {
        let object: [String: Any] = [
            "time": Timestamp.iso8601(line.at), "level": line.level.rawValue, "service": line.service,
            "instance": line.instance, "logger": line.logger, "message": line.message, "metadata": line.metadata,
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// `metropulse db summary`: what `/api/system/db/summary` answers, from the command line.
struct DatabaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "The store at a glance.", subcommands: [Summary.self])

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tasks by state, rows and size per table, observations per kind in the last hour and day.")

        @OptionGroup var options: RuntimeOptions

        func run() async throws {
            let configuration = try options.load()
            let logger = options.bootstrapLogging(configuration, toStandardError: true)
            let backend = try StorageBackend.make(configuration.database, logger: logger)
            defer { try? backend.close() }
            try await backend.prepare()
            let now = WallClock.system.nowMillis
            let (summary, stats) = try await backend.whileRunning { backend in
                (try await backend.store.summary(now: now), try await backend.queue.stats(now: now))
            }
            func bytes(_ n: Int64?) -> String {
                guard let n else { return "—" }
                let units = ["B", "KB", "MB", "GB", "TB"]
                var value = Double(n)
                var unit = 0
                while value >= 1_000, unit < units.count - 1 {
                    value /= 1_000
                    unit += 1
                }
                return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
            }
            var lines = [
                "\(summary.backend): \(bytes(summary.databaseBytes))"
                    + (summary.walBytes.map { ", write-ahead log \(bytes($0))" } ?? ""),
                "tasks: queued \(stats.queued), running \(stats.running), retrying \(stats.retrying), succeeded \(stats.succeeded), dead \(stats.dead)",
                "observations (last hour / last day):",
            ]
            for o in summary.observations {
                lines.append(
                    "  \(o.kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(o.lastHour) / \(o.lastDay)"
                        + (o.basis == .current ? "  (current state only)" : ""))
            }
            lines.append("tables (rows, size with indexes):")
            for t in summary.tables.sorted(by: { ($0.bytes ?? 0) > ($1.bytes ?? 0) }) {
                lines.append(
                    "  \(t.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(t.rowsEstimated ? "~" : "")\(t.rows)  \(bytes(t.bytes))"
                )
            }
            print(lines.joined(separator: "\n"))
        }
    }
}
