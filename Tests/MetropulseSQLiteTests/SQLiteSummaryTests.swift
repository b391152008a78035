import Foundation
import GRDB
import Logging
import MetropulseCore
import Testing

@testable import MetropulseSQLite

/// What only the SQLite backend does for the database summary and the central log: sizes from
/// `dbstat`, the search index's shadow tables counted under it, the write-ahead log's size.
@Suite("SQLite: the summary's sizes and the central log's search index")
struct SQLiteSummaryTests {
    func backend() throws -> (SQLiteBackend, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mp-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return (try SQLiteBackend(path: folder.appendingPathComponent("s.sqlite").path), folder)
    }

    @Test("the search index's shadow tables count under it; sizes come from dbstat; the WAL is measured")
    func sizes() async throws {
        let (store, folder) = try backend()
        defer {
            try? store.close()
            try? FileManager.default.removeItem(at: folder)
        }
        try await store.appendLogs(
            (0..<2_000).map {
                LogRecord(
                    at: Int64($0), service: "worker", instance: "h-1", level: .info, logger: "metropulse",
                    message: "line \($0) of a long enough message to fill some pages")
            })
        let summary = try await store.summary(now: 10_000)
        let names = Set(summary.tables.map(\.name))
        #expect(names.contains("system_logs_text"))
        #expect(!names.contains { $0.hasPrefix("system_logs_text_") }, "shadow tables fold into their index")
        #expect(!names.contains { $0.hasPrefix("sqlite_") || $0 == "grdb_migrations" })
        let logs = try #require(summary.tables.first { $0.name == "system_logs" })
        let index = try #require(summary.tables.first { $0.name == "system_logs_text" })
        #expect(logs.rows == 2_000 && !logs.rowsEstimated)
        #expect((logs.bytes ?? 0) > 100_000 && (index.bytes ?? 0) > 0)
        let total = summary.tables.reduce(Int64(0)) { $0 + ($1.bytes ?? 0) }
        #expect(total <= summary.databaseBytes, "the tables' pages are pages of the file")
        #expect((summary.walBytes ?? 0) > 0, "the lines were written through the write-ahead log")
    }

    @Test("the search index holds the words of the message and of the metadata values, accents folded")
    func searchText() async throws {
        let (store, folder) = try backend()
        defer {
            try? store.close()
            try? FileManager.default.removeItem(at: folder)
        }
        try await store.appendLogs([
            LogRecord(
                at: 1, service: "api", instance: "h", level: .notice, logger: "m", message: "Vélib’ stations",
                metadata: ["url": "https://example.org/gbfs.json"])
        ])
        let text = try await store.pool.read { db in
            try String.fetchOne(db, sql: "SELECT text FROM system_logs_text")
        }
        #expect(text == "velib stations https example org gbfs json")
    }
}
