import Logging
import MetropulseCore
import Testing

/// The central log (`LogStore`) on every store backend: lines go in and come back newest first,
/// filtered by role or process, level, words (full-text) and time; retention deletes old lines.
@Suite("Central log")
struct LogStoreConformanceTests {
    static func line(
        _ message: String, at: Int64, service: String = "worker", instance: String = "host-1",
        level: Logger.Level = .info, metadata: [String: String] = [:]
    ) -> LogRecord {
        LogRecord(
            at: at, service: service, instance: instance, level: level, logger: "metropulse", message: message,
            metadata: metadata)
    }

    static let lines: [LogRecord] = [
        line("starting", at: 1_000, service: "serve", instance: "host-9", metadata: ["database": "sqlite"]),
        line("fetch failed", at: 2_000, level: .warning, metadata: ["source": "velib-paris", "error": "timeout"]),
        line("commit failed", at: 3_000, level: .error, metadata: ["error": "disk full"]),
        line("migration applied", at: 4_000, service: "api", instance: "host-2", level: .notice),
        line("retention clean-up", at: 5_000, service: "scheduler", instance: "host-3", level: .debug),
        line("Vélib’ stations: 1 462 \"quoted\" \\ ✓", at: 6_000, metadata: ["url": "https://example.org/a?b=c"]),
    ]

    @Test("lines come back newest first, with every field as written", arguments: BackendFactory.all)
    func roundTrip(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.appendLogs(Self.lines)
        try await backend.store.appendLogs([])
        let read = try await backend.store.logs(LogQuery(limit: 100))
        #expect(read.map(\.at) == [6_000, 5_000, 4_000, 3_000, 2_000, 1_000])
        #expect(Set(read.compactMap(\.id)).count == 6, "every line has its own id")
        for (got, wrote) in zip(read, Self.lines.reversed()) {
            var got = got
            got.id = nil
            #expect(got == wrote)
        }
        #expect(try await backend.store.logs(LogQuery(limit: 2)).map(\.at) == [6_000, 5_000])
    }

    @Test("filters: role or process, level and above, time", arguments: BackendFactory.all)
    func filters(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.appendLogs(Self.lines)
        func ats(_ query: LogQuery) async throws -> [Int64] { try await backend.store.logs(query).map(\.at) }
        #expect(try await ats(LogQuery(service: "worker")) == [6_000, 3_000, 2_000])
        #expect(try await ats(LogQuery(service: "host-2")) == [4_000])
        #expect(try await ats(LogQuery(service: "nobody")) == [])
        #expect(try await ats(LogQuery(minimumLevel: .warning)) == [3_000, 2_000])
        #expect(try await ats(LogQuery(minimumLevel: .notice)) == [4_000, 3_000, 2_000])
        #expect(try await ats(LogQuery(minimumLevel: .trace)).count == 6)
        #expect(try await ats(LogQuery(since: 2_000, until: 4_000)) == [4_000, 3_000, 2_000])
        #expect(try await ats(LogQuery(service: "worker", minimumLevel: .error, since: 1)) == [3_000])
    }

    @Test("full-text search over the message and the metadata values", arguments: BackendFactory.all)
    func search(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.appendLogs(Self.lines)
        func ats(_ text: String, _ service: String? = nil) async throws -> [Int64] {
            try await backend.store.logs(LogQuery(service: service, text: text)).map(\.at)
        }
        #expect(try await ats("failed") == [3_000, 2_000])
        #expect(try await ats("FAILED commit") == [3_000], "every word must occur, in any case")
        #expect(try await ats("timeout") == [2_000], "a metadata value is searched")
        #expect(try await ats("velib") == [6_000, 2_000], "a word of a metadata value; accents are not told apart")
        #expect(try await ats("VÉLIB paris") == [2_000])
        #expect(try await ats("migr") == [4_000], "a word's beginning matches")
        #expect(try await ats("stations") == [6_000])
        #expect(try await ats("example org") == [6_000])
        #expect(try await ats("disk", "serve") == [])
        #expect(try await ats("nothing-like-this") == [])
        // Words only: the query syntax of neither index can be reached from a search.
        #expect(try await ats("\"failed OR * AND ( -commit :* & | !") == [])
        #expect(try await ats("failed\" OR \"starting") == [])
    }

    @Test("retention deletes lines before a time, from the search index too", arguments: BackendFactory.all)
    func prune(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        try await backend.store.appendLogs(Self.lines)
        #expect(try await backend.store.pruneLogs(before: 3_000) == 2)
        #expect(try await backend.store.logs(LogQuery()).map(\.at) == [6_000, 5_000, 4_000, 3_000])
        #expect(try await backend.store.logs(LogQuery(text: "starting")).isEmpty)
        #expect(try await backend.store.logs(LogQuery(text: "failed")).map(\.at) == [3_000])
        #expect(try await backend.store.pruneLogs(before: 3_000) == 0)
    }

    @Test("a batch of thousands goes in at once; a NUL or a huge line is stored", arguments: BackendFactory.all)
    func bulk(_ factory: BackendFactory) async throws {
        let backend = try await factory.make()
        defer { backend.cleanup() }
        let many = (0..<3_000).map { Self.line("line \($0)", at: Int64($0)) }
        try await backend.store.appendLogs(many)
        try await backend.store.appendLogs([Self.line("nul\u{0}here", at: 10_000)])
        #expect(try await backend.store.logs(LogQuery(limit: 1_000)).count == 1_000)
        #expect(try await backend.store.logs(LogQuery(text: "line 2999")).map(\.at) == [2_999])
        #expect(try await backend.store.logs(LogQuery(since: 10_000)).count == 1)
    }
}
